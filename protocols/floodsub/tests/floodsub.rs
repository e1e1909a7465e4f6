//! floodsub between hosts over TCP + Noise + mplex on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use strata_core::{PeerId, framing};
use strata_floodsub::{Config, Event, Floodsub, Message, PROTOCOL, SignaturePolicy, Subscription};
use strata_host::{Host, Stream};
use tokio::{
    io::AsyncWriteExt,
    sync::{broadcast, mpsc},
};

use strata_testkit::{address_of, host, within};

async fn node(config: Config) -> (Host, Floodsub) {
    let host = host().await;
    let pubsub = Floodsub::attach(&host, config).unwrap();
    (host, pubsub)
}

/// Waits (bounded) until `check` holds, looking again at each of the
/// service's events: every change of the peers' topics is one.
async fn until(pubsub: &Floodsub, check: impl Fn() -> bool) {
    let mut events = pubsub.events();
    within(async {
        while !check() {
            if let Err(broadcast::error::RecvError::Closed) = events.recv().await {
                panic!("the service stopped");
            }
        }
    })
    .await;
}

/// Waits until `pubsub` sees `peer` subscribed to `topic`.
async fn sees(pubsub: &Floodsub, peer: PeerId, topic: &str) {
    until(pubsub, || pubsub.peers(topic).contains(&peer)).await;
}

async fn next(subscription: &mut Subscription) -> Message {
    within(subscription.next()).await.expect("a message")
}

/// Messages that arrive within `wait`.
async fn drain(subscription: &mut Subscription, wait: Duration) -> Vec<Message> {
    let mut got = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(wait, subscription.next()).await {
        got.push(message);
    }
    got
}

#[tokio::test]
async fn two_nodes_talk_both_ways() {
    let ((a, pub_a), (b, pub_b)) = (node(Config::default()).await, node(Config::default()).await);
    let mut events = pub_a.events();
    let (mut sub_a, mut sub_b) = (pub_a.subscribe("chat"), pub_b.subscribe("chat"));
    within(a.dial(address_of(&b))).await.unwrap();
    assert_eq!(within(events.recv()).await.unwrap(), Event::Subscribed { peer: b.peer_id(), topic: "chat".into() });
    sees(&pub_b, a.peer_id(), "chat").await;

    pub_a.publish("chat", "hello from a").unwrap();
    let message = next(&mut sub_b).await;
    assert_eq!((message.text(), message.source, message.signed), ("hello from a".into(), Some(a.peer_id()), true));
    assert_eq!(message.topics, ["chat"]);
    pub_b.publish("chat", "hello from b").unwrap();
    assert_eq!(next(&mut sub_a).await.text(), "hello from b");
    assert!(drain(&mut sub_a, Duration::from_millis(100)).await.is_empty(), "our own messages are not delivered to us");
}

#[tokio::test]
async fn unsubscribing_is_announced_and_ends_delivery() {
    let ((a, pub_a), (b, pub_b)) = (node(Config::default()).await, node(Config::default()).await);
    let mut events = pub_a.events();
    let sub_b = pub_b.subscribe("chat");
    within(a.dial(address_of(&b))).await.unwrap();
    sees(&pub_a, b.peer_id(), "chat").await;
    drop(sub_b);
    loop {
        if within(events.recv()).await.unwrap() == (Event::Unsubscribed { peer: b.peer_id(), topic: "chat".into() }) {
            break;
        }
    }
    assert!(pub_a.peers("chat").is_empty());
}

/// A small deterministic generator for the random graph.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap()
    }
}

