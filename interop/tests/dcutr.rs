//! strata's `DCUtR` against rust-libp2p 0.57's (libp2p-dcutr 0.15), on
//! 127.0.0.1: a strata node and a rust-libp2p node reach each other
//! through a circuit relay (a strata relay, then a rust-libp2p one), and
//! the node that **accepted** the relayed connection starts the hole
//! punch (go-libp2p and rust-libp2p alike; so does strata). Both ways:
//!
//! - strata listens through the relay, rust-libp2p dials it there: strata
//!   accepted, strata initiates (the spec's B), rust-libp2p answers (A);
//! - rust-libp2p listens through the relay, strata dials it there:
//!   rust-libp2p initiates, strata answers.
//!
//! Without NATs a "hole punch" is a direct dial, but the whole exchange
//! runs between the two implementations: `CONNECT` and `SYNC` over the
//! relayed connection, each side's addresses, the roles on the direct
//! connection (A the client, B the server; for QUIC, B punches and A
//! dials). Each test checks that both sides report a success, that a
//! direct (not relayed) connection is up on both, and that a ping crosses
//! it both ways. One exception, a limit of loopback, not of either side:
//! over TCP with rust-libp2p initiating, rust-libp2p's own dial needs a
//! TCP simultaneous open, which one machine does not give; it reports a
//! failure while strata's dial makes the direct connection (see
//! `tcp_rust_initiates_through_a_strata_relay`).
//!
//! rust-libp2p offers in its `CONNECT` its *external address candidates*
//! (`FromSwarm::NewExternalAddrCandidate`, libp2p-dcutr `behaviour.rs`,
//! `Candidates`), taken when the relayed connection is established; on
//! loopback nothing (identify, `AutoNAT`) reports one, so the rust node
//! here announces its listen addresses as candidates ([`ListenCandidates`])
//! before it touches the relay. strata offers loopback listen addresses
//! only with `dcutr::Config::with_private_addrs(true)`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    collections::{HashSet, VecDeque},
    convert::Infallible,
    task::{Context, Poll},
    time::Duration,
};

use futures::StreamExt as _;
use libp2p::{
    core::{Endpoint, transport::PortUse},
    ping,
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, SwarmEvent, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm, dummy,
    },
};
use strata::{
    Host, Keypair, Multiaddr, dcutr,
    host::{Upgrader, is_relayed},
    noise, relay, yamux,
};
use strata_testkit::{address_of, within};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    sync::mpsc,
};

#[path = "support/rust_peer.rs"]
mod rust_peer;
#[path = "support/rust_relay.rs"]
mod rust_relay;

use rust_peer::{ours, ours_addr, theirs_addr};

/// The transport the peers hole punch over (the relay is reached over TCP
/// in both cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Tcp,
    Quic,
}

impl Transport {
    fn listen_addr(self) -> &'static str {
        match self {
            Self::Tcp => "/ip4/127.0.0.1/tcp/0",
            Self::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
        }
    }
}

/// Which relay the relayed connection goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RelayKind {
    Strata,
    Rust,
}

/// Which node accepts the relayed connection (and so initiates `DCUtR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Initiator {
    Strata,
    Rust,
}

// ---------------------------------------------------------------------
// The rust-libp2p node.

/// Announces every (non-relayed) listen address as an external address
/// candidate, as identify would with observations on a network without
/// NATs: libp2p-dcutr offers its candidates in `CONNECT`, and nothing
/// else makes one on loopback.
#[derive(Default)]
struct ListenCandidates {
    queue: VecDeque<libp2p::Multiaddr>,
}

impl NetworkBehaviour for ListenCandidates {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: libp2p::PeerId,
        _: &libp2p::Multiaddr,
        _: &libp2p::Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: libp2p::PeerId,
        _: &libp2p::Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        if let FromSwarm::NewListenAddr(listen) = event
            && !listen.addr.iter().any(|p| p == libp2p::multiaddr::Protocol::P2pCircuit)
        {
            self.queue.push_back(listen.addr.clone());
        }
    }

    fn on_connection_handler_event(&mut self, _: libp2p::PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.queue.pop_front().map_or(Poll::Pending, |addr| Poll::Ready(ToSwarm::NewExternalAddrCandidate(addr)))
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    relay_client: libp2p::relay::client::Behaviour,
    dcutr: libp2p::dcutr::Behaviour,
    ping: ping::Behaviour,
    candidates: ListenCandidates,
}

/// What the rust-libp2p node reports.
#[derive(Debug)]
enum Seen {
    Candidate(libp2p::Multiaddr),
    Listening(libp2p::Multiaddr),
    Reserved,
    Established { peer: libp2p::PeerId, connection: ConnectionId, relayed: bool },
    HolePunch { peer: libp2p::PeerId, result: Result<ConnectionId, String> },
    Pong { peer: libp2p::PeerId, connection: ConnectionId },
}

