//! strata's circuit relay v2 against rust-libp2p 0.57's (libp2p-relay),
//! over TCP on 127.0.0.1, both ways round:
//!
//! 1. a strata node reserves on a rust-libp2p relay, and a rust-libp2p
//!    node (relay client transport) dials it through that relay and pings
//!    it;
//! 2. a rust-libp2p node reserves on a strata relay, and a strata node
//!    dials it through that relay and pings it.
//!
//! Each time the relayed connection is established with the right peer id
//! on both sides, pings cross it, and strata marks it limited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::{
    ping,
    swarm::{NetworkBehaviour, SwarmEvent},
};
use strata::{
    Host, Keypair, Multiaddr,
    host::{Upgrader, is_relayed},
    noise, relay, yamux,
};
use strata_testkit::{address_of, builder, eventually, within};
use tokio::sync::mpsc;

#[path = "support/rust_peer.rs"]
mod rust_peer;

#[path = "support/rust_relay.rs"]
mod rust_relay;

use rust_peer::{ours, ours_addr, theirs, theirs_addr};

/// What a rust-libp2p node reports.
#[derive(Debug)]
enum Seen {
    Listening(libp2p::Multiaddr),
    Established(libp2p::PeerId, libp2p::core::ConnectedPoint),
    Pong(libp2p::PeerId),
    Reserved(libp2p::PeerId),
    /// Anything that went wrong, as rust-libp2p words it.
    Failed(String),
}

/// A rust-libp2p node with the relay client (its transport beside TCP,
/// Noise and yamux over both) and ping.
#[derive(NetworkBehaviour)]
struct ClientBehaviour {
    relay_client: libp2p::relay::client::Behaviour,
    ping: ping::Behaviour,
}

/// A rust-libp2p relay client that listens on `listen` and dials `dial`,
/// if given; its peer id and what it sees.
fn rust_client(
    listen: Option<libp2p::Multiaddr>,
    dial: Option<libp2p::Multiaddr>,
) -> (libp2p::PeerId, mpsc::UnboundedReceiver<Seen>) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("TCP + Noise + yamux")
        .with_relay_client(libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("the relay client transport")
        .with_behaviour(|_, relay_client| ClientBehaviour {
            relay_client,
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(200))),
        })
        .expect("the behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_hours(1)))
        .build();
    if let Some(addr) = listen {
        swarm.listen_on(addr).unwrap();
    }
    if let Some(addr) = dial {
        swarm.dial(addr).unwrap();
    }
    let (seen, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let report = match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => Seen::Established(peer_id, endpoint),
                SwarmEvent::Behaviour(ClientBehaviourEvent::Ping(ping::Event { peer, result, .. })) => match result {
                    Ok(_) => Seen::Pong(peer),
                    Err(error) => Seen::Failed(format!("ping of {peer}: {error}")),
                },
                SwarmEvent::Behaviour(ClientBehaviourEvent::RelayClient(
                    libp2p::relay::client::Event::ReservationReqAccepted { relay_peer_id, .. },
                )) => Seen::Reserved(relay_peer_id),
                SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                    Seen::Failed(format!("dial of {peer_id:?}: {error}"))
                }
                SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                    Seen::Failed(format!("incoming from {send_back_addr}: {error}"))
                }
                SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                    Seen::Failed(format!("listener on {addresses:?} closed: {reason:?}"))
                }
                SwarmEvent::ListenerError { error, .. } => Seen::Failed(format!("listener: {error}")),
                _ => continue,
            };
            if seen.send(report).is_err() {
                return;
            }
        }
    });
    (peer, rx)
}

/// Waits for the rust-libp2p node to see what `wanted` picks out; fails
/// on the first failure it reports.
async fn wait_for<T>(seen: &mut mpsc::UnboundedReceiver<Seen>, mut wanted: impl FnMut(&Seen) -> Option<T>) -> T {
    within(async {
        loop {
            let event = seen.recv().await.expect("the rust-libp2p node runs");
            if let Seen::Failed(why) = &event {
                panic!("rust-libp2p: {why}");
            }
            if let Some(found) = wanted(&event) {
                return found;
            }
        }
    })
    .await
}

