//! Auto-relay over TCP on 127.0.0.1: three relays and a private node. The
//! node learns the relays as identify would (their protocols in its peer
//! store, `Event::PeerProtocolsChanged`), or from a list (as Kademlia would
//! hand them); it keeps two reservations on distinct relays while private,
//! replaces a relay that goes away, lets them all go once public, and a
//! peer reaches it through an address it advertises. And the client's
//! side of a lost reservation: a listener ends as soon as its relay's
//! connection closes, or the relay refuses a renewal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    collections::HashSet,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use strata_core::{Keypair, Multiaddr, PeerId, multiaddr::Component};
use strata_host::{Host, Upgrader, is_relayed};
use strata_relay::{
    AutoRelay, AutoRelayConfig, AutoRelayEvent, Client, ClientConfig, ClientEvent, Config, HOP_PROTOCOL, HopMessage,
    LossReason, Reachability, Relay, Reservation, Status, codec,
};
use strata_testkit::{address_of, builder, eventually, host, within};

/// How long replacing a lost relay may take.
const REPLACED_WITHIN: Duration = Duration::from_secs(5);

/// A host on 127.0.0.1 with TCP and the relay client's transport.
async fn client_host() -> (Host, Client) {
    client_host_with(ClientConfig::default()).await
}

async fn client_host_with(config: ClientConfig) -> (Host, Client) {
    let (client, transport) = Client::new(config);
    let circuits = Upgrader::new(transport).security(strata_noise::Config::new).muxer(strata_yamux::Config::default());
    let host = builder(&Keypair::generate_ed25519())
        .upgrader(circuits)
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    client.attach(&host).unwrap();
    (host, client)
}

/// `n` relays on 127.0.0.1.
async fn relays(n: usize) -> Vec<(Host, Relay)> {
    let mut relays = Vec::new();
    for _ in 0..n {
        let host = host().await;
        let relay = Relay::attach(&host, Config::default()).unwrap();
        relays.push((host, relay));
    }
    relays
}

/// Auto-relay for tests: loopback relays allowed, a short backoff.
fn config() -> AutoRelayConfig {
    AutoRelayConfig::default().with_private_relays(true).with_backoff(Duration::from_secs(30))
}

/// What identify does when it meets a relay: its protocols go to the
/// peer store (which reports `PeerProtocolsChanged`).
async fn meet_relay(node: &Host, relay: &Host) {
    within(node.dial(address_of(relay))).await.unwrap();
    node.update_peer(relay.peer_id(), |info| info.protocols = vec![HOP_PROTOCOL.to_owned(), "/ipfs/id/1.0.0".into()]);
}

/// The relays `node` listens through (its `/p2p-circuit` listen addresses).
fn relays_in_listen_addrs(node: &Host) -> HashSet<PeerId> {
    node.listen_addrs().iter().filter(|addr| is_relayed(addr)).filter_map(relay_of).collect()
}

/// `R` of `…/p2p/R/p2p-circuit`.
fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let components: Vec<Component<'_>> = addr.iter().collect();
    match components.as_slice() {
        [.., Component::P2p(relay), Component::P2pCircuit] => Some(*relay),
        _ => None,
    }
}

fn reserved(auto: &AutoRelay) -> HashSet<PeerId> {
    auto.reservations().into_iter().map(|(relay, _)| relay).collect()
}