/// Whether `nodes` are connected by `edges` (ignoring other nodes).
fn connected(nodes: &BTreeSet<usize>, edges: &[(usize, usize)]) -> bool {
    let Some(&start) = nodes.iter().next() else { return true };
    let mut reached = BTreeSet::from([start]);
    let mut frontier = vec![start];
    while let Some(at) = frontier.pop() {
        for &(x, y) in edges {
            for (from, to) in [(x, y), (y, x)] {
                if from == at && nodes.contains(&to) && reached.insert(to) {
                    frontier.push(to);
                }
            }
        }
    }
    reached == *nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, told in order
async fn twenty_five_nodes_in_a_random_graph_deliver_exactly_once() {
    const N: usize = 25;
    let quiet: BTreeSet<usize> = [3, 11, 19].into();
    let mut nodes = Vec::new();
    for _ in 0..N {
        nodes.push(node(Config::default()).await);
    }
    // A random tree over the subscribers, some extra edges, and each quiet
    // node hung on two subscribers: connected, and not a full mesh.
    let mut rng = XorShift(0x5eed_1234_abcd_9876);
    let subscribers: Vec<usize> = (0..N).filter(|i| !quiet.contains(i)).collect();
    let mut edges = Vec::new();
    for (k, &i) in subscribers.iter().enumerate().skip(1) {
        edges.push((i, subscribers[rng.below(k)]));
    }
    for _ in 0..10 {
        let (x, y) = (subscribers[rng.below(subscribers.len())], subscribers[rng.below(subscribers.len())]);
        if x != y && !edges.contains(&(x, y)) && !edges.contains(&(y, x)) {
            edges.push((x, y));
        }
    }
    for &q in &quiet {
        edges.push((q, subscribers[rng.below(subscribers.len())]));
        edges.push((q, subscribers[rng.below(subscribers.len())]));
    }
    assert!(edges.len() < N * (N - 1) / 4, "far from a full mesh");

    let mut subs: HashMap<usize, Subscription> = HashMap::new();
    let mut others: HashMap<usize, Subscription> = HashMap::new();
    for (i, (_, pubsub)) in nodes.iter().enumerate() {
        if quiet.contains(&i) {
            others.insert(i, pubsub.subscribe("other"));
        } else {
            subs.insert(i, pubsub.subscribe("t"));
        }
    }
    for &(x, y) in &edges {
        if !nodes[x].0.is_connected(nodes[y].0.peer_id()) {
            within(nodes[x].0.dial(address_of(&nodes[y].0))).await.unwrap();
        }
    }
    for &(x, y) in &edges {
        if !quiet.contains(&x) && !quiet.contains(&y) {
            sees(&nodes[x].1, nodes[y].0.peer_id(), "t").await;
            sees(&nodes[y].1, nodes[x].0.peer_id(), "t").await;
        }
    }

    // Round 1: every subscriber publishes once; every other subscriber gets
    // every message, once.
    let round =
        |members: &[usize], tag: &str| -> BTreeSet<String> { members.iter().map(|i| format!("{tag} {i}")).collect() };
    for &i in &subscribers {
        nodes[i].1.publish("t", format!("r1 {i}")).unwrap();
    }
    let mut received: HashMap<usize, Vec<String>> = HashMap::new();
    for &i in &subscribers {
        let sub = subs.get_mut(&i).unwrap();
        let got = received.entry(i).or_default();
        while got.len() < subscribers.len() - 1 {
            got.push(next(sub).await.text());
        }
    }
    // Time for any duplicate to arrive; then none may have. (A sleep: the
    // absence of a message is no event to wait for.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    for &i in &subscribers {
        let mut got = received.remove(&i).unwrap();
        got.extend(drain(subs.get_mut(&i).unwrap(), Duration::from_millis(1)).await.iter().map(Message::text));
        let expected: BTreeSet<String> =
            round(&subscribers, "r1").into_iter().filter(|t| *t != format!("r1 {i}")).collect();
        assert_eq!(got.len(), expected.len(), "node {i}: each message exactly once");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), expected, "node {i}");
    }
    for (i, sub) in &mut others {
        assert!(drain(sub, Duration::from_millis(50)).await.is_empty(), "quiet node {i} received something");
    }
    for &(x, y) in &edges {
        if quiet.contains(&y) {
            assert!(!nodes[x].1.peers("t").contains(&nodes[y].0.peer_id()));
        }
    }

    // A subscriber whose departure keeps the others connected leaves.
    let leaver = *subscribers
        .iter()
        .find(|&&i| {
            let rest: BTreeSet<usize> = subscribers.iter().copied().filter(|&j| j != i).collect();
            connected(&rest, &edges)
        })
        .expect("some subscriber can leave");
    within(nodes[leaver].0.shutdown()).await;
    subs.remove(&leaver);
    let remaining: Vec<usize> = subscribers.iter().copied().filter(|&i| i != leaver).collect();
    for &i in &remaining {
        let (host, pubsub) = &nodes[i];
        let gone = nodes[leaver].0.peer_id();
        until(pubsub, || !host.is_connected(gone) && !pubsub.peers("t").contains(&gone)).await;
    }
    for &i in &remaining {
        nodes[i].1.publish("t", format!("r2 {i}")).unwrap();
    }
    let mut received: HashMap<usize, Vec<String>> = HashMap::new();
    for &i in &remaining {
        let sub = subs.get_mut(&i).unwrap();
        let got = received.entry(i).or_default();
        while got.len() < remaining.len() - 1 {
            let text = next(sub).await.text();
            if text.starts_with("r2") {
                got.push(text);
            }
        }
    }
    // Time for any duplicate to arrive; then none may have. (A sleep: the
    // absence of a message is no event to wait for.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    for &i in &remaining {
        let mut got = received.remove(&i).unwrap();
        got.extend(drain(subs.get_mut(&i).unwrap(), Duration::from_millis(1)).await.iter().map(Message::text));
        let expected: BTreeSet<String> =
            round(&remaining, "r2").into_iter().filter(|t| *t != format!("r2 {i}")).collect();
        assert_eq!(got.len(), expected.len(), "node {i} after {leaver} left: exactly once");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), expected);
    }
}

