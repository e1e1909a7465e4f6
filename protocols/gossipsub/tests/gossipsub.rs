//! gossipsub between hosts over TCP + Noise on loopback: meshes form, a
//! message crosses a line of nodes through their meshes, floodsub nodes
//! take part.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::PeerId;
use strata_gossipsub::{Config, Event, Gossipsub, Message, Subscription};
use strata_host::Host;
use strata_testkit::{address_of, host, within};

fn fast() -> Config {
    Config::default().with_heartbeat(Duration::from_millis(100))
}

async fn node(config: Config) -> (Host, Gossipsub) {
    let host = host().await;
    let pubsub = Gossipsub::attach(&host, config).unwrap();
    (host, pubsub)
}

/// Waits (bounded) until `check` holds, looking again at each of the
/// service's events: every change of the peers' topics and of our meshes
/// is one.
async fn until<R: strata_pubsub::Router>(pubsub: &strata_pubsub::Service<R>, check: impl Fn() -> bool) {
    let mut events = pubsub.events();
    within(async {
        while !check() {
            if let Err(tokio::sync::broadcast::error::RecvError::Closed) = events.recv().await {
                panic!("the service stopped");
            }
        }
    })
    .await;
}

async fn in_mesh(pubsub: &Gossipsub, peer: PeerId, topic: &str) {
    until(pubsub, || pubsub.mesh_peers(topic).contains(&peer)).await;
}

async fn next(subscription: &mut Subscription) -> Message {
    within(subscription.next()).await.expect("a message")
}

#[tokio::test]
async fn two_nodes_graft_each_other_and_talk() {
    let ((a, pub_a), (b, pub_b)) = (node(fast()).await, node(fast()).await);
    let mut events = pub_a.events();
    let (mut sub_a, mut sub_b) = (pub_a.subscribe("chat"), pub_b.subscribe("chat"));
    within(a.dial(address_of(&b))).await.unwrap();
    in_mesh(&pub_a, b.peer_id(), "chat").await;
    in_mesh(&pub_b, a.peer_id(), "chat").await;
    let grafted = within(async {
        loop {
            if let Ok(Event::Grafted { peer, topic }) = events.recv().await {
                return (peer, topic);
            }
        }
    })
    .await;
    assert_eq!(grafted, (b.peer_id(), "chat".to_owned()));
    pub_a.publish("chat", "hello from a").unwrap();
    let message = next(&mut sub_b).await;
    assert_eq!((message.text(), message.source), ("hello from a".into(), Some(a.peer_id())));
    pub_b.publish("chat", "hello from b").unwrap();
    assert_eq!(next(&mut sub_a).await.text(), "hello from b");
}

#[tokio::test]
async fn a_message_crosses_a_line_of_four_through_the_meshes() {
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(node(fast()).await);
    }
    let mut subs: Vec<Subscription> = nodes.iter().map(|(_, pubsub)| pubsub.subscribe("line")).collect();
    for pair in nodes.windows(2) {
        within(pair[0].0.dial(address_of(&pair[1].0))).await.unwrap();
    }
    for pair in nodes.windows(2) {
        in_mesh(&pair[0].1, pair[1].0.peer_id(), "line").await;
        in_mesh(&pair[1].1, pair[0].0.peer_id(), "line").await;
    }
    nodes[0].1.publish("line", "end to end").unwrap();
    for sub in &mut subs[1..] {
        assert_eq!(next(sub).await.text(), "end to end");
    }
    nodes[3].1.publish("line", "and back").unwrap();
    for sub in &mut subs[..3] {
        assert_eq!(next(sub).await.text(), "and back");
    }
    // Each arrives once: nothing more is waiting.
    for sub in &mut subs {
        assert!(tokio::time::timeout(Duration::from_millis(300), sub.next()).await.is_err(), "no duplicate");
    }
}

