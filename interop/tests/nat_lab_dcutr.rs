//! Hole punching (`DCUtR`) between strata and rust-libp2p 0.57 (libp2p-dcutr
//! 0.15) through real NATs, and rust-libp2p's own success rate measured in
//! the same run, side by side with strata's: the issue asks for strata's
//! rate through cone NATs (≥ 95 %) next to what rust-libp2p achieves on the
//! same network. Needs root, `ip`, `iptables` and `nft`, as
//! `tests/nat_lab.rs` does (`strata_testkit::natlab`).
//!
//! ```text
//!   relay (public): peer listen --relay-server, on TCP or QUIC
//!        ▲ reservation                        ▲ circuit
//!   home-a (port-restricted NAT)          home-b (port-restricted NAT)
//!        alice: listens, reserves,             bob: dials alice's
//!        accepts the relayed connection,       …/p2p-circuit/p2p/<alice>
//!        so she starts DCUtR                   from his listen port
//! ```
//!
//! Four cells (alice × bob), each over TCP and over QUIC:
//!
//! - rust × rust: rust-libp2p's own rate (reported, not asserted: it is
//!   rust-libp2p's, not ours; each punch must only end in an outcome);
//! - strata × rust: strata accepts, so strata initiates;
//! - rust × strata: rust-libp2p initiates, strata answers;
//! - strata × strata: as `hole_punch_matrix` does for two port-restricted
//!   NATs, for comparison.
//!
//! `STRATA_PUNCH_N` punches a cell (3 unless set; the whole test stays
//! under 2 minutes at 3). Every punch has fresh processes (fresh
//! identities, a relay of its own) on a port of its own, so no state or
//! NAT mapping carries over. A punch is recorded as its initiator (alice)
//! reports it: ok or not, why not (strata's `reason`, rust-libp2p's
//! `dcutr::Event` error as text), attempts, ms from the relayed connection
//! to the direct one; the responder's report stands in when alice says
//! nothing, `no_event` when neither does. The table goes to stderr
//! (`--nocapture`), in `hole_punch_matrix`'s format. Every cell with strata
//! on one side must succeed at least once, over TCP and QUIC; and where
//! strata meets rust-libp2p, rust-libp2p's pings (strata answers them)
//! must cross a direct connection after a success at least once a cell.
//! In those runs bob, when strata, is a `peer listen` told to `dial` (as
//! in `hole_punch_matrix`: he stays for all of alice's attempts). Then
//! strata's own pings: bob is `peer dial … --ping 2` (which pings over the
//! direct connection once the punch made one) facing a rust and a strata
//! alice over each transport, up to 3 punches each until one shows both
//! pings after the direct `connected`; not counted in the table, since a
//! `dial` ends once it has pinged and would cut short an initiator's
//! retries after a failed first attempt.
//!
//! The relay listens on the punch's transport only (`peer` takes one
//! `--listen`): identify over the connection to it is what tells each
//! peer its address on that transport.
//!
//! The rust-libp2p node runs inside a lab namespace as this test binary
//! re-executed there ([`strata_testkit::natlab::Host::test_command`]),
//! running only the ignored test [`rust_node`], told what to do by
//! environment variables, printing JSON lines as `peer` does. It learns
//! its address the real way: identify's observed address over its
//! connection to the relay, which rust-libp2p makes an external address
//! candidate, which libp2p-dcutr offers in `CONNECT`. Its TCP keeps
//! libp2p-tcp 0.45's defaults: every dial has `PortUse::Reuse`
//! (libp2p-swarm's `DialOpts`), so it leaves from the listen port
//! (`PortReuse::local_dial_addr`) as a TCP hole punch needs; QUIC dials
//! leave from the listening socket.
//!
//! Run it with 20 punches a cell, and through other NATs (alice's, bob's;
//! the success assertions hold only where both are cones):
//!
//! ```text
//! STRATA_PUNCH_N=20 cargo test -p strata-interop --test nat_lab_dcutr -- --nocapture
//! STRATA_PUNCH_NAT_A=full-cone STRATA_PUNCH_NAT_B=address-restricted STRATA_PUNCH_N=20 cargo test …
//! ```
//!
//! Builds one lab, torn down when the test ends, also when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant},
};

