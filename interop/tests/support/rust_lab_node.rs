//! The rust-libp2p node of `nat_lab_dcutr.rs`, run inside a NAT-lab
//! namespace by that test binary re-executed there (its ignored test
//! `rust_node` calls [`run`]). Included by path.

use std::{
    collections::HashMap,
    fmt::Write as _,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use libp2p::{
    identify,
    multiaddr::Protocol,
    ping,
    swarm::{NetworkBehaviour, SwarmEvent},
};
use serde_json::Value as Json;

/// What the node is to do: `listen` or `dial` (unset: nothing).
pub(crate) const ROLE: &str = "STRATA_RUST_NODE";
/// Where it listens.
pub(crate) const LISTEN: &str = "STRATA_RUST_LISTEN";
/// The relay (`…/p2p/<id>`).
pub(crate) const RELAY: &str = "STRATA_RUST_RELAY";
/// The circuit address to dial (`dial`).
pub(crate) const TARGET: &str = "STRATA_RUST_TARGET";
/// Seconds before it ends.
pub(crate) const TIMEOUT: &str = "STRATA_RUST_TIMEOUT";

/// `text` as a JSON string.
fn quote(text: &str) -> String {
    Json::from(text).to_string()
}

#[derive(NetworkBehaviour)]
struct NodeBehaviour {
    relay_client: libp2p::relay::client::Behaviour,
    identify: identify::Behaviour,
    dcutr: libp2p::dcutr::Behaviour,
    ping: ping::Behaviour,
}

/// One JSON line on stdout, the node's output channel (as `peer`'s):
/// `event` and `fields`, already JSON.
fn emit(event: &str, fields: &[(&str, String)]) {
    let mut line = format!("{{\"event\":{}", quote(event));
    for (name, value) in fields {
        let _ = write!(line, ",{}:{value}", quote(name));
    }
    line.push('}');
    // stdout is how this node talks to the harness (`Process::line`).
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
}

fn is_circuit(addr: &libp2p::Multiaddr) -> bool {
    addr.iter().any(|p| p == Protocol::P2pCircuit)
}

fn is_loopback(addr: &libp2p::Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::Ip4(ip) if ip.is_loopback()))
}

fn millis(elapsed: Duration) -> String {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX).to_string()
}

/// A rust-libp2p node (TCP with port reuse, QUIC, relay client, identify,
/// `DCUtR`, ping) inside a lab namespace, told by environment variables
/// what to do; does nothing without them (a plain `--ignored` run).
///
/// - `STRATA_RUST_NODE=listen`: listens on `STRATA_RUST_LISTEN`, then
///   through the relay `STRATA_RUST_RELAY`; prints `reservation` once the
///   relay accepted it **and** identify gave an address candidate (so that
///   `DCUtR` has something to offer when a peer comes).
/// - `STRATA_RUST_NODE=dial`: listens, connects to the relay, and once
///   identify gave a candidate dials `STRATA_RUST_TARGET` (a circuit).
///
/// Prints, as `peer` does: `listening`, `candidate`, `reservation`,
/// `connected` (`relayed`), `hole_punch` (`result`, `addr`, `attempts`,
/// `ms` from the relayed connection, `reason`: the `dcutr::Event` error's
/// text), `ping` (`relayed`: the connection it crossed), `error`. Ends
/// after `STRATA_RUST_TIMEOUT` seconds.
pub(crate) async fn run() {
    let Ok(role) = std::env::var(ROLE) else { return };
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let listen: libp2p::Multiaddr = env(LISTEN).parse().unwrap();
    let relay: libp2p::Multiaddr = env(RELAY).parse().unwrap();
    let target: Option<libp2p::Multiaddr> = std::env::var(TARGET).ok().map(|t| t.parse().unwrap());
    let timeout = Duration::from_secs(std::env::var(TIMEOUT).ok().and_then(|t| t.parse().ok()).unwrap_or(60));
    let Some(Protocol::P2p(relay_peer)) = relay.iter().last() else { panic!("no /p2p/ in {relay}") };

    let keypair = libp2p_identity::Keypair::generate_ed25519();
    let me = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("TCP + Noise + yamux")
        .with_quic()
        .with_relay_client(libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("the relay client transport")
        .with_behaviour(|key, relay_client| NodeBehaviour {
            relay_client,
            identify: identify::Behaviour::new(identify::Config::new("/ipfs/id/1.0.0".into(), key.public())),
            dcutr: libp2p::dcutr::Behaviour::new(key.public().to_peer_id()),
            ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(500))),
        })
        .expect("the behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_mins(5)))
        .build();
    swarm.listen_on(listen).expect("a listener");

    let mut node = Node {
        dials: role == "dial",
        relay,
        relay_peer,
        me,
        target,
        started: false,
        candidate: false,
        dialed: false,
        announced: false,
        reserved: None,
        connections: HashMap::new(),
        relayed_at: HashMap::new(),
        failed_dials: HashMap::new(),
    };
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        let event = tokio::select! {
            () = &mut deadline => return,
            event = swarm.select_next_some() => event,
        };
        node.on_event(&mut swarm, event);
        node.progress(&mut swarm);
    }
}

