//! The DHT between hosts in one process over TCP on loopback: tables fill
//! from one bootstrap node, lookups find the true nearest peers, records
//! and provider records travel between any two nodes, client-mode nodes
//! ask but are never asked, bad input is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::PeerId;
use strata_host::{Host, RequestConfig};
use strata_identify::Identify;
use strata_kad::{Config, Error, Kad, Mode, PROTOCOL, Record, RecordValidator, key::Key};
use strata_testkit::{address_of, host, within};

struct Node {
    host: Host,
    kad: Kad,
    _identify: Identify,
}

async fn node(config: Config) -> Node {
    let host = host().await;
    let identify = Identify::attach(&host, strata_identify::Config::default()).unwrap();
    let kad = Kad::attach(&host, config).unwrap();
    Node { host, kad, _identify: identify }
}

/// `n` server nodes, each told of the first, then bootstrapped.
async fn network(n: usize, config: &Config) -> Vec<Node> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(node(config.clone()).await);
    }
    let (first, first_addr) = (nodes[0].host.peer_id(), address_of(&nodes[0].host));
    for node in &nodes[1..] {
        node.kad.add_address(first, &first_addr);
        within(node.kad.bootstrap()).await.unwrap();
    }
    // A second round: early nodes learn of later ones.
    for node in &nodes {
        within(node.kad.bootstrap()).await.unwrap();
    }
    nodes
}

fn true_closest(nodes: &[Node], key: &[u8], k: usize, except: PeerId) -> Vec<PeerId> {
    let target = Key::new(key);
    let mut all: Vec<PeerId> = nodes.iter().map(|node| node.host.peer_id()).filter(|peer| *peer != except).collect();
    all.sort_by_key(|peer| Key::of_peer(*peer).distance(&target));
    all.truncate(k);
    all
}

fn small() -> Config {
    Config::default().with_k(4).with_bootstrap_interval(None)
}

#[tokio::test]
async fn lookups_find_the_true_nearest_peers() {
    let nodes = network(16, &small()).await;
    for (i, node) in nodes.iter().enumerate().step_by(3) {
        assert!(node.kad.routing_table_len() >= 4, "node {i}: {}", node.kad.routing_table_len());
        let key = format!("key {i}");
        let (closest, stats) = within(node.kad.closest_peers(key.as_bytes())).await.unwrap();
        assert_eq!(closest, true_closest(&nodes, key.as_bytes(), 4, node.host.peer_id()), "from node {i}");
        assert!(stats.requests >= 1 && stats.hops >= 1);
    }
    let wanted = nodes[7].host.peer_id();
    let addrs = within(nodes[2].kad.find_peer(wanted)).await.unwrap();
    assert!(addrs.contains(&address_of(&nodes[7].host).without_peer_id()), "{addrs:?}");
}

#[tokio::test]
async fn a_record_put_by_one_node_is_got_by_another() {
    let nodes = network(12, &small()).await;
    let stored = within(nodes[3].kad.put_value(b"greeting", b"hello".to_vec())).await.unwrap();
    assert!(stored >= 1, "{stored}");
    assert_eq!(within(nodes[9].kad.get_value(b"greeting")).await.unwrap(), b"hello");
    assert!(matches!(within(nodes[5].kad.get_value(b"nothing here")).await, Err(Error::NotFound)));
}

#[tokio::test]
async fn a_provider_is_found_from_another_node_with_its_addresses() {
    let nodes = network(12, &small()).await;
    let told = within(nodes[4].kad.provide(b"topic:chat")).await.unwrap();
    assert!(told >= 1);
    tokio::time::sleep(Duration::from_millis(100)).await; // ADD_PROVIDER has no answer to wait for
    let providers = within(nodes[10].kad.providers(b"topic:chat")).await.unwrap();
    let (peer, addrs) = providers.iter().find(|(peer, _)| *peer == nodes[4].host.peer_id()).expect("found");
    assert_eq!(*peer, nodes[4].host.peer_id());
    assert!(addrs.contains(&address_of(&nodes[4].host).without_peer_id()), "{addrs:?}");
}

#[tokio::test]
async fn a_client_asks_but_never_enters_a_routing_table() {
    let nodes = network(6, &small()).await;
    let client = node(small().with_mode(Mode::Client)).await;
    client.kad.add_address(nodes[0].host.peer_id(), &address_of(&nodes[0].host));
    within(client.kad.bootstrap()).await.unwrap();
    within(nodes[1].kad.put_value(b"k", b"v".to_vec())).await.unwrap();
    assert_eq!(within(client.kad.get_value(b"k")).await.unwrap(), b"v");
    tokio::time::sleep(Duration::from_millis(300)).await; // identify has answered by now
    for node in &nodes {
        assert!(!node.kad.routing_table().contains(&client.host.peer_id()), "a client is never in a table");
    }
    assert!(!client.host.protocols().iter().any(|protocol| protocol == PROTOCOL), "a client does not serve kad");
}

struct NoBad;

impl RecordValidator for NoBad {
    fn validate(&self, record: &Record) -> bool {
        !record.value.starts_with(b"bad")
    }
}

#[tokio::test]
async fn invalid_records_and_malformed_requests_are_refused() {
    let nodes = network(4, &small().with_validator(NoBad)).await;
    assert!(matches!(within(nodes[1].kad.put_value(b"k", b"bad value".to_vec())).await, Err(Error::InvalidRecord)));
    // A peer without the validator tries to store one on them.
    let rogue = node(small()).await;
    rogue.kad.add_address(nodes[0].host.peer_id(), &address_of(&nodes[0].host));
    within(rogue.kad.bootstrap()).await.unwrap();
    assert!(matches!(
        within(rogue.kad.put_value(b"k", b"bad value".to_vec())).await,
        Err(Error::Quorum { got: 0, .. })
    ));
    // Garbage on the protocol: the stream is dropped, the node serves on.
    let config = RequestConfig::default();
    let garbage = rogue.host.request(nodes[0].host.peer_id(), PROTOCOL, &[0xff, 0xff, 0xff], &config);
    assert!(within(garbage).await.is_err());
    assert_eq!(within(rogue.kad.closest_peers(b"x")).await.unwrap().0.len(), 4);
}
