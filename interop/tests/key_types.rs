//! Nodes of every libp2p key type meeting across implementations:
//! rust-libp2p 0.57 nodes whose key is secp256k1, ECDSA (P-256) or RSA
//! (2,048 bits) meet a strata node with Ed25519, and strata nodes whose key
//! is secp256k1, ECDSA or RSA (the spec's 4,096-bit vector) meet a
//! rust-libp2p node with Ed25519. One test per transport (TCP with Noise
//! and yamux; QUIC with TLS) and direction, each running every meeting in
//! turn. A meeting checks:
//!
//! - authentication: each side's connection names the peer id of the
//!   other's key (so the Noise payload or TLS certificate extension, signed
//!   by that key, was verified);
//! - ping: strata pings the rust node and the rust node pings strata;
//! - identify: each side receives the other's public key, of its type and
//!   byte for byte, naming the connection's peer id;
//! - signed gossipsub, rust-libp2p validating strictly
//!   (`ValidationMode::Strict`): a message each way, signed by its author.
//!   RSA and ECDSA peer ids are hashes, so those authors' messages must
//!   carry `key`: neither side can verify them otherwise (strata without a
//!   `key` takes the key from `from`, which fails for a hashed id), so a
//!   message delivered as signed and from its author shows `key` was sent
//!   and checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::{
    gossipsub::{self, IdentTopic, MessageAuthenticity},
    identify, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
};
use strata::{KeyType, Keypair, PeerId, gossipsub::Gossipsub, pubsub::Subscription};
use strata_testkit::within;
use tokio::sync::{broadcast, mpsc};

#[path = "support/keys.rs"]
mod keys;
#[path = "support/rust_peer.rs"]
mod rust_peer;

use rust_peer::{TheirMuxer, ours, ours_addr, theirs, theirs_addr};

const TOPIC: &str = "key-types";

/// Who has which key in each meeting: (strata's, rust-libp2p's).
const MEETINGS: [(KeyType, KeyType); 6] = [
    (KeyType::Ed25519, KeyType::Secp256k1),
    (KeyType::Ed25519, KeyType::Ecdsa),
    (KeyType::Ed25519, KeyType::Rsa),
    (KeyType::Secp256k1, KeyType::Ed25519),
    (KeyType::Ecdsa, KeyType::Ed25519),
    (KeyType::Rsa, KeyType::Ed25519),
];

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Quic,
}

impl Transport {
    fn listen_addr(self) -> strata::Multiaddr {
        match self {
            Self::Tcp => "/ip4/127.0.0.1/tcp/0",
            Self::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
        }
        .parse()
        .unwrap()
    }

