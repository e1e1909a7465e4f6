//! strata's floodsub against rust-libp2p 0.57's (libp2p-floodsub 0.48),
//! both directions, over yamux and over mplex: each sees the other's
//! subscription, and messages cross both ways.
//!
//! rust-libp2p's floodsub never signs its messages, so strata talks to it
//! with `SignaturePolicy::Lax` (sign ours, accept unsigned, drop bad
//! signatures); the last test shows that the default `StrictSign` drops
//! its messages. It opens a stream per RPC and resets each inbound stream
//! after one RPC; strata adapts (one stream per RPC to such a peer).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_testkit::{eventually, within};

use futures::StreamExt as _;
use libp2p::swarm::SwarmEvent;
use libp2p_floodsub::{Behaviour, Event, Topic};
use strata::{Keypair, Multiaddr};
use strata_floodsub_interop::*;
use tokio::sync::mpsc;

mod strata_floodsub_interop {
    pub(crate) use strata::floodsub::{Config, Floodsub, SignaturePolicy, Subscription};
}

#[path = "support/rust_peer.rs"]
mod rust_peer;

const TOPIC: &str = "chat";

enum Command {
    Publish(Vec<u8>),
    Dial(libp2p::Multiaddr),
}

enum Seen {
    Listening(libp2p::Multiaddr),
    Subscribed(libp2p::PeerId),
    Message(libp2p::PeerId, Vec<u8>),
}

/// A rust-libp2p node with floodsub, subscribed to the topic; every peer
/// that connects joins its partial view (floodsub talks only to those).
fn rust_node(
    listen: bool,
    muxer: TheirMuxer,
) -> (libp2p::PeerId, mpsc::UnboundedSender<Command>, mpsc::UnboundedReceiver<Seen>) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = rust_peer::swarm_with(keypair, muxer, |key| Behaviour::new(key.public().to_peer_id()));
    swarm.behaviour_mut().subscribe(Topic::new(TOPIC));
    if listen {
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
    }
    let (commands, mut command_rx) = mpsc::unbounded_channel();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                command = command_rx.recv() => match command {
                    Some(Command::Publish(data)) => swarm.behaviour_mut().publish(Topic::new(TOPIC), data),
                    Some(Command::Dial(addr)) => swarm.dial(addr).unwrap(),
                    None => return,
                },
                event = swarm.select_next_some() => {
                    let report = match event {
                        SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                            swarm.behaviour_mut().add_node_to_partial_view(peer_id);
                            continue;
                        }
                        SwarmEvent::Behaviour(Event::Subscribed { peer_id, .. }) => Seen::Subscribed(peer_id),
                        SwarmEvent::Behaviour(Event::Message(message)) => Seen::Message(message.source, message.data.to_vec()),
                        _ => continue,
                    };
                    if seen.send(report).is_err() {
                        return;
                    }
                }
            }
        }
    });
    (peer, commands, seen_rx)
}

use rust_peer::{TheirMuxer, ours};

async fn strata_node(policy: SignaturePolicy) -> (strata::Host, Floodsub, Subscription) {
    let host = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let pubsub = Floodsub::attach(&host, Config::default().with_signature_policy(policy)).unwrap();
    let subscription = pubsub.subscribe(TOPIC);
    (host, pubsub, subscription)
}

/// Both see each other subscribed; then `rounds` messages each way.
async fn exchange(
    host: &strata::Host,
    pubsub: &Floodsub,
    subscription: &mut Subscription,
    rust_peer: libp2p::PeerId,
    commands: &mpsc::UnboundedSender<Command>,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) {
    within(async {
        loop {
            if let Some(Seen::Subscribed(peer)) = seen.recv().await
                && ours(peer) == host.peer_id()
            {
                return;
            }
        }
    })
    .await;
    eventually("strata sees the rust node subscribed", async || pubsub.peers(TOPIC).contains(&ours(rust_peer))).await;

    for round in 0..5 {
        pubsub.publish(TOPIC, format!("strata {round}")).unwrap();
        let (source, data) = within(async {
            loop {
                if let Some(Seen::Message(source, data)) = seen.recv().await {
                    return (source, data);
                }
            }
        })
        .await;
        assert_eq!((ours(source), String::from_utf8(data).unwrap()), (host.peer_id(), format!("strata {round}")));

        commands.send(Command::Publish(format!("rust {round}").into_bytes())).unwrap();
        let message = within(subscription.next()).await.unwrap();
        assert_eq!((message.source, message.text()), (Some(ours(rust_peer)), format!("rust {round}")));
        assert!(!message.signed, "rust-libp2p's floodsub does not sign");
    }
    assert!(host.is_connected(ours(rust_peer)), "the connection survived every stream");
}

async fn strata_dials_rust_libp2p_over(muxer: TheirMuxer) {
    let (rust_peer, commands, mut seen) = rust_node(true, muxer);
    let Some(Seen::Listening(addr)) = within(seen.recv()).await else { panic!("listening first") };
    let (host, pubsub, mut subscription) = strata_node(SignaturePolicy::Lax).await;
    let addr = Multiaddr::from_bytes(&addr.to_vec()).unwrap().with_p2p(ours(rust_peer)).unwrap();
    within(host.dial(addr)).await.unwrap();
    exchange(&host, &pubsub, &mut subscription, rust_peer, &commands, &mut seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_over_yamux() {
    strata_dials_rust_libp2p_over(TheirMuxer::Yamux).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_over_mplex() {
    strata_dials_rust_libp2p_over(TheirMuxer::Mplex).await;
}

async fn rust_libp2p_dials_strata_over(muxer: TheirMuxer) {
    let (host, pubsub, mut subscription) = strata_node(SignaturePolicy::Lax).await;
    let (rust_peer, commands, mut seen) = rust_node(false, muxer);
    let addr = host.listen_addrs()[0].clone().with_p2p(host.peer_id()).unwrap();
    commands.send(Command::Dial(libp2p::Multiaddr::try_from(addr.to_vec()).unwrap())).unwrap();
    exchange(&host, &pubsub, &mut subscription, rust_peer, &commands, &mut seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_over_yamux() {
    rust_libp2p_dials_strata_over(TheirMuxer::Yamux).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_over_mplex() {
    rust_libp2p_dials_strata_over(TheirMuxer::Mplex).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_sign_drops_rust_libp2p_messages() {
    let (rust_peer, commands, mut seen) = rust_node(true, TheirMuxer::Yamux);
    let Some(Seen::Listening(addr)) = within(seen.recv()).await else { panic!("listening first") };
    let (host, pubsub, mut subscription) = strata_node(SignaturePolicy::StrictSign).await;
    let addr = Multiaddr::from_bytes(&addr.to_vec()).unwrap().with_p2p(ours(rust_peer)).unwrap();
    within(host.dial(addr)).await.unwrap();
    eventually("strata sees the rust node subscribed", async || pubsub.peers(TOPIC).contains(&ours(rust_peer))).await;
    commands.send(Command::Publish(b"unsigned".to_vec())).unwrap();
    let arrived = tokio::time::timeout(Duration::from_millis(500), subscription.next()).await;
    assert!(arrived.is_err(), "an unsigned message must not pass StrictSign");
}