use strata_testkit::natlab::{Host, Lab, NatKind, Process};

#[path = "support/rust_lab_node.rs"]
mod rust_lab_node;

use rust_lab_node::{LISTEN, RELAY, ROLE, TARGET, TIMEOUT};
use serde_json::Value as Json;

/// How long the harness waits for one event of a node.
const EVENT: Duration = Duration::from_secs(20);

/// How long a punch may take, from bob's dial to alice's outcome (a
/// failure waits out 3 dial timeouts).
const PUNCH: Duration = Duration::from_secs(40);

/// How long, after a success, to wait for a ping over the direct
/// connection.
const DIRECT_PING: Duration = Duration::from_secs(5);

/// How many cells run at once (each its own punches one after another).
const PARALLEL: usize = 4;

// ---------------------------------------------------------------------
// The harness.

/// The transports a hole punch is tried over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Quic,
}

impl Transport {
    fn on(self, ip: std::net::Ipv4Addr, port: u16) -> String {
        match self {
            Self::Tcp => format!("/ip4/{ip}/tcp/{port}"),
            Self::Quic => format!("/ip4/{ip}/udp/{port}/quic-v1"),
        }
    }

    /// The listen address on every interface, on `port`.
    fn any(self, port: u16) -> String {
        self.on(std::net::Ipv4Addr::UNSPECIFIED, port)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Quic => "quic",
        }
    }
}

/// Which implementation a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Strata,
    Rust,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Self::Strata => "strata",
            Self::Rust => "rust",
        }
    }
}

/// alice (listens through the relay, initiates) × bob (dials her there).
#[derive(Debug, Clone, Copy)]
struct Cell {
    alice: Side,
    bob: Side,
    transport: Transport,
}

impl Cell {
    fn name(self) -> String {
        format!("{} × {}", self.alice.name(), self.bob.name())
    }

    fn has_strata(self) -> bool {
        self.alice == Side::Strata || self.bob == Side::Strata
    }
}

/// One hole punch's outcome.
#[derive(Debug)]
struct Run {
    ok: bool,
    attempts: u32,
    ms: u64,
    /// Why it failed, or `no_event`.
    reason: String,
    /// Whether rust-libp2p's ping crossed a direct connection after a
    /// success (`None` with no rust-libp2p node, or after a failure).
    direct_ping: Option<bool>,
}

/// The hosts of the lab.
struct Hosts {
    relay: Host,
    alice: Host,
    bob: Host,
}

/// A node's process and the JSON events it printed so far.
struct Watch {
    process: Process,
    events: Vec<Json>,
    ended: bool,
}

impl Watch {
    fn new(process: Process) -> Self {
        Self { process, events: Vec::new(), ended: false }
    }

    /// Reads what is there without waiting. Lines that are not JSON
    /// objects with an `event` (libtest's, from the rust node) are
    /// skipped.
    fn drain(&mut self) {
        while !self.ended {
            match self.process.line(Duration::ZERO) {
                Ok(Some(line)) => {
                    if let Some(event) =
                        serde_json::from_str::<Json>(&line).ok().filter(|e| e["event"].as_str().is_some())
                    {
                        self.events.push(event);
                    }
                }
                Ok(None) => self.ended = true,
                Err(_) => return, // nothing yet
            }
        }
    }

    /// The first event called `name` printed so far.
    fn find(&self, name: &str) -> Option<&Json> {
        self.events.iter().find(|e| e["event"] == name)
    }

