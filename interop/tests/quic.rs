//! strata's QUIC against rust-libp2p 0.57's (libp2p-quic: quinn with
//! libp2p-tls), both directions: the TLS handshake authenticates each side
//! to the other, ping and identify run over QUIC streams each way, and a
//! stream carries 1 MiB and back. A dial of the rust node under another
//! peer id fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_testkit::{eventually, within};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    StreamProtocol, identify, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
};
use strata::{Keypair, Multiaddr, PeerId};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};

#[path = "support/rust_peer.rs"]
mod rust_peer;

use rust_peer::{ours, ours_addr, theirs_addr};

const ECHO: &str = "/strata/interop/echo/1.0.0";

#[derive(NetworkBehaviour)]
struct Behaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    stream: libp2p_stream::Behaviour,
}

enum Seen {
    Listening(libp2p::Multiaddr),
    Connected(libp2p::PeerId),
    Pong(libp2p::PeerId),
    Identified(libp2p::PeerId, Box<identify::Info>),
    DialFailed,
}

/// A rust-libp2p QUIC node with ping, identify and an echo protocol;
/// listens on loopback if `listen`, dials `dial` if given.
fn rust_node(listen: bool, dial: Option<libp2p::Multiaddr>) -> (libp2p::PeerId, mpsc::UnboundedReceiver<Seen>) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = rust_peer::swarm_quic(keypair, |key| Behaviour {
        ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(200))),
        identify: identify::Behaviour::new(identify::Config::new("ipfs/0.1.0".into(), key.public())),
        stream: libp2p_stream::Behaviour::new(),
    });
    let mut incoming = swarm.behaviour().stream.new_control().accept(StreamProtocol::new(ECHO)).unwrap();
    tokio::spawn(async move {
        while let Some((_, mut stream)) = incoming.next().await {
            tokio::spawn(async move {
                let mut data = Vec::new();
                stream.read_to_end(&mut data).await.unwrap();
                stream.write_all(&data).await.unwrap();
                stream.close().await.unwrap();
            });
        }
    });
    if listen {
        swarm.listen_on("/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()).unwrap();
    }
    if let Some(addr) = dial {
        swarm.dial(addr).unwrap();
    }
    let (seen, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let report = match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                SwarmEvent::ConnectionEstablished { peer_id, .. } => Seen::Connected(peer_id),
                SwarmEvent::OutgoingConnectionError { .. } => Seen::DialFailed,
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(_), .. })) => {
                    Seen::Pong(peer)
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

/// A default strata host (TCP and QUIC) listening on QUIC, with ping and
/// identify.
async fn strata_node() -> (strata::Host, strata::ping::Ping, strata::identify::Identify) {
    let host = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap())
        .build()
        .await
        .unwrap();
    let ping = strata::ping::Ping::attach(&host, strata::ping::Config::default()).unwrap();
    let identify = strata::identify::Identify::attach(&host, strata::identify::Config::default()).unwrap();
    (host, ping, identify)
}

/// Waits until the rust node has pinged and identified `strata`; checks
/// that it saw strata's QUIC address.
async fn rust_saw(seen: &mut mpsc::UnboundedReceiver<Seen>, strata: &strata::Host) {
    let (mut pong, mut info) = (false, None);
    while !pong || info.is_none() {
        match within(seen.recv()).await.unwrap() {
            Seen::Pong(peer) if ours(peer) == strata.peer_id() => pong = true,
            Seen::Identified(peer, received) if ours(peer) == strata.peer_id() => info = Some(received),
            _ => {}
        }
    }
    let info = info.unwrap();
    assert_eq!(info.public_key.to_peer_id().to_bytes(), strata.peer_id().to_bytes());
    let listen: Vec<Multiaddr> = info.listen_addrs.iter().map(ours_addr).collect();
    assert_eq!(listen, strata.listen_addrs());
    assert!(info.observed_addr.to_string().ends_with("/quic-v1"), "{}", info.observed_addr);
}

/// strata's side: pings, identify of the rust node, and 1 MiB echoed.
async fn strata_uses(
    host: &strata::Host,
    ping: &strata::ping::Ping,
    identify: &strata::identify::Identify,
    peer: PeerId,
) {
    for _ in 0..3 {
        within(ping.ping(peer)).await.unwrap();
    }
    let info = within(identify.identify(peer)).await.unwrap();
    assert!(info.agent_version.as_deref().unwrap().starts_with("rust-libp2p/"), "{:?}", info.agent_version);
    assert!(info.listen_addrs.iter().all(|addr| addr.to_string().ends_with("/quic-v1")), "{:?}", info.listen_addrs);
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let mut stream = within(host.open_stream(peer, &[ECHO])).await.unwrap();
    stream.write_all(&data).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    within(stream.read_to_end(&mut back)).await.unwrap();
    assert!(back == data, "1 MiB came back changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_over_quic() {
    let (rust_peer, mut seen) = rust_node(true, None);
    let Seen::Listening(rust_addr) = within(seen.recv()).await.unwrap() else { panic!("listening first") };
    let (host, ping, identify) = strata_node().await;
    let addr = ours_addr(&rust_addr);
    assert!(addr.to_string().ends_with("/quic-v1"), "{addr}");
    let peer = within(host.dial(addr.with_p2p(ours(rust_peer)).unwrap())).await.unwrap();
    assert_eq!(peer, ours(rust_peer));
    strata_uses(&host, &ping, &identify, peer).await;
    rust_saw(&mut seen, &host).await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_over_quic() {
    let (host, ping, identify) = strata_node().await;
    let addr = host.listen_addrs()[0].clone().with_p2p(host.peer_id()).unwrap();
    let (rust_peer, mut seen) = rust_node(false, Some(theirs_addr(&addr)));
    let peer = ours(rust_peer);
    eventually("the rust node's dial arrives", async || host.is_connected(peer)).await;
    rust_saw(&mut seen, &host).await;
    strata_uses(&host, &ping, &identify, peer).await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dials_under_the_wrong_peer_id_fail_both_ways() {
    // strata dials the rust node expecting someone else.
    let (_, mut seen) = rust_node(true, None);
    let Seen::Listening(rust_addr) = within(seen.recv()).await.unwrap() else { panic!("listening first") };
    let (host, _ping, _identify) = strata_node().await;
    let wrong = ours_addr(&rust_addr).with_p2p(PeerId::random()).unwrap();
    assert!(within(host.dial(wrong)).await.is_err());

    // The rust node dials strata expecting someone else.
    let addr = host.listen_addrs()[0].clone().with_p2p(PeerId::random()).unwrap();
    let (_, mut seen) = rust_node(false, Some(theirs_addr(&addr)));
    loop {
        match within(seen.recv()).await.unwrap() {
            Seen::DialFailed => break,
            Seen::Connected(peer) => panic!("rust-libp2p connected to {peer} under the wrong peer id"),
            _ => {}
        }
    }
    host.shutdown().await;
}
