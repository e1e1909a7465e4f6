//! The pubsub signing rule against rust-libp2p 0.57's **gossipsub**, which
//! signs (`MessageAuthenticity::Signed`) and validates strictly: a strata
//! host speaks raw `/meshsub/1.1.0` with strata-pubsub's codec, both
//! directions.
//!
//! - rust → strata: rust-libp2p publishes a signed message; strata-pubsub
//!   verifies it under `StrictSign` (fields 5 and 6 left out of the
//!   signed bytes).
//! - strata → rust: strata-pubsub signs a message; rust-libp2p's strict
//!   validation accepts it and delivers it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_testkit::within;

use futures::StreamExt as _;
use libp2p::{gossipsub, swarm::SwarmEvent};
use strata::{
    Keypair, Multiaddr,
    core::framing,
    pubsub::{Rpc, SignaturePolicy, message},
};
use tokio::{io::AsyncWriteExt, sync::mpsc};

#[path = "support/rust_peer.rs"]
mod rust_peer;

const TOPIC: &str = "signed";
const MESHSUB: &str = "/meshsub/1.1.0";

enum Seen {
    Listening(libp2p::Multiaddr),
    Subscribed(libp2p::PeerId),
    Message(Option<libp2p::PeerId>, Vec<u8>),
}

/// A rust-libp2p node with signing, strictly validating gossipsub,
/// subscribed to the topic; `publish` sends it data to publish.
fn rust_node() -> (libp2p::PeerId, mpsc::UnboundedSender<Vec<u8>>, mpsc::UnboundedReceiver<Seen>) {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let peer = keypair.public().to_peer_id();
    let mut swarm = rust_peer::swarm(keypair, |key| {
        let config = gossipsub::ConfigBuilder::default()
            .validation_mode(gossipsub::ValidationMode::Strict)
            .build()
            .expect("a gossipsub config");
        gossipsub::Behaviour::<gossipsub::IdentityTransform, gossipsub::AllowAllSubscriptionFilter>::new(
            gossipsub::MessageAuthenticity::Signed(key.clone()),
            config,
        )
        .expect("a gossipsub behaviour")
    });
    swarm.behaviour_mut().subscribe(&gossipsub::IdentTopic::new(TOPIC)).unwrap();
    swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
    let (publish, mut publish_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                data = publish_rx.recv() => match data {
                    Some(data) => drop(swarm.behaviour_mut().publish(gossipsub::IdentTopic::new(TOPIC), data).unwrap()),
                    None => return,
                },
                event = swarm.select_next_some() => {
                    let report = match event {
                        SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                        SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. }) => Seen::Subscribed(peer_id),
                        SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) => {
                            Seen::Message(message.source, message.data)
                        }
                        _ => continue,
                    };
                    if seen.send(report).is_err() {
                        return;
                    }
                }
            }
        }
    });
    (peer, publish, seen_rx)
}

use rust_peer::ours;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_messages_cross_both_ways_with_rust_libp2p_gossipsub() {
    let (rust_peer, publish, mut seen) = rust_node();
    let Some(Seen::Listening(addr)) = within(seen.recv()).await else { panic!("listening first") };

    let key = Keypair::generate_ed25519();
    let host = strata::builder(&key).build().await.unwrap();
    // Every message rust-libp2p sends us, checked under StrictSign.
    let (verified_tx, mut verified) = mpsc::unbounded_channel();
    host.handle(MESHSUB, move |mut stream| {
        let verified = verified_tx.clone();
        async move {
            while let Some(bytes) =
                framing::try_read_length_prefixed(&mut stream, 1 << 20).await.map_err(std::io::Error::other)?
            {
                let rpc = Rpc::decode(&bytes).expect("a gossipsub RPC decodes as a pubsub RPC");
                for raw in rpc.publish {
                    drop(verified.send(message::receive(SignaturePolicy::StrictSign, 1 << 20, &raw)));
                }
            }
            stream.shutdown().await
        }
    })
    .unwrap();

    let addr = Multiaddr::from_bytes(&addr.to_vec()).unwrap().with_p2p(ours(rust_peer)).unwrap();
    within(host.dial(addr)).await.unwrap();
    // Announce our subscription on a long-lived stream of our own.
    let mut stream = within(host.open_stream(ours(rust_peer), &[MESHSUB])).await.unwrap();
    framing::write_length_prefixed(&mut stream, &Rpc::subscriptions([(TOPIC, true)]).encode()).await.unwrap();
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

    // rust → strata.
    publish.send(b"signed by rust-libp2p".to_vec()).unwrap();
    let received = within(verified.recv()).await.unwrap().expect("rust-libp2p's signature verifies");
    assert_eq!(received.source, Some(ours(rust_peer)));
    assert_eq!(received.data, b"signed by rust-libp2p");
    assert!(received.signed);

    // strata → rust.
    let (raw, _) = message::publish(
        SignaturePolicy::StrictSign,
        &key.public(),
        |bytes| key.sign(bytes),
        1,
        TOPIC,
        b"signed by strata",
    );
    framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![raw]).encode()).await.unwrap();
    let (source, data) = within(async {
        loop {
            if let Some(Seen::Message(source, data)) = seen.recv().await {
                return (source, data);
            }
        }
    })
    .await;
    assert_eq!((source.map(ours), data.as_slice()), (Some(host.peer_id()), &b"signed by strata"[..]));

    // A tampered strata message is dropped by rust-libp2p: the next good
    // one is the next delivered.
    let (raw, _) =
        message::publish(SignaturePolicy::StrictSign, &key.public(), |bytes| key.sign(bytes), 2, TOPIC, b"good");
    let mut tampered = raw.clone();
    let at = tampered.windows(4).position(|w| w == b"good").unwrap();
    tampered[at] = b'f';
    framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![tampered]).encode()).await.unwrap();
    let (raw3, _) =
        message::publish(SignaturePolicy::StrictSign, &key.public(), |bytes| key.sign(bytes), 3, TOPIC, b"after");
    framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![raw3]).encode()).await.unwrap();
    let data = within(async {
        loop {
            if let Some(Seen::Message(_, data)) = seen.recv().await {
                return data;
            }
        }
    })
    .await;
    assert_eq!(data, b"after", "the tampered message was not delivered");
    host.shutdown().await;
}