    fn their_muxer(self) -> TheirMuxer {
        match self {
            Self::Tcp => TheirMuxer::Yamux,
            Self::Quic => TheirMuxer::Quic,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Dialer {
    Strata,
    RustLibp2p,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
}

enum Command {
    Dial(libp2p::Multiaddr),
    Publish(Vec<u8>),
}

/// What the rust-libp2p node reports.
#[derive(Debug)]
enum Seen {
    Listening(libp2p::Multiaddr),
    Connected(libp2p::PeerId),
    Pong(libp2p::PeerId),
    Identified(libp2p::PeerId, Box<identify::Info>),
    /// `peer` joined its mesh of the topic.
    Grafted(libp2p::PeerId),
    /// Its publish succeeded or failed.
    Published(Result<(), String>),
    /// A message its strict validation accepted.
    Message {
        source: Option<libp2p::PeerId>,
        data: Vec<u8>,
    },
}

/// A rust-libp2p node with ping, identify and signing, strictly validating
/// gossipsub (heartbeat 200 ms) subscribed to the topic, driven by a task
/// of its own. Everything it reports is kept, so a wait finds an event
/// whether it came before or after the wait began.
struct RustNode {
    peer: libp2p::PeerId,
    commands: mpsc::UnboundedSender<Command>,
    seen: mpsc::UnboundedReceiver<Seen>,
    log: Vec<Seen>,
}

impl RustNode {
    /// A node with `keypair` on `transport`, listening on loopback if
    /// `listen`.
    fn new(keypair: libp2p_identity::Keypair, transport: Transport, listen: bool) -> Self {
        let peer = keypair.public().to_peer_id();
        let mut swarm = rust_peer::swarm_with(keypair, transport.their_muxer(), |key| {
            let config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(200))
                .validation_mode(gossipsub::ValidationMode::Strict)
                .build()
                .unwrap();
            Behaviour {
                ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(200))),
                identify: identify::Behaviour::new(identify::Config::new("ipfs/0.1.0".into(), key.public())),
                gossipsub: gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config).unwrap(),
            }
        });
        let topic = IdentTopic::new(TOPIC);
        swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap();
        if listen {
            swarm.listen_on(theirs_addr(&transport.listen_addr())).unwrap();
        }
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut mesh = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                let reports = tokio::select! {
                    command = command_rx.recv() => match command {
                        Some(Command::Dial(addr)) => {
                            swarm.dial(addr).unwrap();
                            continue;
                        }
                        Some(Command::Publish(data)) => {
                            let published = swarm.behaviour_mut().gossipsub.publish(topic.clone(), data);
                            vec![Seen::Published(published.map(drop).map_err(|error| error.to_string()))]
                        }
                        None => return, // the RustNode is gone
                    },
                    _ = tick.tick() => {
                        let now: Vec<_> = swarm.behaviour().gossipsub.mesh_peers(&topic.hash()).copied().collect();
                        let joined = now.iter().filter(|peer| !mesh.contains(*peer)).map(|peer| Seen::Grafted(*peer)).collect();
                        mesh = now;
                        joined
                    }
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::NewListenAddr { address, .. } => vec![Seen::Listening(address)],
                        SwarmEvent::ConnectionEstablished { peer_id, .. } => vec![Seen::Connected(peer_id)],
                        SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(_), .. })) => {
                            vec![Seen::Pong(peer)]
                        }
                        SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                            peer_id, info, ..
                        })) => vec![Seen::Identified(peer_id, Box::new(info))],
                        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                            message, ..
                        })) => vec![Seen::Message { source: message.source, data: message.data }],
                        _ => continue,
                    },
                };
                for report in reports {
                    if seen_tx.send(report).is_err() {
                        return;
                    }
                }
            }
        });
        Self { peer, commands, seen, log: Vec::new() }
    }

    /// The first report, earlier or to come, that `pick` accepts.
    async fn wait_for<T>(&mut self, mut pick: impl FnMut(&Seen) -> Option<T>) -> T {
        if let Some(found) = self.log.iter().find_map(&mut pick) {
            return found;
        }
        within(async {
            loop {
                let seen = self.seen.recv().await.expect("the rust-libp2p node runs");
                let found = pick(&seen);
                self.log.push(seen);
                if let Some(found) = found {
                    return found;
                }
            }
        })
        .await
    }

    fn send(&self, command: Command) {
        self.commands.send(command).expect("the rust-libp2p node runs");
    }
}

/// A strata node (the default builder: TCP and QUIC) listening on
/// `transport`, with ping, identify and gossipsub (heartbeat 200 ms,
/// signing strictly, the default) subscribed to the topic. Event receivers
/// are taken before anything connects, so no event is missed.
struct StrataNode {
    host: strata::Host,
    ping: strata::ping::Ping,
    identify: strata::identify::Identify,
    pubsub: Gossipsub,
    subscription: Subscription,
    host_events: broadcast::Receiver<strata::Event>,
    pubsub_events: broadcast::Receiver<strata::pubsub::Event>,
}

impl StrataNode {
    async fn new(keypair: &Keypair, transport: Transport) -> Self {
        let host = strata::builder(keypair).listen(transport.listen_addr()).build().await.unwrap();
        let host_events = host.events();
        let ping = strata::ping::Ping::attach(&host, strata::ping::Config::default()).unwrap();
        let identify = strata::identify::Identify::attach(&host, strata::identify::Config::default()).unwrap();
        let config = strata::gossipsub::Config::default().with_heartbeat(Duration::from_millis(200));
        let pubsub = Gossipsub::attach(&host, config).unwrap();
        let pubsub_events = pubsub.events();
        let subscription = pubsub.subscribe(TOPIC);
        Self { host, ping, identify, pubsub, subscription, host_events, pubsub_events }
    }

    /// The peer of the first connection established.
    async fn first_connection(&mut self) -> PeerId {
        within(async {
            loop {
                match self.host_events.recv().await {
                    Ok(strata::Event::ConnectionEstablished { peer, .. }) => return peer,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => panic!("the host stopped"),
                }
            }
        })
        .await
    }

    /// Waits until `peer` is in our mesh of the topic.
    async fn grafted(&mut self, peer: PeerId) {
        within(async {
            while !self.pubsub.mesh_peers(TOPIC).contains(&peer) {
                if let Err(broadcast::error::RecvError::Closed) = self.pubsub_events.recv().await {
                    panic!("the gossipsub service stopped");
                }
            }
        })
        .await;
    }
}

