//! strata's ping and identify against rust-libp2p 0.57's, both directions,
//! over TCP + Noise + yamux and over TCP + Noise + mplex: pings succeed
//! with RTTs each way, and each side receives, verifies and records the
//! other's identify info. strata offers both muxers (yamux first) and the
//! rust node only one, so each run also shows the negotiation landing on
//! the one the peer has.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_testkit::{eventually, within};

use futures::StreamExt as _;
use libp2p::{
    identify, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
};
use strata::{Keypair, Multiaddr, PeerId, multiaddr::Component};
use tokio::sync::mpsc;

#[path = "support/rust_peer.rs"]
mod rust_peer;

#[derive(NetworkBehaviour)]
struct Behaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
}

/// What the rust-libp2p node reports.
enum Seen {
    Listening(libp2p::Multiaddr),
    Pong(libp2p::PeerId, Duration),
    Identified(libp2p::PeerId, Box<identify::Info>),
}

/// A rust-libp2p node with ping and identify; optionally dials `dial`.
fn rust_node(
    listen: bool,
    dial: Option<libp2p::Multiaddr>,
    muxer: TheirMuxer,
) -> (libp2p::PeerId, mpsc::UnboundedReceiver<Seen>) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = rust_peer::swarm_with(keypair, muxer, |key| Behaviour {
        ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(200))),
        identify: identify::Behaviour::new(identify::Config::new("ipfs/0.1.0".into(), key.public())),
    });
    if listen {
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
    }
    if let Some(addr) = dial {
        swarm.dial(addr).unwrap();
    }
    let (seen, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let report = match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), .. })) => {
                    Seen::Pong(peer, rtt)
                }
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                    peer_id, info, ..
                })) => Seen::Identified(peer_id, Box::new(info)),
                _ => continue,
            };
            if seen.send(report).is_err() {
                return;
            }
        }
    });
    (peer, rx)
}

use rust_peer::{TheirMuxer, ours, ours_addr, theirs_addr};

/// A strata node with ping and identify, listening on loopback.
async fn strata_node() -> (strata::Host, strata::ping::Ping, strata::identify::Identify) {
    let host = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let ping = strata::ping::Ping::attach(&host, strata::ping::Config::default()).unwrap();
    let identify = strata::identify::Identify::attach(&host, strata::identify::Config::default()).unwrap();
    (host, ping, identify)
}

/// Waits for the rust node to report a pong from, and the identify info
/// of, `strata`; checks the info. `observed` is where strata sees the rust
/// node, when the test knows it (the address strata dialed); otherwise the
/// shape of the address is checked.
async fn rust_side_checks(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    strata: &strata::Host,
    observed: Option<&Multiaddr>,
) {
    let (mut pong, mut info) = (None, None);
    while pong.is_none() || info.is_none() {
        match within(seen.recv()).await.unwrap() {
            Seen::Pong(peer, rtt) if ours(peer) == strata.peer_id() => pong = Some(rtt),
            Seen::Identified(peer, received) if ours(peer) == strata.peer_id() => info = Some(received),
            _ => {}
        }
    }
    let info = info.unwrap();
    assert!(pong.unwrap() > Duration::ZERO, "rust-libp2p pinged strata");
    assert_eq!(info.agent_version, concat!("strata/", env!("CARGO_PKG_VERSION")));
    assert_eq!(info.protocol_version, "ipfs/0.1.0");
    assert_eq!(info.public_key.to_peer_id().to_bytes(), strata.peer_id().to_bytes());
    let protocols: Vec<String> = info.protocols.iter().map(ToString::to_string).collect();
    for expected in ["/ipfs/ping/1.0.0", "/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0"] {
        assert!(protocols.contains(&expected.to_owned()), "{protocols:?}");
    }
    let listen: Vec<Multiaddr> = info.listen_addrs.iter().map(ours_addr).collect();
    assert_eq!(listen, strata.listen_addrs());
    let seen_at = ours_addr(&info.observed_addr);
    if let Some(observed) = observed {
        assert_eq!(&seen_at, observed);
    } else {
        let parts: Vec<_> = seen_at.iter().collect();
        assert!(
            matches!(parts.as_slice(), [Component::Ip4(ip), Component::Tcp(port)] if ip.is_loopback() && *port != 0)
        );
    }
}