enum Command {
    Listen(libp2p::Multiaddr),
    Dial(libp2p::Multiaddr),
}

/// A running rust-libp2p node: TCP, QUIC and the relay client, with
/// `DCUtR`, ping and [`ListenCandidates`].
struct RustNode {
    peer: libp2p::PeerId,
    seen: mpsc::UnboundedReceiver<Seen>,
    /// The direct (not relayed) connections seen established so far, by
    /// peer.
    direct: HashSet<(libp2p::PeerId, ConnectionId)>,
    commands: mpsc::UnboundedSender<Command>,
}

impl RustNode {
    fn start() -> Self {
        let keypair = libp2p_identity::Keypair::generate_ed25519();
        let peer = keypair.public().to_peer_id();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
            .expect("TCP + Noise + yamux")
            .with_quic()
            .with_relay_client(libp2p::noise::Config::new, libp2p::yamux::Config::default)
            .expect("the relay client transport")
            .with_behaviour(|key, relay_client| Behaviour {
                relay_client,
                dcutr: libp2p::dcutr::Behaviour::new(key.public().to_peer_id()),
                ping: ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_millis(200))),
                candidates: ListenCandidates::default(),
            })
            .expect("the behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_hours(1)))
            .build();
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        let (tx, seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    command = command_rx.recv() => {
                        match command {
                            Some(Command::Listen(addr)) => drop(swarm.listen_on(addr).expect("a listener")),
                            Some(Command::Dial(addr)) => swarm.dial(addr).expect("a dialable address"),
                            None => return, // the test is over
                        }
                        continue;
                    }
                    event = swarm.select_next_some() => event,
                };
                let report = match event {
                    SwarmEvent::NewExternalAddrCandidate { address } => Seen::Candidate(address),
                    SwarmEvent::NewListenAddr { address, .. } => Seen::Listening(address),
                    SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } => {
                        eprintln!("rust: connection {connection_id} with {peer_id}: {endpoint:?}");
                        Seen::Established { peer: peer_id, connection: connection_id, relayed: endpoint.is_relayed() }
                    }
                    SwarmEvent::ConnectionClosed { connection_id, endpoint, cause, .. } => {
                        eprintln!("rust: connection {connection_id} closed ({endpoint:?}): {cause:?}");
                        continue;
                    }
                    SwarmEvent::Behaviour(BehaviourEvent::RelayClient(
                        libp2p::relay::client::Event::ReservationReqAccepted { .. },
                    )) => Seen::Reserved,
                    SwarmEvent::Behaviour(BehaviourEvent::Dcutr(libp2p::dcutr::Event { remote_peer_id, result })) => {
                        eprintln!("rust: DCUtR with {remote_peer_id}: {result:?}");
                        Seen::HolePunch { peer: remote_peer_id, result: result.map_err(|error| error.to_string()) }
                    }
                    SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, connection, result: Ok(_) })) => {
                        Seen::Pong { peer, connection }
                    }
                    SwarmEvent::OutgoingConnectionError { connection_id, peer_id, error } => {
                        eprintln!("rust: dial {connection_id} of {peer_id:?} failed: {error}");
                        continue;
                    }
                    SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                        eprintln!("rust: incoming from {send_back_addr} failed: {error}");
                        continue;
                    }
                    _ => continue,
                };
                if tx.send(report).is_err() {
                    return;
                }
            }
        });
        Self { peer, seen, direct: HashSet::new(), commands }
    }

    fn command(&self, command: Command) {
        self.commands.send(command).expect("the swarm task runs");
    }

    /// Waits for what `wanted` picks out, dropping what comes before.
    async fn wait_for<T>(&mut self, what: &str, mut wanted: impl FnMut(&Seen) -> Option<T>) -> T {
        let (seen, direct) = (&mut self.seen, &mut self.direct);
        let found = tokio::time::timeout(strata_testkit::LIMIT, async {
            loop {
                let event = seen.recv().await.expect("the rust-libp2p node runs");
                if let Seen::Established { peer, connection, relayed: false } = event {
                    direct.insert((peer, connection));
                }
                if let Some(found) = wanted(&event) {
                    return found;
                }
            }
        });
        found.await.unwrap_or_else(|_| panic!("rust-libp2p: no {what} within {:?}", strata_testkit::LIMIT))
    }

    /// Whether a direct connection to `peer` (`connection`, if given) was
    /// seen established.
    fn is_direct(&self, peer: strata::PeerId, connection: Option<ConnectionId>) -> bool {
        self.direct.iter().any(|(with, id)| ours(*with) == peer && connection.is_none_or(|wanted| wanted == *id))
    }

    /// Listens on `transport` on loopback and waits until that address is
    /// an external address candidate (so that `DCUtR` offers it).
    async fn listen_direct(&mut self, transport: Transport) -> libp2p::Multiaddr {
        self.command(Command::Listen(transport.listen_addr().parse().unwrap()));
        let listening = self.wait_for("listen address", |event| match event {
            Seen::Listening(addr) => Some(addr.clone()),
            _ => None,
        });
        let listening = listening.await;
        let candidate = self.wait_for("candidate", |event| match event {
            Seen::Candidate(addr) => Some(addr.clone()),
            _ => None,
        });
        assert_eq!(candidate.await, listening);
        listening
    }
}

