//! mDNS discovery between hosts in one process, on loopback with a
//! test-only group and port per test (nothing reaches the LAN, and tests
//! running side by side do not hear each other).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    net::{IpAddr, Ipv4Addr, UdpSocket},
    time::Duration,
};

use strata_core::{Keypair, Multiaddr, PeerId};
use strata_host::Host;
use strata_mdns::{Config, Event, Interfaces, Mdns, packet};
use strata_testkit::{host, within};
use tokio::sync::broadcast;

/// A group and port no other test uses: the port is a free one.
fn network() -> Config {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let [.., high, low] = port.to_be_bytes();
    Config::default()
        .with_group(Ipv4Addr::new(239, 255, high, low), port)
        .with_group_v6(None)
        .with_interfaces(Interfaces::Only(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]))
}

async fn node(config: &Config) -> (Host, Mdns) {
    let host = host().await;
    let mdns = Mdns::attach(&host, config.clone().with_auto_dial(true)).unwrap();
    (host, mdns)
}

async fn discovered(events: &mut broadcast::Receiver<Event>, wanted: PeerId) -> Vec<Multiaddr> {
    within(async {
        loop {
            if let Ok(Event::Discovered { peer, addrs }) = events.recv().await
                && peer == wanted
            {
                return addrs;
            }
        }
    })
    .await
}

async fn connected(host: &Host, peer: PeerId) {
    within(async {
        while !host.is_connected(peer) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn two_nodes_discover_each_other_and_connect() {
    let config = network();
    let (a, mdns_a) = node(&config).await;
    let mut events_a = mdns_a.events();
    let (b, mdns_b) = node(&config).await;
    let addrs = discovered(&mut events_a, b.peer_id()).await;
    assert_eq!(addrs, b.listen_addrs(), "its listen addresses, as announced");
    connected(&a, b.peer_id()).await;
    connected(&b, a.peer_id()).await;
    within(async {
        while mdns_b.peers().iter().all(|(peer, _)| *peer != a.peer_id()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(mdns_a.peers().iter().all(|(peer, _)| *peer != a.peer_id()), "a node does not discover itself");
}

#[tokio::test]
async fn five_nodes_all_find_each_other() {
    let config = network();
    let mut nodes = Vec::new();
    for _ in 0..5 {
        nodes.push(node(&config).await);
    }
    for (host, mdns) in &nodes {
        within(async {
            while mdns.peers().len() < 4 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        for (other, _) in &nodes {
            if other.peer_id() != host.peer_id() {
                connected(host, other.peer_id()).await;
            }
        }
    }
}

#[tokio::test]
async fn networks_on_other_groups_and_ports_do_not_hear_each_other() {
    let (_a, mdns_a) = node(&network()).await;
    let (_b, mdns_b) = node(&network()).await;
    mdns_a.query();
    mdns_b.query();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(mdns_a.peers().is_empty() && mdns_b.peers().is_empty());
}

#[tokio::test]
async fn a_node_that_leaves_says_goodbye_and_expires() {
    let config = network();
    let (_a, mdns_a) = node(&config).await;
    let mut events = mdns_a.events();
    let (b, _mdns_b) = node(&config).await;
    discovered(&mut events, b.peer_id()).await;
    b.shutdown().await;
    let expired = within(async {
        loop {
            if let Ok(Event::Expired { peer }) = events.recv().await {
                return peer;
            }
        }
    })
    .await;
    assert_eq!(expired, b.peer_id());
}

/// Sends raw bytes to a test network's group, as another host would.
fn inject(config_port: u16, group: Ipv4Addr, bytes: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_multicast_loop_v4(true).unwrap();
    socket.send_to(bytes, (group, config_port)).unwrap();
}

#[tokio::test]
async fn a_peer_that_stops_answering_expires_after_its_ttl_and_junk_is_ignored() {
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let group = Ipv4Addr::new(239, 255, 200, 1);
    let config = Config::default()
        .with_group(group, port)
        .with_group_v6(None)
        .with_interfaces(Interfaces::Only(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]));
    let (_a, mdns_a) = node(&config).await;
    let mut events = mdns_a.events();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Junk first: garbage, an oversized packet, a response with no address.
    inject(port, group, b"\x00\x01garbage");
    inject(port, group, &vec![0xff; 9500]);
    inject(port, group, &packet::response("junk", PeerId::random(), &[], Duration::from_mins(1))[0]);
    // Then a peer announced once, for 2 s, never again.
    let ghost = Keypair::generate_ed25519().peer_id();
    let addr: Multiaddr = "/ip4/127.0.0.1/tcp/9".parse().unwrap();
    inject(port, group, &packet::response("ghost", ghost, std::slice::from_ref(&addr), Duration::from_secs(2))[0]);
    let first = within(events.recv()).await.unwrap();
    assert_eq!(first, Event::Discovered { peer: ghost, addrs: vec![addr] }, "the junk made no event");
    let started = std::time::Instant::now();
    let next = within(events.recv()).await.unwrap();
    assert_eq!(next, Event::Expired { peer: ghost });
    assert!(started.elapsed() >= Duration::from_millis(1500), "expired at its TTL, not before");
    assert!(mdns_a.peers().is_empty());
}