/// What [`rust_node`] keeps track of.
#[allow(clippy::struct_excessive_bools)] // the steps it went through, each once
struct Node {
    /// `dial` (else `listen`).
    dials: bool,
    relay: libp2p::Multiaddr,
    relay_peer: libp2p::PeerId,
    me: libp2p::PeerId,
    target: Option<libp2p::Multiaddr>,
    /// Whether it set out to reach the relay.
    started: bool,
    /// Whether identify gave an external address candidate.
    candidate: bool,
    dialed: bool,
    /// Whether `reservation` was printed.
    announced: bool,
    /// Its circuit address, once the relay accepted the reservation.
    reserved: Option<libp2p::Multiaddr>,
    /// Per connection: the peer, its remote address, whether relayed.
    connections: HashMap<libp2p::swarm::ConnectionId, (libp2p::PeerId, libp2p::Multiaddr, bool)>,
    /// When the first relayed connection with a peer was established.
    relayed_at: HashMap<libp2p::PeerId, Instant>,
    /// Failed dials of a peer (direct ones: `DCUtR`'s attempts).
    failed_dials: HashMap<libp2p::PeerId, u32>,
}

impl Node {
    fn on_event(&mut self, swarm: &mut libp2p::Swarm<NodeBehaviour>, event: SwarmEvent<NodeBehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } if !is_circuit(&address) => {
                emit("listening", &[("peer_id", quote(&self.me.to_string())), ("addr", quote(&address.to_string()))]);
                // Once listening on the LAN: a dial of the relay leaves
                // from the listen port then (TCP port reuse).
                if !self.started && !is_loopback(&address) {
                    self.started = true;
                    let begun = if self.dials {
                        swarm.dial(self.relay.clone()).map_err(|e| e.to_string())
                    } else {
                        let circuit = self.relay.clone().with(Protocol::P2pCircuit);
                        swarm.listen_on(circuit).map(drop).map_err(|e| e.to_string())
                    };
                    if let Err(error) = begun {
                        emit("error", &[("reason", quote(&format!("reaching the relay: {error}")))]);
                    }
                }
            }
            SwarmEvent::NewExternalAddrCandidate { address } => {
                emit("candidate", &[("addr", quote(&address.to_string()))]);
                self.candidate = true;
            }
            SwarmEvent::Behaviour(NodeBehaviourEvent::RelayClient(
                libp2p::relay::client::Event::ReservationReqAccepted { .. },
            )) => {
                self.reserved = Some(self.relay.clone().with(Protocol::P2pCircuit).with(Protocol::P2p(self.me)));
            }
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. }
                if peer_id != self.relay_peer =>
            {
                let (remote, relayed) = (endpoint.get_remote_address().clone(), endpoint.is_relayed());
                if relayed {
                    self.relayed_at.entry(peer_id).or_insert_with(Instant::now);
                }
                emit(
                    "connected",
                    &[
                        ("peer_id", quote(&peer_id.to_string())),
                        ("remote_addr", quote(&remote.to_string())),
                        ("relayed", relayed.to_string()),
                    ],
                );
                self.connections.insert(connection_id, (peer_id, remote, relayed));
            }
            SwarmEvent::Behaviour(NodeBehaviourEvent::Dcutr(event)) => self.hole_punch(event),
            SwarmEvent::Behaviour(NodeBehaviourEvent::Ping(ping::Event { peer, connection, result: Ok(rtt) }))
                if peer != self.relay_peer =>
            {
                let relayed = self.connections.get(&connection).is_some_and(|(_, _, relayed)| *relayed);
                emit(
                    "ping",
                    &[
                        ("peer_id", quote(&peer.to_string())),
                        ("rtt_us", u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).to_string()),
                        ("relayed", relayed.to_string()),
                    ],
                );
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } if peer != self.relay_peer => {
                *self.failed_dials.entry(peer).or_default() += 1;
                eprintln!("rust node {}: a dial of {peer} failed: {error}", self.me);
            }
            _ => {}
        }
    }

    /// Prints a `DCUtR` outcome as `hole_punch`.
    fn hole_punch(&self, libp2p::dcutr::Event { remote_peer_id, result }: libp2p::dcutr::Event) {
        let ms = millis(self.relayed_at.get(&remote_peer_id).map_or(Duration::ZERO, Instant::elapsed));
        let failed = self.failed_dials.get(&remote_peer_id).copied().unwrap_or(0);
        let peer_id = ("peer_id", quote(&remote_peer_id.to_string()));
        match result {
            Ok(connection) => {
                let addr = self.connections.get(&connection).map(|(_, addr, _)| addr.to_string()).unwrap_or_default();
                emit(
                    "hole_punch",
                    &[
                        peer_id,
                        ("result", quote("ok")),
                        ("addr", quote(&addr)),
                        ("attempts", (failed + 1).to_string()),
                        ("ms", ms),
                    ],
                );
            }
            Err(error) => emit(
                "hole_punch",
                &[
                    peer_id,
                    ("result", quote("failed")),
                    ("reason", quote(&error.to_string())),
                    ("attempts", failed.to_string()),
                    ("ms", ms),
                ],
            ),
        }
    }

    /// Announces the reservation, or dials the target, once there is a
    /// candidate to offer.
    fn progress(&mut self, swarm: &mut libp2p::Swarm<NodeBehaviour>) {
        if let Some(circuit) = self.reserved.as_ref().filter(|_| self.candidate && !self.announced) {
            self.announced = true;
            emit(
                "reservation",
                &[("relay", quote(&self.relay_peer.to_string())), ("addr", quote(&circuit.to_string()))],
            );
        }
        if let Some(target) = self.target.as_ref().filter(|_| self.dials && self.candidate && !self.dialed) {
            self.dialed = true;
            if let Err(error) = swarm.dial(target.clone()) {
                emit("error", &[("reason", quote(&format!("dialing {target}: {error}")))]);
            }
        }
    }
}
