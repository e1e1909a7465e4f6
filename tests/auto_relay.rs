//! Auto-relay through the whole stack, over TCP on 127.0.0.1, with real
//! identify: a private node meets three relays, learns from identify that
//! they serve the hop protocol, keeps two reservations, and identify tells
//! a peer its circuit addresses; the peer reaches it through one. Once
//! public, the reservations and the circuit addresses go.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata::{
    Host, Keypair, Multiaddr, autonat,
    host::{self, Upgrader, is_relayed},
    identify, noise, relay, yamux,
};
use strata_testkit::{address_of, builder, eventually, host, within};

/// A host on 127.0.0.1 with TCP, the relay client's transport and identify.
async fn client_host() -> (Host, relay::Client, identify::Identify) {
    let (client, transport) = relay::Client::new(relay::ClientConfig::default());
    let circuits = Upgrader::new(transport).security(noise::Config::new).muxer(yamux::Config::default());
    let host = builder(&Keypair::generate_ed25519())
        .upgrader(circuits)
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    client.attach(&host).unwrap();
    let identify = identify::Identify::attach(&host, identify::Config::default()).unwrap();
    (host, client, identify)
}

#[tokio::test]
async fn relays_learned_by_identify_carry_a_private_nodes_advertised_addresses() {
    let mut relays = Vec::new();
    for _ in 0..3 {
        let host = host().await;
        let relay = relay::Relay::attach(&host, relay::Config::default()).unwrap();
        let identify = identify::Identify::attach(&host, identify::Config::default()).unwrap();
        relays.push((host, relay, identify));
    }
    let (node, client, _node_identify) = client_host().await;
    let config = relay::AutoRelayConfig::default().with_private_relays(true).with_backoff(Duration::from_secs(30));
    let auto = relay::AutoRelay::attach(&node, &client, config).unwrap();
    // `AutoNAT`'s verdict type is the host's, and auto-relay's: forwarded as is.
    auto.set_reachability(autonat::Reachability::Private);
    for (relay, ..) in &relays {
        within(node.dial(address_of(relay))).await.unwrap();
    }

    // Identify names the hop protocol: two reservations, on distinct relays.
    eventually("two reservations", async || auto.reservations().len() == 2).await;
    let reserved: Vec<_> = auto.reservations().into_iter().map(|(relay, _)| relay).collect();
    assert_ne!(reserved[0], reserved[1]);
    let held: usize = relays.iter().map(|(_, relay, _)| relay.reservation_count()).sum();
    assert_eq!(held, 2);

    // A peer that meets the node hears its circuit addresses from identify.
    let (peer, _peer_client, _peer_identify) = client_host().await;
    within(peer.dial(address_of(&node))).await.unwrap();
    let heard = async || -> Vec<Multiaddr> {
        let addrs = peer.peer_info(node.peer_id()).map(|info| info.addrs).unwrap_or_default();
        addrs.into_iter().filter(is_relayed).collect()
    };
    eventually("the peer heard two circuit addresses", async || heard().await.len() >= 2).await;

    // And reaches the node through one of them, once not connected directly.
    peer.disconnect(node.peer_id()).await;
    eventually("disconnected", async || !peer.is_connected(node.peer_id())).await;
    let circuit = heard().await.into_iter().next().unwrap().with_p2p(node.peer_id()).unwrap();
    let mut lifecycle = peer.lifecycle();
    assert_eq!(within(peer.dial(circuit)).await.unwrap(), node.peer_id());
    assert!(strata_testkit::established(&mut lifecycle, node.peer_id()).await.is_limited());

    // Public: the reservations go, and the node advertises no circuit.
    auto.set_reachability(host::Reachability::Public);
    eventually("no reservation", async || auto.reservations().is_empty()).await;
    let told = node.advertised_addrs(&"/ip4/127.0.0.1/tcp/1".parse().unwrap());
    assert!(!told.is_empty() && told.iter().all(|addr| !is_relayed(addr)), "{told:?}");
}