/// A strata node with a `strata_type` key and a rust-libp2p node with a
/// `rust_type` key meet over `transport`, `dialer` dialing; see the module
/// docs for what is checked.
async fn meet(transport: Transport, dialer: Dialer, strata_type: KeyType, rust_type: KeyType) {
    let case = format!("strata {strata_type} meets rust-libp2p {rust_type} over {transport:?}, {dialer:?} dialing");
    eprintln!("{case}"); // shown if the meeting fails, even by a timeout
    let strata_key = keys::strata_keypair(strata_type);
    let rust_key = keys::rust_keypair(rust_type);
    let rust_public = rust_key.public();
    let mut strata = StrataNode::new(&strata_key, transport).await;
    let mut rust = RustNode::new(rust_key, transport, matches!(dialer, Dialer::Strata));
    let rust_peer = ours(rust.peer);
    let strata_peer = strata.host.peer_id();
    assert_eq!(strata_peer, strata_key.peer_id(), "{case}");

    // Connect: each side authenticates the other as its key's peer id.
    match dialer {
        Dialer::Strata => {
            let addr =
                rust.wait_for(|seen| if let Seen::Listening(addr) = seen { Some(addr.clone()) } else { None }).await;
            let addr = ours_addr(&addr).with_p2p(rust_peer).unwrap();
            assert_eq!(within(strata.host.dial(addr)).await.unwrap(), rust_peer, "{case}");
        }
        Dialer::RustLibp2p => rust.send(Command::Dial(theirs_addr(&strata_testkit::address_of(&strata.host)))),
    }
    assert_eq!(strata.first_connection().await, rust_peer, "{case}: strata authenticated the rust node");
    let connected = rust.wait_for(|seen| if let Seen::Connected(peer) = seen { Some(*peer) } else { None }).await;
    assert_eq!(ours(connected), strata_peer, "{case}: rust-libp2p authenticated strata");

    // Ping, both ways.
    assert!(within(strata.ping.ping(rust_peer)).await.unwrap() > Duration::ZERO, "{case}");
    rust.wait_for(|seen| matches!(seen, Seen::Pong(peer) if ours(*peer) == strata_peer).then_some(())).await;

    // Identify, both ways: the public key, of its type, byte for byte.
    let info = within(strata.identify.identify(rust_peer)).await.unwrap();
    let key = info.public_key.expect("rust-libp2p sends its public key");
    assert_eq!(key.key_type(), rust_type, "{case}");
    assert_eq!(key.encode_protobuf(), rust_public.encode_protobuf(), "{case}");
    assert_eq!(key.to_peer_id(), rust_peer, "{case}");
    let info = rust
        .wait_for(|seen| match seen {
            Seen::Identified(peer, info) if ours(*peer) == strata_peer => Some(info.clone()),
            _ => None,
        })
        .await;
    assert_eq!(info.public_key.key_type(), keys::rust_key_type(strata_type), "{case}");
    assert_eq!(info.public_key.encode_protobuf(), strata_key.public().encode_protobuf(), "{case}");
    assert_eq!(info.public_key.to_peer_id(), theirs(strata_peer), "{case}");

    // Signed gossipsub, a message each way once both meshes hold the other.
    strata.grafted(rust_peer).await;
    rust.wait_for(|seen| matches!(seen, Seen::Grafted(peer) if ours(*peer) == strata_peer).then_some(())).await;
    let from_strata = format!("from strata, signed with {strata_type}");
    strata.pubsub.publish(TOPIC, &from_strata).unwrap();
    let (source, data) = rust
        .wait_for(|seen| match seen {
            Seen::Message { source, data } => Some((*source, data.clone())),
            _ => None,
        })
        .await;
    assert_eq!((source.map(ours), String::from_utf8(data).unwrap()), (Some(strata_peer), from_strata), "{case}");
    let from_rust = format!("from rust-libp2p, signed with {rust_type}");
    rust.send(Command::Publish(from_rust.clone().into_bytes()));
    rust.wait_for(|seen| if let Seen::Published(result) = seen { Some(result.clone()) } else { None })
        .await
        .unwrap_or_else(|error| panic!("{case}: rust-libp2p could not publish: {error}"));
    let message = within(strata.subscription.next()).await.unwrap();
    assert_eq!((message.text(), message.source, message.signed), (from_rust, Some(rust_peer), true), "{case}");

    strata.host.shutdown().await;
}

async fn every_meeting(transport: Transport, dialer: Dialer) {
    for (strata_type, rust_type) in MEETINGS {
        meet(transport, dialer, strata_type, rust_type).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_type_meets_over_tcp_strata_dialing() {
    every_meeting(Transport::Tcp, Dialer::Strata).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_type_meets_over_tcp_rust_libp2p_dialing() {
    every_meeting(Transport::Tcp, Dialer::RustLibp2p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_type_meets_over_quic_strata_dialing() {
    every_meeting(Transport::Quic, Dialer::Strata).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_type_meets_over_quic_rust_libp2p_dialing() {
    every_meeting(Transport::Quic, Dialer::RustLibp2p).await;
}
