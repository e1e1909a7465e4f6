//! The DHT between hosts in one process over TCP on loopback: tables fill
//! from one bootstrap node, lookups find the true nearest peers, records
//! and provider records travel between any two nodes, client-mode nodes
//! ask but are never asked, bad input is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_core::PeerId;
use strata_host::{Host, RequestConfig};
use strata_identify::Identify;
use strata_kad::{Config, Error, Kad, Mode, PROTOCOL, Record, RecordValidator, key::Key};
use strata_testkit::{address_of, eventually, host, within};

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
    // ADD_PROVIDER has no answer: the record is stored when a lookup finds it.
    let provider = nodes[4].host.peer_id();
    let found_by_10 = async || {
        let providers = nodes[10].kad.providers(b"topic:chat").await.unwrap_or_default();
        providers.into_iter().find(|(peer, _)| *peer == provider)
    };
    eventually("node 10 finds node 4 providing", async || found_by_10().await.is_some()).await;
    let (peer, addrs) = found_by_10().await.expect("found");
    assert_eq!(peer, nodes[4].host.peer_id());
    assert!(addrs.contains(&address_of(&nodes[4].host).without_peer_id()), "{addrs:?}");
}

#[tokio::test]
async fn a_client_asks_but_never_enters_a_routing_table() {
    let nodes = network(6, &small()).await;
    let mut events: Vec<_> = nodes.iter().map(|node| node.host.events()).collect();
    let client = node(small().with_mode(Mode::Client)).await;
    client.kad.add_address(nodes[0].host.peer_id(), &address_of(&nodes[0].host));
    within(client.kad.bootstrap()).await.unwrap();
    within(nodes[1].kad.put_value(b"k", b"v".to_vec())).await.unwrap();
    assert_eq!(within(client.kad.get_value(b"k")).await.unwrap(), b"v");
    // Each node the client reached has heard from identify what the client
    // serves, and its routing table has followed.
    for (node, events) in nodes.iter().zip(&mut events) {
        if node.host.is_connected(client.host.peer_id()) {
            identified(events, client.host.peer_id()).await;
            settled(node).await;
        }
    }
    for node in &nodes {
        assert!(!node.kad.routing_table().contains(&client.host.peer_id()), "a client is never in a table");
    }
    assert!(!client.host.protocols().iter().any(|protocol| protocol == PROTOCOL), "a client does not serve kad");
}

/// Waits for the host's report that identify told it what `peer` serves.
async fn identified(events: &mut tokio::sync::broadcast::Receiver<strata_host::Event>, peer: PeerId) {
    within(async {
        loop {
            if let strata_host::Event::PeerProtocolsChanged { peer: p } = events.recv().await.unwrap()
                && p == peer
            {
                return;
            }
        }
    })
    .await;
}

/// Waits until `node`'s routing table has followed every change of the
/// peers' protocols reported so far: it follows them in order, so once a
/// witness, reported as a server after them, is in the table, so are they.
async fn settled(node: &Node) {
    // A witness whose bucket has room (k = 4): it enters at once.
    let local = Key::of_peer(node.host.peer_id());
    let bucket = |peer: PeerId| local.distance(&Key::of_peer(peer)).bucket();
    let table = node.kad.routing_table();
    let witness = std::iter::repeat_with(PeerId::random)
        .find(|&witness| table.iter().filter(|&&peer| bucket(peer) == bucket(witness)).count() < 4)
        .expect("a peer id in a bucket with room");
    node.host.update_peer(witness, |info| {
        info.protocols = vec![PROTOCOL.to_owned()];
        info.addrs = vec!["/ip4/127.0.0.1/tcp/9".parse().unwrap()];
    });
    eventually("the witness enters the routing table", async || node.kad.routing_table().contains(&witness)).await;
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