#[tokio::test]
async fn a_private_node_keeps_two_reservations_replaces_a_lost_relay_and_drops_them_when_public() {
    let relays = relays(3).await;
    let (node, client) = client_host().await;
    let auto = AutoRelay::attach(&node, &client, config()).unwrap();
    let mut events = auto.events();
    for (relay, _) in &relays {
        meet_relay(&node, relay).await;
    }

    // No verdict yet: nothing is reserved.
    eventually("the relays are candidates", async || relays.iter().all(|(r, _)| node.is_connected(r.peer_id()))).await;
    assert!(auto.reservations().is_empty());

    // Private: two reservations, on distinct relays, in the listen addresses.
    auto.set_reachability(Reachability::Private);
    eventually("two reservations", async || auto.reservations().len() == 2).await;
    let first = reserved(&auto);
    assert_eq!(first.len(), 2, "distinct relays");
    assert_eq!(relays_in_listen_addrs(&node), first);
    let held: usize = relays.iter().map(|(_, relay)| relay.reservation_count()).sum();
    assert_eq!(held, 2);
    // What identify tells a peer on this machine includes them.
    let told = node.advertised_addrs(&"/ip4/127.0.0.1/tcp/1".parse().unwrap());
    assert_eq!(told.iter().filter(|addr| is_relayed(addr)).count(), 2, "{told:?}");
    for _ in 0..2 {
        let event = within(events.recv()).await.unwrap();
        assert!(matches!(event, AutoRelayEvent::ReservationAdded { relay, .. } if first.contains(&relay)), "{event:?}");
    }

    // A relay goes away: its reservation is lost, and the third relay
    // takes its place within seconds.
    let (lost_host, _) = relays.iter().find(|(host, _)| first.contains(&host.peer_id())).unwrap();
    let lost = lost_host.peer_id();
    lost_host.shutdown().await;
    let event = within(events.recv()).await.unwrap();
    assert!(
        matches!(&event, AutoRelayEvent::ReservationLost { relay, reason: LossReason::Disconnected } if *relay == lost),
        "{event:?}"
    );
    let third = relays.iter().map(|(host, _)| host.peer_id()).find(|relay| !first.contains(relay)).unwrap();
    let replaced = eventually("the third relay replaces the lost one", async || {
        reserved(&auto) == first.iter().copied().filter(|relay| *relay != lost).chain([third]).collect()
    });
    tokio::time::timeout(REPLACED_WITHIN, replaced).await.expect("replaced within seconds");
    assert_eq!(relays_in_listen_addrs(&node), reserved(&auto));
    assert!(!relays_in_listen_addrs(&node).contains(&lost));

    // A peer dials the node through an address it advertises.
    let (peer, _peer_client) = client_host().await;
    let circuit = node.listen_addrs().into_iter().find(is_relayed).unwrap();
    let target = circuit.with_p2p(node.peer_id()).unwrap();
    assert_eq!(within(peer.dial(target)).await.unwrap(), node.peer_id());

    // Public: every reservation goes, and every circuit listen address.
    auto.set_reachability(Reachability::Public);
    eventually("no reservation", async || auto.reservations().is_empty()).await;
    assert!(node.listen_addrs().iter().all(|addr| !is_relayed(addr)), "{:?}", node.listen_addrs());
    let told = node.advertised_addrs(&"/ip4/127.0.0.1/tcp/1".parse().unwrap());
    assert!(told.iter().all(|addr| !is_relayed(addr)), "{told:?}");
}

#[tokio::test]
async fn candidates_handed_in_are_dialed_and_always_needs_no_verdict() {
    let relays = relays(2).await;
    let (node, client) = client_host().await;
    let auto = AutoRelay::attach(&node, &client, config().with_always(true).with_reservations(1)).unwrap();
    // Known by address only (as a DHT query result), not connected.
    for (relay, _) in &relays {
        let addr = relay.listen_addrs()[0].clone();
        node.update_peer(relay.peer_id(), |info| info.addrs.push(addr));
    }
    assert!(node.connected_peers().is_empty());
    auto.add_candidates(relays.iter().map(|(relay, _)| relay.peer_id()));
    eventually("one reservation, without a verdict", async || auto.reservations().len() == 1).await;
    assert_eq!(relays_in_listen_addrs(&node), reserved(&auto));
    assert_eq!(relays.iter().map(|(_, relay)| relay.reservation_count()).sum::<usize>(), 1);
}

