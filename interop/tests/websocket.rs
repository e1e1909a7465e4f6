//! strata's WebSocket transport against rust-libp2p 0.57's
//! (libp2p-websocket: soketto over libp2p-tcp), both directions over
//! `/ws`: the HTTP upgrade, then Noise and yamux over binary frames, then
//! ping and identify each way and a stream echoing 1 MiB (so frames of
//! both sides' sizes cross).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_testkit::{eventually, within};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    StreamProtocol, Transport as _, identify, ping,
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
    Pong(libp2p::PeerId),
    Identified(libp2p::PeerId, Box<identify::Info>),
}

/// A rust-libp2p node on WebSocket over TCP (Noise, yamux) with ping,
/// identify and an echo protocol; listens on loopback `/ws` if `listen`,
/// dials `dial` if given.
fn rust_node(listen: bool, dial: Option<libp2p::Multiaddr>) -> (libp2p::PeerId, mpsc::UnboundedReceiver<Seen>) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_other_transport(|key| {
            let tcp = libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                libp2p::websocket::Config::new(tcp)
                    .upgrade(libp2p::core::upgrade::Version::V1)
                    .authenticate(libp2p::noise::Config::new(key)?)
                    .multiplex(libp2p::yamux::Config::default()),
            )
        })
        .expect("WebSocket + Noise + yamux")
        .with_behaviour(|key| Behaviour {
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(200))),
            identify: identify::Behaviour::new(identify::Config::new("ipfs/0.1.0".into(), key.public())),
            stream: libp2p_stream::Behaviour::new(),
        })
        .expect("the behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_hours(1)))
        .build();
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
        swarm.listen_on("/ip4/127.0.0.1/tcp/0/ws".parse().unwrap()).unwrap();
    }
    if let Some(addr) = dial {
        swarm.dial(addr).unwrap();
    }
    let (seen, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let report = match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                SwarmEvent::OutgoingConnectionError { error, .. } => panic!("the rust node's dial failed: {error}"),
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

/// A default strata host (TCP, WebSocket and QUIC) listening on `/ws`,
/// with ping and identify.
async fn strata_node() -> (strata::Host, strata::ping::Ping, strata::identify::Identify) {
    let host = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0/ws".parse().unwrap())
        .build()
        .await
        .unwrap();
    let ping = strata::ping::Ping::attach(&host, strata::ping::Config::default()).unwrap();
    let identify = strata::identify::Identify::attach(&host, strata::identify::Config::default()).unwrap();
    (host, ping, identify)
}

/// Waits until the rust node has pinged and identified `strata`; checks
/// that it was told strata's `/ws` address and observed a `/ws` one.
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
    assert!(info.observed_addr.to_string().ends_with("/ws"), "{}", info.observed_addr);
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
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let mut stream = within(host.open_stream(peer, &[ECHO])).await.unwrap();
    stream.write_all(&data).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    within(stream.read_to_end(&mut back)).await.unwrap();
    assert!(back == data, "1 MiB came back changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_over_ws() {
    let (rust_peer, mut seen) = rust_node(true, None);
    let Seen::Listening(rust_addr) = within(seen.recv()).await.unwrap() else { panic!("listening first") };
    let (host, ping, identify) = strata_node().await;
    let addr = ours_addr(&rust_addr);
    assert!(addr.to_string().ends_with("/ws"), "{addr}");
    let peer = within(host.dial(addr.with_p2p(ours(rust_peer)).unwrap())).await.unwrap();
    assert_eq!(peer, ours(rust_peer));
    strata_uses(&host, &ping, &identify, peer).await;
    rust_saw(&mut seen, &host).await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_over_ws() {
    let (host, ping, identify) = strata_node().await;
    let addr = host.listen_addrs()[0].clone();
    assert!(addr.to_string().ends_with("/ws"), "{addr}");
    let (rust_peer, mut seen) = rust_node(false, Some(theirs_addr(&addr.with_p2p(host.peer_id()).unwrap())));
    let peer = ours(rust_peer);
    eventually("the rust node's dial arrives", async || host.is_connected(peer)).await;
    rust_saw(&mut seen, &host).await;
    strata_uses(&host, &ping, &identify, peer).await;
    host.shutdown().await;
}
