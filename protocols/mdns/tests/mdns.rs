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
use strata_testkit::{eventually, host, within};
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
    eventually("the discovered peer is dialed", async || host.is_connected(peer)).await;
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
    eventually("b discovers a", async || mdns_b.peers().iter().any(|(peer, _)| *peer == a.peer_id())).await;
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
        eventually("each node discovers the four others", async || mdns.peers().len() >= 4).await;
        for (other, _) in &nodes {
            if other.peer_id() != host.peer_id() {
                connected(host, other.peer_id()).await;
            }
        }
    }
}

#[tokio::test]
async fn networks_on_other_groups_and_ports_do_not_hear_each_other() {
    let (one, other) = (network(), network());
    let (a, mdns_a) = node(&one).await;
    let (b, mdns_b) = node(&other).await;
    // Then one more node on each network: when a hears c and b hears d,
    // each has heard its network past everything a and b said at start
    // (which the other network would have heard, were they one).
    let (c, _mdns_c) = node(&one).await;
    let (d, _mdns_d) = node(&other).await;
    let heard = |mdns: &Mdns| mdns.peers().into_iter().map(|(peer, _)| peer).collect::<Vec<_>>();
    eventually("a hears c on its network", async || heard(&mdns_a).contains(&c.peer_id())).await;
    eventually("b hears d on its network", async || heard(&mdns_b).contains(&d.peer_id())).await;
    for (who, mdns, others) in [("a", &mdns_a, [b.peer_id(), d.peer_id()]), ("b", &mdns_b, [a.peer_id(), c.peer_id()])]
    {
        let seen = heard(mdns);
        assert!(!others.iter().any(|peer| seen.contains(peer)), "{who} heard the other network: {seen:?}");
    }
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

#[tokio::test]
async fn discovery_outlives_its_handle_until_the_host_shuts_down() {
    // The rule of every service: it lives as long as its host, not its
    // handle. a drops its handle at once, yet still answers and dials.
    let config = network();
    let (a, mdns_a) = node(&config).await;
    drop(mdns_a);
    let (b, mdns_b) = node(&config).await;
    let mut events = mdns_b.events();
    discovered(&mut events, a.peer_id()).await;
    connected(&a, b.peer_id()).await;
    a.shutdown().await;
    let expired = within(async {
        loop {
            if let Ok(Event::Expired { peer }) = events.recv().await {
                return peer;
            }
        }
    })
    .await;
    assert_eq!(expired, a.peer_id(), "a said goodbye when its host shut down");
}

fn addr_of_probe() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/7".parse().unwrap()
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
    // a joins the group in its own task: a probe announced (again, as a
    // datagram sent before the join is lost) until a hears it, then said
    // goodbye to, so that what follows reaches a.
    let probe = Keypair::generate_ed25519().peer_id();
    let announce = |ttl| packet::response("probe", probe, std::slice::from_ref(&addr_of_probe()), ttl)[0].clone();
    within(async {
        loop {
            inject(port, group, &announce(Duration::from_mins(1)));
            if let Ok(Ok(Event::Discovered { peer, .. })) =
                tokio::time::timeout(Duration::from_millis(100), events.recv()).await
                && peer == probe
            {
                return;
            }
        }
    })
    .await;
    inject(port, group, &announce(Duration::ZERO));
    assert_eq!(within(events.recv()).await.unwrap(), Event::Expired { peer: probe }, "the probe's goodbye");

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