#[tokio::test]
async fn signature_policies_across_nodes() {
    let (strict, pub_strict) = node(Config::default()).await;
    let (lax, pub_lax) = node(Config::default().with_signature_policy(SignaturePolicy::Lax)).await;
    let (nosign, pub_nosign) = node(Config::default().with_signature_policy(SignaturePolicy::StrictNoSign)).await;
    let (mut sub_strict, mut sub_lax) = (pub_strict.subscribe("t"), pub_lax.subscribe("t"));
    let _sub_nosign = pub_nosign.subscribe("t");
    within(nosign.dial(address_of(&strict))).await.unwrap();
    within(nosign.dial(address_of(&lax))).await.unwrap();
    sees(&pub_nosign, strict.peer_id(), "t").await;
    sees(&pub_nosign, lax.peer_id(), "t").await;
    pub_nosign.publish("t", "unsigned").unwrap();
    let message = next(&mut sub_lax).await;
    assert_eq!((message.text(), message.source, message.signed), ("unsigned".into(), None, false));
    assert!(drain(&mut sub_strict, Duration::from_millis(200)).await.is_empty(), "StrictSign drops unsigned messages");
}

/// A host whose floodsub handler hands every RPC to `rpcs`; it resets each
/// stream after its first RPC if `one_per_stream` (rust-libp2p's way).
async fn recorder(one_per_stream: bool) -> (Host, mpsc::UnboundedReceiver<Vec<u8>>) {
    let host = host().await;
    let (tx, rx) = mpsc::unbounded_channel();
    host.handle(PROTOCOL, move |mut stream: Stream| {
        let tx = tx.clone();
        async move {
            while let Ok(Some(rpc)) = framing::try_read_length_prefixed(&mut stream, 1 << 20).await {
                let _ = tx.send(rpc);
                if one_per_stream {
                    return Ok(()); // dropped: reset
                }
            }
            Ok(())
        }
    })
    .unwrap();
    (host, rx)
}

#[tokio::test]
async fn a_peer_that_resets_after_one_rpc_gets_a_stream_per_rpc() {
    let (remote, mut rpcs) = recorder(true).await;
    let (local, pubsub) = node(Config::default()).await;
    within(local.dial(address_of(&remote))).await.unwrap();
    let _sub = pubsub.subscribe("a"); // RPC 1, on the long-lived stream: read, then reset
    let first = within(rpcs.recv()).await.unwrap();
    assert!(String::from_utf8_lossy(&first).contains('a'));
    // The remote is not subscribed: publishes go nowhere. Subscriptions do:
    let _b = pubsub.subscribe("b");
    let _c = pubsub.subscribe("c");
    let mut seen = String::new();
    while !(seen.contains('b') && seen.contains('c')) {
        seen.push_str(&String::from_utf8_lossy(&within(rpcs.recv()).await.unwrap()));
    }
}

