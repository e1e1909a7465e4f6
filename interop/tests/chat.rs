//! strata's chat example (the binary, driven through stdin and stdout as
//! a person uses it) against a rust-libp2p node configured as
//! rust-libp2p's own `examples/chat` is: gossipsub with signed messages
//! (`ValidationMode::Strict`), message ids from a hash of the data, a 10 s
//! heartbeat, topic `test-net`, yamux over TCP. A line typed in either
//! appears in the other. (The example finds peers by mDNS; here the chat
//! dials the rust node's address, as the README says to.)
//!
//! `cargo test --workspace` builds the chat example before any test runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    process::Stdio,
    time::Duration,
};

use futures::StreamExt as _;
use libp2p::{
    gossipsub::{self, IdentTopic, MessageAuthenticity},
    swarm::SwarmEvent,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{ChildStdout, Command},
    sync::mpsc,
};

#[path = "support/rust_peer.rs"]
mod rust_peer;

const LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum Seen {
    Listening(libp2p::Multiaddr),
    Subscribed(libp2p::PeerId),
    Message(String),
}

/// rust-libp2p's `examples/chat` node, minus mDNS.
fn rust_chat(mut lines: mpsc::UnboundedReceiver<String>) -> mpsc::UnboundedReceiver<Seen> {
    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let mut swarm = rust_peer::swarm(keypair, |key| {
        let message_id_fn = |message: &gossipsub::Message| {
            let mut hasher = DefaultHasher::new();
            message.data.hash(&mut hasher);
            gossipsub::MessageId::from(hasher.finish().to_string())
        };
        let config = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_secs(10))
            .validation_mode(gossipsub::ValidationMode::Strict)
            .message_id_fn(message_id_fn)
            .build()
            .unwrap();
        gossipsub::Behaviour::<gossipsub::IdentityTransform>::new(MessageAuthenticity::Signed(key.clone()), config)
            .unwrap()
    });
    let topic = IdentTopic::new("test-net");
    swarm.behaviour_mut().subscribe(&topic).unwrap();
    swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let report = tokio::select! {
                line = lines.recv() => match line {
                    Some(line) => {
                        swarm.behaviour_mut().publish(topic.clone(), line.into_bytes()).unwrap();
                        continue;
                    }
                    None => return,
                },
                event = swarm.select_next_some() => match event {
                    SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                    SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. }) => Seen::Subscribed(peer_id),
                    SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) => {
                        Seen::Message(String::from_utf8_lossy(&message.data).into_owned())
                    }
                    _ => continue,
                },
            };
            if seen.send(report).is_err() {
                return;
            }
        }
    });
    seen_rx
}

async fn next_seen(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(LIMIT, seen.recv()).await.expect("the rust node went quiet").expect("the rust node stopped")
}

async fn wait_for(lines: &mut Lines<BufReader<ChildStdout>>, wanted: impl Fn(&str) -> bool) -> String {
    strata_testkit::wait_for_line(lines, wanted).await
}

#[tokio::test]
async fn the_chat_talks_to_rust_libp2ps_chat_example_on_test_net() {
    let (type_in_rust, rust_lines) = mpsc::unbounded_channel();
    let mut seen = rust_chat(rust_lines);
    let Seen::Listening(address) = next_seen(&mut seen).await else { panic!("the rust node listens first") };

    let mut chat = Command::new(strata_testkit::example_binary("chat"))
        .args(["--listen", "/ip4/127.0.0.1/tcp/0", "--topic", "test-net", "--nick", "strata", "--no-mdns"])
        .args(["--dial", &address.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(chat.stdout.take().unwrap()).lines();
    let banner = wait_for(&mut out, |l| l.starts_with("strata chat: you are")).await;
    assert!(banner.contains("(gossipsub)"), "gossipsub is the default: {banner}");
    wait_for(&mut out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;
    let chat_peer = banner.split(['(', ')']).nth(1).unwrap().to_owned();
    loop {
        if let Seen::Subscribed(peer) = next_seen(&mut seen).await {
            assert_eq!(peer.to_string(), chat_peer, "the rust node sees the chat subscribe");
            break;
        }
    }

    let stdin = chat.stdin.as_mut().unwrap();
    stdin.write_all(b"hello from strata\n").await.unwrap();
    stdin.flush().await.unwrap();
    loop {
        if let Seen::Message(text) = next_seen(&mut seen).await {
            assert_eq!(text, "strata: hello from strata");
            break;
        }
    }
    type_in_rust.send("hello from rust-libp2p".to_owned()).unwrap();
    let line = wait_for(&mut out, |l| l.ends_with("hello from rust-libp2p")).await;
    assert!(line.ends_with(": hello from rust-libp2p"), "printed after the sender's short id: {line}");
    chat.kill().await.unwrap();
}
