//! strata's gossipsub against rust-libp2p 0.57's (libp2p-gossipsub 0.50,
//! which also offers `/meshsub/1.3.0`; the negotiation lands on 1.2.0),
//! both directions over yamux: each sees the other subscribed, each
//! grafts the other into its mesh, signed messages cross both ways; and a
//! second rust-libp2p node, connected only to the first, receives a
//! strata message through the mesh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_testkit::{eventually, within};

use futures::StreamExt as _;
use libp2p::{
    gossipsub::{self, IdentTopic, MessageAuthenticity},
    swarm::SwarmEvent,
};
use strata::{
    Keypair,
    gossipsub::{Config, Gossipsub, Subscription},
};
use tokio::sync::mpsc;

#[path = "support/rust_peer.rs"]
mod rust_peer;

use rust_peer::{TheirMuxer, ours, theirs};

const TOPIC: &str = "chat";

enum Command {
    Publish(Vec<u8>),
    Dial(libp2p::Multiaddr),
}

#[derive(Debug)]
enum Seen {
    Listening(libp2p::Multiaddr),
    /// Its mesh of the topic, reported on every heartbeat-sized tick.
    Mesh(Vec<libp2p::PeerId>),
    Message {
        source: Option<libp2p::PeerId>,
        data: Vec<u8>,
    },
}

/// A rust-libp2p node with gossipsub (signed, heartbeat 200 ms),
/// subscribed to the topic.
fn rust_node(listen: bool) -> (libp2p::PeerId, mpsc::UnboundedSender<Command>, mpsc::UnboundedReceiver<Seen>) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = rust_peer::swarm_with(keypair, TheirMuxer::Yamux, |key| {
        let config =
            gossipsub::ConfigBuilder::default().heartbeat_interval(Duration::from_millis(200)).build().unwrap();
        gossipsub::Behaviour::<gossipsub::IdentityTransform>::new(MessageAuthenticity::Signed(key.clone()), config)
            .unwrap()
    });
    let topic = IdentTopic::new(TOPIC);
    swarm.behaviour_mut().subscribe(&topic).unwrap();
    if listen {
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
    }
    let (commands, mut command_rx) = mpsc::unbounded_channel();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            let report = tokio::select! {
                command = command_rx.recv() => match command {
                    Some(Command::Publish(data)) => {
                        // Before the mesh forms a publish may find no peer;
                        // the test waits for the mesh first.
                        swarm.behaviour_mut().publish(topic.clone(), data).unwrap();
                        continue;
                    }
                    Some(Command::Dial(addr)) => {
                        swarm.dial(addr).unwrap();
                        continue;
                    }
                    None => return,
                },
                _ = tick.tick() => Seen::Mesh(swarm.behaviour().mesh_peers(&topic.hash()).copied().collect()),
                event = swarm.select_next_some() => match event {
                    SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                    SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) => {
                        Seen::Message { source: message.source, data: message.data }
                    }
                    _ => continue,
                },
            };
            if seen.send(report).is_err() {
                return;
            }
        }
    });
    (peer, commands, seen_rx)
}

async fn strata_node() -> (strata::Host, Gossipsub, Subscription) {
    let host = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let pubsub = Gossipsub::attach(&host, Config::default().with_heartbeat(Duration::from_millis(200))).unwrap();
    let subscription = pubsub.subscribe(TOPIC);
    (host, pubsub, subscription)
}

async fn listening(seen: &mut mpsc::UnboundedReceiver<Seen>) -> libp2p::Multiaddr {
    within(async {
        loop {
            if let Some(Seen::Listening(address)) = seen.recv().await {
                return address;
            }
        }
    })
    .await
}

/// Waits until the rust node's mesh holds `peer`.
async fn rust_mesh_has(seen: &mut mpsc::UnboundedReceiver<Seen>, peer: libp2p::PeerId) {
    within(async {
        loop {
            if let Some(Seen::Mesh(mesh)) = seen.recv().await
                && mesh.contains(&peer)
            {
                return;
            }
        }
    })
    .await;
}

async fn rust_message(seen: &mut mpsc::UnboundedReceiver<Seen>) -> (Option<libp2p::PeerId>, String) {
    within(async {
        loop {
            if let Some(Seen::Message { source, data }) = seen.recv().await {
                return (source, String::from_utf8(data).unwrap());
            }
        }
    })
    .await
}

/// Both graft each other; messages cross both ways, signed and
/// attributed.
async fn exchange(
    pubsub: &Gossipsub,
    subscription: &mut Subscription,
    host: &strata::Host,
    rust_peer: libp2p::PeerId,
    commands: &mpsc::UnboundedSender<Command>,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) {
    rust_mesh_has(seen, theirs(host.peer_id())).await;
    eventually("strata grafts the rust node", async || pubsub.mesh_peers(TOPIC).contains(&ours(rust_peer))).await;
    for round in 0..3 {
        pubsub.publish(TOPIC, format!("strata {round}")).unwrap();
        assert_eq!(rust_message(seen).await, (Some(theirs(host.peer_id())), format!("strata {round}")));
        commands.send(Command::Publish(format!("rust {round}").into_bytes())).unwrap();
        let message = within(subscription.next()).await.unwrap();
        assert_eq!(
            (message.text(), message.source, message.signed),
            (format!("rust {round}"), Some(ours(rust_peer)), true)
        );
    }
}

#[tokio::test]
async fn strata_dials_rust_libp2p() {
    let (host, pubsub, mut subscription) = strata_node().await;
    let (rust_peer, commands, mut seen) = rust_node(true);
    let address = listening(&mut seen).await;
    within(host.dial(address.to_string().parse().unwrap())).await.unwrap();
    exchange(&pubsub, &mut subscription, &host, rust_peer, &commands, &mut seen).await;
}

#[tokio::test]
async fn rust_libp2p_dials_strata() {
    let (host, pubsub, mut subscription) = strata_node().await;
    let (rust_peer, commands, mut seen) = rust_node(false);
    let address = host.listen_addrs()[0].to_string().parse().unwrap();
    commands.send(Command::Dial(address)).unwrap();
    exchange(&pubsub, &mut subscription, &host, rust_peer, &commands, &mut seen).await;
}

#[tokio::test]
async fn a_second_rust_node_gets_a_strata_message_through_the_mesh() {
    let (host, pubsub, _subscription) = strata_node().await;
    let (first, _first_commands, mut first_seen) = rust_node(true);
    let (_second, second_commands, mut second_seen) = rust_node(false);
    let first_address = listening(&mut first_seen).await;
    // strata — first — second: the second knows strata only through the first.
    within(host.dial(first_address.to_string().parse().unwrap())).await.unwrap();
    second_commands.send(Command::Dial(first_address)).unwrap();
    rust_mesh_has(&mut first_seen, theirs(host.peer_id())).await;
    eventually("strata grafts the first rust node", async || pubsub.mesh_peers(TOPIC).contains(&ours(first))).await;
    let mut second_mesh = Vec::new();
    while second_mesh.is_empty() {
        if let Some(Seen::Mesh(mesh)) = within(second_seen.recv()).await {
            second_mesh = mesh;
        }
    }
    pubsub.publish(TOPIC, "through the mesh").unwrap();
    assert_eq!(rust_message(&mut second_seen).await, (Some(theirs(host.peer_id())), "through the mesh".into()));
}