// ---------------------------------------------------------------------
// The strata node and the relays.

/// A strata node: the facade's TCP and QUIC, the relay client's transport
/// (Noise and yamux above it), `DCUtR` offering loopback addresses, and ping.
struct StrataNode {
    host: Host,
    _client: relay::Client,
    dcutr: dcutr::Dcutr,
    events: tokio::sync::broadcast::Receiver<dcutr::Event>,
    _ping: strata::ping::Ping,
}

impl StrataNode {
    async fn start(transport: Transport, keep_relayed: bool) -> Self {
        let (client, circuits) = relay::Client::new(relay::ClientConfig::default());
        let circuits = Upgrader::new(circuits).security(noise::Config::new).muxer(yamux::Config::default());
        let host = strata::builder(&Keypair::generate_ed25519())
            .upgrader(circuits)
            .listen(transport.listen_addr().parse().unwrap())
            .build()
            .await
            .unwrap();
        client.attach(&host).unwrap();
        let mut config = dcutr::Config::default().with_private_addrs(true);
        if keep_relayed {
            config = config.with_close_relayed_after(None);
        }
        let dcutr = dcutr::Dcutr::attach(&host, config).unwrap();
        let events = dcutr.events();
        let ping = strata::ping::Ping::attach(&host, strata::ping::Config::default()).unwrap();
        Self { host, _client: client, dcutr, events, _ping: ping }
    }

    /// The next hole punch outcome with `peer`.
    async fn hole_punch(&mut self, peer: strata::PeerId) -> (dcutr::Role, dcutr::Outcome) {
        within(async {
            loop {
                match self.events.recv().await.expect("the DCUtR service runs") {
                    dcutr::Event::HolePunch { peer: with, role, result } if with == peer => return (role, result),
                    _ => {}
                }
            }
        })
        .await
    }
}

/// A relay on 127.0.0.1 (TCP); its address with `/p2p/<id>`, and what
/// keeps it running.
async fn start_relay(kind: RelayKind) -> (Multiaddr, Option<(Host, relay::Relay)>) {
    match kind {
        RelayKind::Strata => {
            let host = strata_testkit::host().await;
            let relay = relay::Relay::attach(&host, relay::Config::default()).unwrap();
            (address_of(&host), Some((host, relay)))
        }
        RelayKind::Rust => (ours_addr(&rust_relay::start().await), None),
    }
}

// ---------------------------------------------------------------------
// The scenario.