#[tokio::test]
async fn a_peer_that_opens_a_stream_per_rpc_is_served() {
    let (local, pubsub) = node(Config::default().with_signature_policy(SignaturePolicy::Lax)).await;
    let mut sub = pubsub.subscribe("t");
    let remote = host().await;
    let peer = within(remote.dial(address_of(&local))).await.unwrap();
    // Like rust-libp2p: a new stream per RPC, closed after it.
    for rpc in [
        b"\x0a\x05\x08\x01\x12\x01t".to_vec(), // subscriptions: subscribe "t"
        floodsub_message(&remote, "t", b"one", 1),
        floodsub_message(&remote, "t", b"two", 2),
    ] {
        let mut stream = within(remote.open_stream(peer, &[PROTOCOL])).await.unwrap();
        framing::write_length_prefixed(&mut stream, &rpc).await.unwrap();
        stream.shutdown().await.unwrap();
    }
    assert_eq!(next(&mut sub).await.text(), "one");
    assert_eq!(next(&mut sub).await.text(), "two");
    sees(&pubsub, remote.peer_id(), "t").await;
}

/// An unsigned RPC carrying one message, as rust-libp2p's floodsub sends.
fn floodsub_message(author: &Host, topic: &str, data: &[u8], seqno: u64) -> Vec<u8> {
    fn field(tag: u8, value: &[u8], out: &mut Vec<u8>) {
        out.push(tag);
        out.push(u8::try_from(value.len()).unwrap());
        out.extend_from_slice(value);
    }
    let mut message = Vec::new();
    field(0x0a, &author.peer_id().to_bytes(), &mut message); // from
    field(0x12, data, &mut message); // data
    field(0x1a, &seqno.to_be_bytes(), &mut message); // seqno
    field(0x22, topic.as_bytes(), &mut message); // topicIDs
    let mut rpc = Vec::new();
    field(0x12, &message, &mut rpc); // publish
    rpc
}

#[tokio::test]
async fn a_peer_breaking_limits_loses_its_stream_not_the_connection() {
    let (local, pubsub) = node(Config::default().with_max_topics_per_peer(3)).await;
    let mut sub = pubsub.subscribe("t");
    let (remote, remote_pubsub) = node(Config::default()).await;
    let peer = within(remote.dial(address_of(&local))).await.unwrap();
    // Five subscriptions in one RPC, on a stream of its own.
    let mut greedy = Vec::new();
    for topic in ["a", "b", "c", "d", "e"] {
        greedy.extend_from_slice(&[0x0a, 0x05, 0x08, 0x01, 0x12, 0x01, topic.as_bytes()[0]]);
    }
    let mut stream = within(remote.open_stream(peer, &[PROTOCOL])).await.unwrap();
    framing::write_length_prefixed(&mut stream, &greedy).await.unwrap();
    stream.flush().await.unwrap();
    let mut buf = [0u8; 1];
    let err = within(tokio::io::AsyncReadExt::read(&mut stream, &mut buf)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "the stream is dropped");
    // An oversized RPC likewise: refused at its length prefix, reset while
    // the remote is still writing it.
    let mut stream = within(remote.open_stream(peer, &[PROTOCOL])).await.unwrap();
    let oversized = within(framing::write_length_prefixed(&mut stream, &vec![0u8; 2 << 20])).await;
    assert!(oversized.is_err(), "the stream is reset under the writer");
    // The connection, and floodsub on it, still work.
    assert!(remote.is_connected(local.peer_id()));
    let _remote_sub = remote_pubsub.subscribe("t");
    sees(&remote_pubsub, local.peer_id(), "t").await;
    remote_pubsub.publish("t", "still here").unwrap();
    assert_eq!(next(&mut sub).await.text(), "still here");
}