/// A strata host on 127.0.0.1 with TCP and the relay client's transport
/// (Noise and yamux above it), answering pings.
async fn strata_client() -> (Host, relay::Client, strata::ping::Ping) {
    let (client, transport) = relay::Client::new(relay::ClientConfig::default());
    let circuits = Upgrader::new(transport).security(noise::Config::new).muxer(yamux::Config::default());
    let host = builder(&Keypair::generate_ed25519())
        .upgrader(circuits)
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    client.attach(&host).unwrap();
    let ping = strata::ping::Ping::attach(&host, strata::ping::Config::default()).unwrap();
    (host, client, ping)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_through_a_rust_libp2p_relay() {
    let relay_addr = rust_relay::start().await;
    let (host, _client, ping) = strata_client().await;

    // strata reserves on the rust relay.
    let through_relay: Multiaddr = format!("{}/p2p-circuit", ours_addr(&relay_addr)).parse().unwrap();
    let addrs = within(host.listen(through_relay.clone())).await.unwrap();
    // The reservation's address (the relay's external one, `/p2p/<relay>`
    // added by rust-libp2p), made a circuit address.
    assert_eq!(addrs, std::slice::from_ref(&through_relay));
    assert!(is_relayed(&addrs[0]));

    // rust-libp2p dials strata through it.
    let target: Multiaddr = format!("{through_relay}/p2p/{}", host.peer_id()).parse().unwrap();
    let (rust_peer, mut seen) = rust_client(None, Some(theirs_addr(&target)));
    let endpoint = wait_for(&mut seen, |event| match event {
        Seen::Established(peer, endpoint) if ours(*peer) == host.peer_id() => Some(endpoint.clone()),
        _ => None,
    })
    .await;
    assert!(endpoint.is_dialer(), "{endpoint:?}");
    assert_eq!(ours_addr(endpoint.get_remote_address()), target, "rust-libp2p's connection is the relayed one");
    eventually("strata has the connection", async || host.is_connected(ours(rust_peer))).await;
    assert!(
        strata_testkit::established(&mut host.lifecycle(), ours(rust_peer)).await.is_limited(),
        "strata marks the relayed connection limited"
    );

    // Pings cross it, both ways.
    wait_for(&mut seen, |event| matches!(event, Seen::Pong(peer) if ours(*peer) == host.peer_id()).then_some(())).await;
    let rtt = within(ping.ping(ours(rust_peer))).await.unwrap();
    assert!(rtt > Duration::ZERO);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_through_a_strata_relay() {
    let relay_host = strata_testkit::host().await;
    let relay = relay::Relay::attach(&relay_host, relay::Config::default()).unwrap();
    // The rust node pings every peer it is connected to, the relay too.
    let _relay_ping = strata::ping::Ping::attach(&relay_host, strata::ping::Config::default()).unwrap();
    let through_relay: Multiaddr = format!("{}/p2p-circuit", address_of(&relay_host)).parse().unwrap();

    // rust-libp2p reserves on the strata relay.
    let (rust_peer, mut seen) = rust_client(Some(theirs_addr(&through_relay)), None);
    wait_for(&mut seen, |event| {
        matches!(event, Seen::Reserved(relay) if ours(*relay) == relay_host.peer_id()).then_some(())
    })
    .await;
    let listening = wait_for(&mut seen, |event| match event {
        Seen::Listening(addr) => Some(ours_addr(addr)),
        _ => None,
    })
    .await;
    let target: Multiaddr = format!("{through_relay}/p2p/{rust_peer}").parse().unwrap();
    assert_eq!(listening, target, "rust-libp2p listens through the strata relay");
    assert_eq!(relay.reservation_count(), 1);

    // strata dials it through the relay.
    let (host, _client, ping) = strata_client().await;
    assert_eq!(within(host.dial(target.clone())).await.unwrap(), ours(rust_peer)); // Noise proved it, end to end
    assert!(
        strata_testkit::established(&mut host.lifecycle(), ours(rust_peer)).await.is_limited(),
        "strata marks the relayed connection limited"
    );
    let endpoint = wait_for(&mut seen, |event| match event {
        Seen::Established(peer, endpoint) if *peer == theirs(host.peer_id()) => Some(endpoint.clone()),
        _ => None,
    })
    .await;
    // rust-libp2p's endpoint of an inbound circuit: accepted on the relay's
    // `/p2p-circuit` address, from `/p2p/<src>` (the stop CONNECT's peer).
    let libp2p::core::ConnectedPoint::Listener { local_addr, send_back_addr } = endpoint else {
        panic!("an inbound connection: {endpoint:?}")
    };
    assert_eq!(ours_addr(&local_addr), through_relay, "accepted through the strata relay");
    assert_eq!(ours_addr(&send_back_addr), Multiaddr::empty().with_p2p(host.peer_id()).unwrap());
    assert_eq!(relay.circuit_count(), 1);

    // Pings cross it, both ways.
    let rtt = within(ping.ping(ours(rust_peer))).await.unwrap();
    assert!(rtt > Duration::ZERO);
    wait_for(&mut seen, |event| matches!(event, Seen::Pong(peer) if ours(*peer) == host.peer_id()).then_some(())).await;
    host.shutdown().await;
}