/// Makes a relayed connection between a strata node and a rust-libp2p
/// node, accepted by `initiator`, lets `DCUtR` upgrade it, and checks the
/// outcome on both sides.
async fn hole_punch(transport: Transport, relay_kind: RelayKind, initiator: Initiator) {
    let (relay_addr, _relay) = start_relay(relay_kind).await;
    let through_relay: Multiaddr = format!("{relay_addr}/p2p-circuit").parse().unwrap();

    let mut rust = RustNode::start();
    let rust_direct = rust.listen_direct(transport).await;
    // rust-libp2p's retries need the relayed connection: strata keeps it
    // where they are expected (rust-libp2p reports nothing at all when it
    // closes mid-way, `on_dial_failure` notifying a handler that is gone).
    let keep_relayed = transport == Transport::Tcp && initiator == Initiator::Rust;
    let mut strata = StrataNode::start(transport, keep_relayed).await;
    let rust_peer = ours(rust.peer);
    let strata_peer = strata.host.peer_id();
    let offered = strata.dcutr.offered_addrs();
    assert!(!offered.is_empty() && offered.iter().all(|addr| !is_relayed(addr)), "{offered:?}");

    match initiator {
        Initiator::Strata => {
            // strata listens through the relay; rust-libp2p dials it there.
            within(strata.host.listen(through_relay.clone())).await.unwrap();
            let target = through_relay.clone().with_p2p(strata_peer).unwrap();
            rust.command(Command::Dial(theirs_addr(&target)));
        }
        Initiator::Rust => {
            // rust-libp2p listens through the relay; strata dials it there.
            rust.command(Command::Listen(theirs_addr(&through_relay)));
            rust.wait_for("reservation", |event| matches!(event, Seen::Reserved).then_some(())).await;
            let target = through_relay.clone().with_p2p(rust_peer).unwrap();
            assert_eq!(within(strata.host.dial(target)).await.unwrap(), rust_peer);
        }
    }

    // Both report a hole punch that worked, except where loopback cannot
    // give rust-libp2p's own TCP dial a chance (see
    // `tcp_rust_initiates_through_a_strata_relay`).
    let loopback_tcp = transport == Transport::Tcp && initiator == Initiator::Rust;
    let expected_role = if initiator == Initiator::Strata { dcutr::Role::Initiator } else { dcutr::Role::Responder };
    let success = loop {
        let (role, result) = strata.hole_punch(rust_peer).await;
        assert_eq!(role, expected_role);
        match result {
            Ok(success) => break success,
            // rust-libp2p tries again (a new stream, CONNECT, SYNC).
            Err(failure) if loopback_tcp => eprintln!("strata: one round failed: {failure:?}"),
            Err(failure) => panic!("strata's hole punch failed: {failure:?}"),
        }
    };
    assert!(!is_relayed(&success.addr), "{success:?}");
    let theirs_result = rust
        .wait_for("hole punch", |event| match event {
            Seen::HolePunch { peer, result } if ours(*peer) == strata_peer => Some(result.clone()),
            _ => None,
        })
        .await;
    eprintln!("strata: {success:?}; rust: {theirs_result:?}; rust listens at {rust_direct}");
    if loopback_tcp {
        let error = theirs_result.expect_err("rust-libp2p's own TCP dial cannot succeed on loopback");
        assert!(error.contains("Giving up after 3 dial attempts"), "{error}");
        assert!(rust.is_direct(strata_peer, None), "strata's dial made a direct connection");
    } else {
        let direct = theirs_result.unwrap_or_else(|error| panic!("rust-libp2p's hole punch failed: {error}"));
        assert!(rust.is_direct(strata_peer, Some(direct)), "rust's hole punch connection {direct} is direct");
    }

    // A direct connection on both sides, and pings over it both ways.
    loop {
        let pong = rust
            .wait_for("pong", |event| match event {
                Seen::Pong { peer, connection } if ours(*peer) == strata_peer => Some(*connection),
                _ => None,
            })
            .await;
        if rust.is_direct(strata_peer, Some(pong)) {
            break; // rust-libp2p pinged strata over a direct connection
        }
    }
    let mut stream = within(strata.host.open_stream(rust_peer, &["/ipfs/ping/1.0.0"])).await.unwrap();
    assert!(!stream.is_limited(), "strata's stream goes over the direct connection");
    let payload = [7_u8; 32];
    within(stream.write_all(&payload)).await.unwrap();
    let mut echoed = [0_u8; 32];
    within(stream.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(echoed, payload, "rust-libp2p echoes strata's ping over the direct connection");
    strata.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_strata_initiates_through_a_strata_relay() {
    hole_punch(Transport::Tcp, RelayKind::Strata, Initiator::Strata).await;
}

/// TCP with rust-libp2p initiating, on loopback: strata (A) dials at once
/// on `SYNC`, from its listen port to rust-libp2p's, and lands on
/// rust-libp2p's **listener**: a direct connection with the right roles
/// (strata the client). rust-libp2p (B) dials rtt/2 later in the
/// listener's role (`override_role`, libp2p-dcutr `behaviour.rs`,
/// `OutboundConnectNegotiated`); its port is taken by then, so libp2p-tcp
/// dials again from a new port (`Transport::dial`, on `AddrNotAvailable`)
/// and lands on strata's listener: two multistream listeners, a failed
/// negotiation. Only a TCP simultaneous open (two SYNs crossing, as
/// through NATs) gives that dial a socket of its own; on loopback one SYN
/// always finds the other side's listener first. So rust-libp2p, which
/// counts only its own dial a success, gives up after 3 attempts while
/// strata reports the direct connection that its dial made (the same
/// through a rust-libp2p relay).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_rust_initiates_through_a_strata_relay() {
    hole_punch(Transport::Tcp, RelayKind::Strata, Initiator::Rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_strata_initiates_through_a_rust_relay() {
    hole_punch(Transport::Tcp, RelayKind::Rust, Initiator::Strata).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_rust_initiates_through_a_rust_relay() {
    hole_punch(Transport::Tcp, RelayKind::Rust, Initiator::Rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_strata_initiates_through_a_strata_relay() {
    hole_punch(Transport::Quic, RelayKind::Strata, Initiator::Strata).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_rust_initiates_through_a_strata_relay() {
    hole_punch(Transport::Quic, RelayKind::Strata, Initiator::Rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_strata_initiates_through_a_rust_relay() {
    hole_punch(Transport::Quic, RelayKind::Rust, Initiator::Strata).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_rust_initiates_through_a_rust_relay() {
    hole_punch(Transport::Quic, RelayKind::Rust, Initiator::Rust).await;
}