#[tokio::test]
async fn without_always_an_unknown_verdict_keeps_what_there_is_and_makes_none() {
    let relays = relays(2).await;
    let (node, client) = client_host().await;
    let auto = AutoRelay::attach(&node, &client, config().with_reservations(1)).unwrap();
    for (relay, _) in &relays {
        meet_relay(&node, relay).await;
    }
    auto.set_reachability(Reachability::Private);
    eventually("one reservation", async || auto.reservations().len() == 1).await;
    let kept = reserved(&auto);

    // Back to unknown: the reservation stays; once lost, none replaces it.
    auto.set_reachability(Reachability::Unknown);
    let mut events = auto.events();
    let relay = *kept.iter().next().unwrap();
    node.disconnect(relay).await;
    let event = within(events.recv()).await.unwrap();
    assert!(matches!(event, AutoRelayEvent::ReservationLost { relay: lost, .. } if lost == relay), "{event:?}");
    assert!(auto.reservations().is_empty());
    assert!(relays_in_listen_addrs(&node).is_empty());

    // Private again: the other relay (the lost one backs off).
    auto.set_reachability(Reachability::Private);
    eventually("the other relay", async || reserved(&auto).len() == 1 && !reserved(&auto).contains(&relay)).await;
}

#[tokio::test]
async fn a_listener_ends_as_soon_as_its_relay_connection_closes() {
    let relays = relays(1).await;
    let (relay_host, relay) = &relays[0];
    let (node, client) = client_host().await;
    let mut client_events = client.events();
    let mut host_events = node.events();
    let through: Multiaddr = format!("{}/p2p-circuit", address_of(relay_host)).parse().unwrap();
    let addrs = within(node.listen(through.clone())).await.unwrap();
    assert_eq!(relay.reservation_count(), 1);

    // The relay closes the connection: no renewal is awaited.
    relay_host.disconnect(node.peer_id()).await;
    loop {
        if let ClientEvent::ReservationLost { relay, reason } = within(client_events.recv()).await.unwrap() {
            assert_eq!((relay, reason), (relay_host.peer_id(), LossReason::Disconnected));
            break;
        }
    }
    assert!(node.listen_addrs().iter().all(|addr| !addrs.contains(addr)), "{:?}", node.listen_addrs());
    loop {
        if let strata_host::Event::ListenAddrExpired { addr } = within(host_events.recv()).await.unwrap()
            && addrs.contains(&addr)
        {
            break;
        }
    }
    // Listening through it again works (the old listener let go of it).
    eventually("listening again", async || node.listen(through.clone()).await.is_ok()).await;
    assert!(node.listen_addrs().iter().any(is_relayed));
}

#[tokio::test]
async fn a_renewal_the_relay_refuses_ends_the_listener() {
    // A scripted relay: grants one reservation for a second, refuses the renewal.
    let relay_host = host().await;
    let granted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    relay_host
        .handle(HOP_PROTOCOL, move |mut stream| {
            let first = !granted.swap(true, std::sync::atomic::Ordering::SeqCst);
            async move {
                codec::read_hop(&mut stream).await.map_err(std::io::Error::other)?;
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
                let answer = if first {
                    let reservation = Reservation { expire: now + 1, addrs: vec![], voucher: None };
                    HopMessage::Status { status: Status::Ok, reservation: Some(reservation), limit: None }
                } else {
                    HopMessage::Status { status: Status::ReservationRefused, reservation: None, limit: None }
                };
                codec::write_hop(&mut stream, &answer).await.map_err(std::io::Error::other)
            }
        })
        .unwrap();
    let (node, client) =
        client_host_with(ClientConfig::default().with_min_renewal_delay(Duration::from_millis(50))).await;
    let mut events = client.events();
    let through: Multiaddr = format!("{}/p2p-circuit", address_of(&relay_host)).parse().unwrap();
    let addrs = within(node.listen(through)).await.unwrap();
    assert!(node.listen_addrs().iter().any(|addr| addrs.contains(addr)));
    loop {
        if let ClientEvent::ReservationLost { relay, reason } = within(events.recv()).await.unwrap() {
            assert_eq!((relay, reason), (relay_host.peer_id(), LossReason::Refused(Status::ReservationRefused)));
            break;
        }
    }
    eventually("the circuit address is gone", async || node.listen_addrs().iter().all(|addr| !addrs.contains(addr)))
        .await;
}