/// Checks what strata learned of the rust node.
fn strata_side_checks(info: &strata::identify::Info, rust_peer: libp2p::PeerId, rust_listen: Option<&Multiaddr>) {
    assert!(info.agent_version.as_deref().unwrap().starts_with("rust-libp2p/"), "{:?}", info.agent_version);
    assert_eq!(info.protocol_version.as_deref(), Some("ipfs/0.1.0"));
    assert_eq!(info.public_key.clone().unwrap().to_peer_id(), ours(rust_peer));
    for expected in ["/ipfs/ping/1.0.0", "/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0"] {
        assert!(info.protocols.contains(&expected.to_owned()), "{:?}", info.protocols);
    }
    if let Some(listen) = rust_listen {
        assert!(info.listen_addrs.contains(listen), "{:?}", info.listen_addrs);
    }
    let observed: Vec<_> = info.observed_addr.as_ref().unwrap().iter().collect();
    assert!(matches!(observed.as_slice(), [Component::Ip4(ip), Component::Tcp(_)] if ip.is_loopback()), "{observed:?}");
}

async fn strata_identify_of(
    identify: &strata::identify::Identify,
    peer: PeerId,
    host: &strata::Host,
) -> strata::identify::Info {
    // The record may have arrived before we looked: ask again, which is
    // also what a caller would do.
    let info = within(identify.identify(peer)).await.unwrap();
    assert_eq!(host.peer_info(peer).unwrap().agent_version, info.agent_version, "recorded in the peer store");
    info
}

async fn strata_dials_rust_libp2p_over(muxer: TheirMuxer) {
    let (rust_peer, mut seen) = rust_node(true, None, muxer);
    let Seen::Listening(rust_addr) = within(seen.recv()).await.unwrap() else { panic!("listening first") };
    let (host, ping, identify) = strata_node().await;
    let peer = within(host.dial(ours_addr(&rust_addr).with_p2p(ours(rust_peer)).unwrap())).await.unwrap();

    for _ in 0..3 {
        let rtt = within(ping.ping(peer)).await.unwrap();
        assert!(rtt > Duration::ZERO);
    }
    let info = strata_identify_of(&identify, peer, &host).await;
    strata_side_checks(&info, rust_peer, Some(&ours_addr(&rust_addr)));
    // strata sees the rust node at the address it dialed, and says so.
    rust_side_checks(&mut seen, &host, Some(&ours_addr(&rust_addr))).await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_over_yamux() {
    strata_dials_rust_libp2p_over(TheirMuxer::Yamux).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_over_mplex() {
    strata_dials_rust_libp2p_over(TheirMuxer::Mplex).await;
}

async fn rust_libp2p_dials_strata_over(muxer: TheirMuxer) {
    let (host, ping, identify) = strata_node().await;
    let addr = host.listen_addrs()[0].clone().with_p2p(host.peer_id()).unwrap();
    let (rust_peer, mut seen) = rust_node(false, Some(theirs_addr(&addr)), muxer);
    let peer = ours(rust_peer);
    eventually("the rust node's dial arrives", async || host.is_connected(peer)).await;

    for _ in 0..3 {
        let rtt = within(ping.ping(peer)).await.unwrap();
        assert!(rtt > Duration::ZERO);
    }
    let info = strata_identify_of(&identify, peer, &host).await;
    strata_side_checks(&info, rust_peer, None);
    // strata sees the rust node at its connection's source: an ephemeral port.
    rust_side_checks(&mut seen, &host, None).await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_over_yamux() {
    rust_libp2p_dials_strata_over(TheirMuxer::Yamux).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_over_mplex() {
    rust_libp2p_dials_strata_over(TheirMuxer::Mplex).await;
}