#[tokio::test]
async fn a_floodsub_node_gets_and_sends_messages_but_never_joins_the_mesh() {
    let (g, gossip) = node(fast()).await;
    let f = host().await;
    let flood = strata_floodsub::Floodsub::attach(&f, strata_floodsub::Config::default()).unwrap();
    let (mut sub_g, mut sub_f) = (gossip.subscribe("mixed"), flood.subscribe("mixed"));
    within(f.dial(address_of(&g))).await.unwrap();
    until(&gossip, || gossip.peers("mixed").contains(&f.peer_id())).await;
    until(&flood, || flood.peers("mixed").contains(&g.peer_id())).await;
    gossip.publish("mixed", "to floodsub").unwrap();
    assert_eq!(next(&mut sub_f).await.text(), "to floodsub");
    flood.publish("mixed", "to gossipsub").unwrap();
    assert_eq!(next(&mut sub_g).await.text(), "to gossipsub");
    // Three heartbeats for a wrong graft to happen. (A sleep: the absence
    // of a graft is no event to wait for.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gossip.mesh_peers("mixed").is_empty(), "a floodsub peer is never grafted");
}

#[tokio::test]
async fn leaving_a_topic_prunes_the_mesh() {
    let ((a, pub_a), (b, pub_b)) = (node(fast()).await, node(fast()).await);
    let sub_a = pub_a.subscribe("t");
    let _sub_b = pub_b.subscribe("t");
    within(a.dial(address_of(&b))).await.unwrap();
    in_mesh(&pub_b, a.peer_id(), "t").await;
    drop(sub_a);
    until(&pub_b, || !pub_b.mesh_peers("t").contains(&a.peer_id())).await;
    assert!(pub_a.mesh_peers("t").is_empty());
}

#[tokio::test]
async fn an_async_validator_decides_what_is_delivered_and_forwarded() {
    use strata_gossipsub::{Validator, Verdict};
    // b validates asynchronously: "bad" is rejected, the rest accepted.
    let validator = Validator::asynchronous(|_from, message: Message| async move {
        // A slow validator, as the application's may be: the sleep is the
        // behaviour under test, not a wait.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if message.data == b"bad" { Verdict::Reject } else { Verdict::Accept }
    });
    let (a, pub_a) = node(fast()).await;
    let (b, pub_b) = node(fast().with_validator(validator)).await;
    let (c, pub_c) = node(fast()).await;
    let (mut sub_b, mut sub_c) = (pub_b.subscribe("v"), pub_c.subscribe("v"));
    let _sub_a = pub_a.subscribe("v");
    // A line a — b — c: c hears only what b forwards.
    within(a.dial(address_of(&b))).await.unwrap();
    within(b.dial(address_of(&c))).await.unwrap();
    in_mesh(&pub_b, a.peer_id(), "v").await;
    in_mesh(&pub_b, c.peer_id(), "v").await;
    in_mesh(&pub_c, b.peer_id(), "v").await;
    pub_a.publish("v", "bad").unwrap();
    pub_a.publish("v", "good").unwrap();
    assert_eq!(next(&mut sub_b).await.text(), "good", "the rejected one is not delivered");
    assert_eq!(next(&mut sub_c).await.text(), "good", "nor forwarded");
    assert!(pub_b.peer_score(a.peer_id()) < 0.0, "the rejection counts against a: {}", pub_b.peer_score(a.peer_id()));
}

#[tokio::test]
async fn a_direct_peer_is_dialed_sent_everything_and_never_grafted() {
    let (b, pub_b) = node(fast()).await;
    let (a, pub_a) = node(fast().with_direct_peer(b.peer_id(), vec![address_of(&b)])).await;
    let (mut sub_a, mut sub_b) = (pub_a.subscribe("d"), pub_b.subscribe("d"));
    // Nobody dials by hand: a's first heartbeat dials its direct peer.
    until(&pub_a, || pub_a.peers("d").contains(&b.peer_id())).await;
    until(&pub_b, || pub_b.peers("d").contains(&a.peer_id())).await;
    pub_a.publish("d", "to my direct peer").unwrap();
    assert_eq!(next(&mut sub_b).await.text(), "to my direct peer");
    pub_b.publish("d", "and back").unwrap();
    assert_eq!(next(&mut sub_a).await.text(), "and back");
    // Three heartbeats for a wrong graft to happen. (A sleep: the absence
    // of a graft is no event to wait for.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pub_a.mesh_peers("d").is_empty(), "a direct peer is not grafted");
    assert!(pub_b.mesh_peers("d").is_empty(), "and b's GRAFT to a was refused");
}