    /// Waits at most `limit` for the first event called `name` (a setup
    /// step: failing the test if it does not come).
    fn wait(&mut self, name: &str, limit: Duration) -> Json {
        let deadline = Instant::now() + limit;
        loop {
            self.drain();
            if let Some(error) = self.find("error") {
                panic!("a node failed while we waited for `{name}`: {error}; it printed {:?}", self.texts());
            }
            if let Some(event) = self.find(name) {
                return event.clone();
            }
            assert!(!self.ended, "the node ended before printing `{name}`; it printed {:?}", self.texts());
            assert!(Instant::now() < deadline, "no `{name}` within {limit:?}; the node printed {:?}", self.texts());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn texts(&self) -> Vec<String> {
        self.events.iter().map(ToString::to_string).collect()
    }
}

fn text(event: &Json, field: &str) -> String {
    event[field].as_str().unwrap_or_else(|| panic!("no `{field}` in {event}")).to_owned()
}

/// `peer ARGS` inside `host`'s namespace.
fn peer(host: &Host, args: &[&str]) -> std::process::Command {
    let mut command = host.command(strata_testkit::example_binary("peer"));
    command.args(args);
    command
}

/// [`rust_node`] inside `host`'s namespace: `role` (`listen` or `dial`),
/// listening on `listen`, using the relay at `relay`, dialing `target`.
fn rust_node_command(
    host: &Host,
    role: &str,
    listen: &str,
    relay: &str,
    target: Option<&str>,
) -> std::process::Command {
    let mut command = host.test_command("rust_node").unwrap();
    command.env(ROLE, role).env(LISTEN, listen).env(RELAY, relay).env(TIMEOUT, "60");
    if let Some(target) = target {
        command.env(TARGET, target);
    }
    command
}

/// One hole punch of `cell` on `port`: a new relay on the relay host, a
/// new alice that reserves on it, a new bob that dials her through it.
/// Every process ends when this returns.
fn punch_once(hosts: &Hosts, cell: Cell, port: u16) -> Run {
    let transport = cell.transport;
    // A relay of its own: a relay keeps a reservation until it sees the
    // connection close, which a killed QUIC peer never says (and it
    // allows 8 per IP address).
    // On the transport the peers punch over: identify over their
    // connection to it tells each its address on that transport. (`peer`
    // takes one `--listen`.)
    let relay_listen = transport.on(hosts.relay.ip(), port);
    let relay_args = ["listen", "--relay-server", "--listen", &relay_listen, "--timeout", "90"];
    let mut relay = Watch::new(hosts.relay.spawn(peer(&hosts.relay, &relay_args)).unwrap());
    let relay_addr = text(&relay.wait("listening", EVENT), "addr");
    let listen = transport.any(port);

    let mut alice = Watch::new(match cell.alice {
        Side::Strata => hosts
            .alice
            .spawn(peer(&hosts.alice, &["listen", "--listen", &listen, "--relay", &relay_addr, "--timeout", "90"]))
            .unwrap(),
        Side::Rust => hosts.alice.spawn(rust_node_command(&hosts.alice, "listen", &listen, &relay_addr, None)).unwrap(),
    });
    let circuit = text(&alice.wait("reservation", EVENT), "addr");

    let dialed = Instant::now();
    let mut bob = match cell.bob {
        Side::Strata => {
            // bob listens (so that he stays for all of alice's attempts)
            // and dials her through the relay from his listen port.
            let command = peer(&hosts.bob, &["listen", "--listen", &listen, "--timeout", "90"]);
            let mut bob = Watch::new(hosts.bob.spawn_interactive(command).unwrap());
            bob.wait("listening", EVENT);
            bob.process.send_line(&format!("dial {circuit}")).unwrap();
            bob
        }
        Side::Rust => Watch::new(
            hosts.bob.spawn(rust_node_command(&hosts.bob, "dial", &listen, &relay_addr, Some(&circuit))).unwrap(),
        ),
    };

    // alice's outcome (she accepted the relayed connection, so she
    // initiated), within PUNCH.
    while alice.find("hole_punch").is_none() && !(alice.ended && bob.ended) && dialed.elapsed() < PUNCH {
        alice.drain();
        bob.drain();
        std::thread::sleep(Duration::from_millis(20));
    }
    let outcome = alice.find("hole_punch").or_else(|| bob.find("hole_punch")).cloned();
    let Some(outcome) = outcome else {
        return Run { ok: false, attempts: 0, ms: 0, reason: "no_event".into(), direct_ping: None };
    };
    let ok = outcome["result"] == "ok";
    // After a success, a ping over the direct connection: rust-libp2p
    // pings every connection (strata answers).
    let has_rust = cell.alice == Side::Rust || cell.bob == Side::Rust;
    let direct_ping = (has_rust && ok).then(|| {
        let since = Instant::now();
        loop {
            alice.drain();
            bob.drain();
            let pings = |side: Side, watch: &Watch| {
                side == Side::Rust && watch.events.iter().any(|e| e["event"] == "ping" && e["relayed"] == false)
            };
            if pings(cell.alice, &alice) || pings(cell.bob, &bob) {
                return true;
            }
            if since.elapsed() > DIRECT_PING {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    Run {
        ok,
        attempts: outcome["attempts"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        ms: outcome["ms"].as_u64().unwrap_or(0),
        reason: outcome["reason"].as_str().unwrap_or("").to_owned(),
        direct_ping,
    }
}

/// A strata bob that pings over the direct connection: as `punch_once`
/// (a relay and an alice, `alice` side, of their own on `port`), but bob
/// is `peer dial …/p2p-circuit/p2p/<alice> --ping 2`, which pings over the
/// direct connection once the hole punch made one. (Not how the rates
/// are measured: a `dial` ends once it has pinged, which would cut short
/// an initiator's later attempts after a failed first one.) `Ok` with the
/// direct address when the punch worked and both pings went after it,
/// else why not.
fn strata_pings_direct(hosts: &Hosts, alice_side: Side, transport: Transport, port: u16) -> Result<String, String> {
    let relay_listen = transport.on(hosts.relay.ip(), port);
    let relay_args = ["listen", "--relay-server", "--listen", &relay_listen, "--timeout", "90"];
    let mut relay = Watch::new(hosts.relay.spawn(peer(&hosts.relay, &relay_args)).unwrap());
    let relay_addr = text(&relay.wait("listening", EVENT), "addr");
    let listen = transport.any(port);
    let mut alice = Watch::new(match alice_side {
        Side::Strata => hosts
            .alice
            .spawn(peer(&hosts.alice, &["listen", "--listen", &listen, "--relay", &relay_addr, "--timeout", "90"]))
            .unwrap(),
        Side::Rust => hosts.alice.spawn(rust_node_command(&hosts.alice, "listen", &listen, &relay_addr, None)).unwrap(),
    });
    let circuit = text(&alice.wait("reservation", EVENT), "addr");
    let bob_args = ["dial", &circuit, "--listen", &listen, "--ping", "2", "--timeout", "30"];
    let mut bob = Watch::new(hosts.bob.spawn(peer(&hosts.bob, &bob_args)).unwrap());
    let deadline = Instant::now() + PUNCH;
    while !bob.ended && Instant::now() < deadline {
        bob.drain();
        std::thread::sleep(Duration::from_millis(20));
    }
    // `connected` relayed, `hole_punch` ok, `connected` direct, then the
    // pings.
    let names: Vec<&str> = bob.events.iter().map(|e| e["event"].as_str().unwrap_or("")).collect();
    let direct = bob.events.iter().position(|e| e["event"] == "connected" && e["relayed"] == false);
    let punch = bob.find("hole_punch");
    match (punch.filter(|e| e["result"] == "ok"), direct) {
        (Some(punch), Some(direct)) if names[direct..].iter().filter(|name| **name == "ping").count() == 2 => {
            Ok(text(punch, "addr"))
        }
        _ => {
            Err(format!("bob printed {names:?}; its hole punch: {}", punch.map_or("none".into(), ToString::to_string)))
        }
    }
}

/// The results of every cell (and what went with them) as
/// `hole_punch_matrix` prints them, on stderr.
fn print_table(n: u16, elapsed: Duration, results: &[(usize, Cell, Vec<Run>)]) {
    eprintln!(
        "\nhole punches through two port-restricted NATs, {n} per cell, in {elapsed:.0?} \
         (alice listens and initiates; bob dials through the relay)"
    );
    eprintln!(
        "{:<20} {:<5} {:>7} {:>9} {:>10} {:>11}  failures",
        "alice × bob", "over", "success", "attempts", "median ms", "direct ping"
    );
    for (_, cell, runs) in results {
        let successes: Vec<&Run> = runs.iter().filter(|run| run.ok).collect();
        let mut times: Vec<u64> = successes.iter().map(|run| run.ms).collect();
        times.sort_unstable();
        let median = times.get(times.len() / 2).map_or("-".to_owned(), ToString::to_string);
        let attempts: u32 = successes.iter().map(|run| run.attempts).sum();
        let mean_attempts = if successes.is_empty() {
            "-".to_owned()
        } else {
            format!("{:.1}", f64::from(attempts) / f64::from(u32::try_from(successes.len()).unwrap()))
        };
        let pinged = successes.iter().filter(|run| run.direct_ping == Some(true)).count();
        let direct_ping = if successes.iter().all(|run| run.direct_ping.is_none()) {
            "-".to_owned()
        } else {
            format!("{pinged}/{}", successes.len())
        };
        let failures: Vec<String> =
            runs.iter().filter(|run| !run.ok).map(|run| format!("{}×{}", run.reason, run.attempts)).collect();
        eprintln!(
            "{:<20} {:<5} {:>3}/{:<3} {:>9} {:>10} {:>11}  {}",
            cell.name(),
            cell.transport.name(),
            successes.len(),
            runs.len(),
            mean_attempts,
            median,
            direct_ping,
            failures.join(" ")
        );
    }
}

/// alice's side, the transport, and each try of [`strata_pings_direct`].
type PingCheck = (Side, Transport, Vec<Result<String, String>>);

/// strata's own pings over the direct connection ([`strata_pings_direct`])
/// with each kind of alice, over each transport: the first of at most 3
/// punches that works.
fn strata_ping_checks(hosts: &Hosts, next_port: &AtomicU16) -> Vec<PingCheck> {
    let mut pinged = Vec::new();
    for alice in [Side::Rust, Side::Strata] {
        for transport in [Transport::Tcp, Transport::Quic] {
            let tries: Vec<Result<String, String>> = (0..3)
                .scan(false, |done, _| {
                    (!*done).then(|| {
                        let outcome =
                            strata_pings_direct(hosts, alice, transport, next_port.fetch_add(1, Ordering::Relaxed));
                        *done = outcome.is_ok();
                        outcome
                    })
                })
                .collect();
            pinged.push((alice, transport, tries));
        }
    }
    pinged
}

/// The NAT kind named by the environment variable `variable`
/// (`port-restricted` unless set; the names of [`NatKind::name`]).
fn nat_kind(variable: &str) -> NatKind {
    let Ok(name) = std::env::var(variable) else { return NatKind::PortRestricted };
    NatKind::ALL
        .into_iter()
        .find(|kind| kind.name() == name)
        .unwrap_or_else(|| panic!("{variable}={name}: not one of {:?}", NatKind::ALL.map(NatKind::name)))
}

/// Hole punches between strata and rust-libp2p, and each with itself,
/// through two port-restricted NATs over TCP and QUIC: a table of success
/// rates on stderr; every cell with strata succeeds at least once. By
/// hand, other cone NATs: `STRATA_PUNCH_NAT_A` (alice's),
/// `STRATA_PUNCH_NAT_B` (bob's), e.g. `full-cone`, `address-restricted`.
#[test]
fn strata_and_rust_libp2p_hole_punch_through_two_port_restricted_nats() {
    let n: u16 = std::env::var("STRATA_PUNCH_N").ok().and_then(|n| n.parse().ok()).unwrap_or(3);
    if let Err(reason) = Lab::available() {
        panic!("the NAT lab cannot run here: {reason}");
    }
    let (kind_a, kind_b) = (nat_kind("STRATA_PUNCH_NAT_A"), nat_kind("STRATA_PUNCH_NAT_B"));
    let lab = Lab::new().expect("the lab builds");
    let relay = lab.public_host("relay").unwrap();
    let (home_a, home_b) = (lab.nat("home-a", kind_a).unwrap(), lab.nat("home-b", kind_b).unwrap());
    eprintln!("alice behind a {} NAT, bob behind a {} NAT", kind_a.name(), kind_b.name());
    let hosts = Hosts { relay, alice: home_a.host("alice").unwrap(), bob: home_b.host("bob").unwrap() };

    let mut cells = Vec::new();
    for (alice, bob) in
        [(Side::Rust, Side::Rust), (Side::Strata, Side::Rust), (Side::Rust, Side::Strata), (Side::Strata, Side::Strata)]
    {
        for transport in [Transport::Tcp, Transport::Quic] {
            cells.push(Cell { alice, bob, transport });
        }
    }
    // A new port each punch: no mapping or conntrack entry of an earlier
    // punch is met again. Cells run side by side on the same hosts.
    let next_port = AtomicU16::new(5001);
    let queue = Mutex::new(cells.iter().copied().enumerate());
    let results = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let Some((index, cell)) = queue.lock().unwrap().next() else { break };
                    let runs: Vec<Run> =
                        (0..n).map(|_| punch_once(&hosts, cell, next_port.fetch_add(1, Ordering::Relaxed))).collect();
                    results.lock().unwrap().push((index, cell, runs));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(index, _, _)| *index);

    let pinged = strata_ping_checks(&hosts, &next_port);
    print_table(n, started.elapsed(), &results);
    eprintln!("strata (bob, `peer dial --ping 2`) pinging over the direct connection:");
    for (alice, transport, tries) in &pinged {
        let last = tries.last().map(|outcome| match outcome {
            Ok(addr) => format!("yes, at {addr}"),
            Err(why) => format!("no: {why}"),
        });
        eprintln!(
            "  {} × strata over {}: {} (after {} punch(es))",
            alice.name(),
            transport.name(),
            last.unwrap_or_default(),
            tries.len()
        );
    }

    if !(kind_a.is_cone() && kind_b.is_cone()) {
        return; // figures only: through a symmetric NAT, failing is right
    }
    for (alice, transport, tries) in &pinged {
        assert!(
            tries.iter().any(Result::is_ok),
            "{} × strata over {}: strata's pings never crossed a direct connection: {tries:?}",
            alice.name(),
            transport.name()
        );
    }
    for (_, cell, runs) in &results {
        let name = format!("{} over {}", cell.name(), cell.transport.name());
        if cell.has_strata() {
            assert!(runs.iter().any(|run| run.ok), "{name}: no hole punch succeeded: {runs:?}");
            if cell.alice == Side::Rust || cell.bob == Side::Rust {
                assert!(
                    runs.iter().any(|run| run.direct_ping == Some(true)),
                    "{name}: no ping crossed a direct connection after a success: {runs:?}"
                );
            }
        } else {
            // rust-libp2p's own rate, reported only; but every punch
            // ended in an outcome.
            assert!(
                runs.iter().all(|run| run.ok || (!run.reason.is_empty() && run.reason != "no_event")),
                "{name}: a hole punch ended without an outcome: {runs:?}"
            );
        }
    }
}

/// The rust-libp2p node ([`rust_lab_node::run`]), when this binary is
/// re-executed inside a lab namespace; nothing in a plain `--ignored` run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a rust-libp2p node that nat_lab_dcutr's test runs inside a lab namespace"]
async fn rust_node() {
    rust_lab_node::run().await;
}
