//! strata through real NATs, as users run it: the `peer` example inside the
//! NAT lab's namespaces (`strata_testkit::natlab`: an "internet" bridge,
//! home routers doing MASQUERADE that drop what nobody asked for). Needs
//! root, `ip` and `iptables` (CI runs as root; `.ci/run` installs them).
//!
//! The first test, with one relay named on the command line:
//!
//! ```text
//!   relay (public, --relay-server) 198.18.0.x
//!        ▲ reservation                 ▲ circuit
//!   home-a (port-restricted NAT)   home-b (symmetric NAT)
//!        alice (listen --relay)        bob (dial …/p2p-circuit/p2p/alice)
//! ```
//!
//! The second: `AutoNAT` v2 and auto-relay with no relay named. Two public
//! servers (`--relay-server`: hop and `AutoNAT`), a public node and a node
//! behind a NAT, both with `--autonat`: the public node's address is
//! confirmed reachable, the NAT'd node's is not, so its auto-relay reserves
//! on the servers by itself, and a node behind another NAT reaches it
//! through one.
//!
//! The third: two chats (`examples/chat.rs`) behind two NATs, each given
//! only a public bootstrap node (`peer listen --kad --relay-server`), find
//! out they cannot be dialed, get relays by themselves, meet in the room
//! through the DHT, punch through both NATs to a direct connection and
//! talk.
//!
//! Then hole punching (`DCUtR`): a relayed connection between two
//! port-restricted NATs becomes direct over TCP (a simultaneous open) and
//! over QUIC (the side that accepted the relayed connection sends punch
//! packets from its listening socket, the other dials it; the relay is on
//! QUIC too, as identify over the connection to it is what tells each its
//! QUIC address); behind two symmetric NATs it fails and says why. And
//! `hole_punch_matrix`: every pair of NAT kinds, both ways round, over TCP
//! and QUIC, `STRATA_PUNCH_N` punches a cell (3 unless set), a table on
//! stderr (`--nocapture`).
//!
//! Each test builds its own lab (namespaces named after this process) and
//! tears it down when it ends, also when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use serde_json::Value;
use strata_testkit::natlab::{Host, Lab, NatKind, Process};

/// How long a test waits for one event of a peer.
const EVENT: Duration = Duration::from_secs(20);

fn lab() -> Lab {
    if let Err(reason) = Lab::available() {
        panic!("the NAT lab cannot run here: {reason}");
    }
    Lab::new().expect("the lab builds")
}

/// `peer ARGS` inside `host`'s namespace.
fn peer(host: &Host, args: &[&str]) -> std::process::Command {
    let mut command = host.command(strata_testkit::example_binary("peer"));
    command.args(args);
    command
}

/// The next event called `name` that `process` prints (others skipped).
fn event(process: &mut Process, name: &str) -> Value {
    event_where(process, name, |_| true)
}

/// The next event called `name` that satisfies `wanted`.
fn event_where(process: &mut Process, name: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    event_within(process, name, wanted, EVENT)
}

/// The next event called `name` that satisfies `wanted`, within `limit`.
fn event_within(process: &mut Process, name: &str, wanted: impl Fn(&Value) -> bool, limit: Duration) -> Value {
    let deadline = std::time::Instant::now() + limit;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = process.line(left).unwrap_or_else(|error| panic!("waiting for `{name}`: {error}; seen {skipped:?}"));
        let line = line.unwrap_or_else(|| panic!("the peer ended before printing `{name}`; seen {skipped:?}"));
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        assert_ne!(event["event"], "error", "the peer failed while we waited for `{name}`: {event}");
        if event["event"] == name && wanted(&event) {
            return event;
        }
        skipped.push(line);
    }
}

fn text(event: &Value, field: &str) -> String {
    event[field].as_str().unwrap_or_else(|| panic!("no `{field}` in {event}")).to_owned()
}

/// Runs `process` to its end; its events and whether it succeeded.
fn finish(mut process: Process, limit: Duration) -> (Vec<Value>, bool) {
    let mut events = Vec::new();
    let deadline = std::time::Instant::now() + limit;
    while let Ok(Some(line)) = process.line(deadline.saturating_duration_since(std::time::Instant::now())) {
        events.push(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}")));
    }
    let status = process.wait(Duration::from_secs(5)).unwrap();
    (events, status.success())
}

#[test]
fn two_peers_behind_two_nats_meet_through_a_public_relay() {
    let lab = lab();
    let relay_host = lab.public_host("relay").unwrap();
    let (home_a, home_b) =
        (lab.nat("home-a", NatKind::PortRestricted).unwrap(), lab.nat("home-b", NatKind::Symmetric).unwrap());
    let (alice_host, bob_host) = (home_a.host("alice").unwrap(), home_b.host("bob").unwrap());

    let relay_listen = format!("/ip4/{}/tcp/4001", relay_host.ip());
    let mut relay = relay_host
        .spawn(peer(&relay_host, &["listen", "--relay-server", "--listen", &relay_listen, "--timeout", "90"]))
        .unwrap();
    let relay_addr = text(&event(&mut relay, "listening"), "addr");

    let gossip = ["--topic", "chat", "--pubsub", "gossipsub"];
    let mut alice_args = vec!["listen", "--listen", "/ip4/0.0.0.0/tcp/4001", "--relay", &relay_addr, "--timeout", "90"];
    alice_args.extend(gossip);
    let mut alice = alice_host.spawn_interactive(peer(&alice_host, &alice_args)).unwrap();
    let alice_id = text(&event(&mut alice, "listening"), "peer_id");
    let circuit = text(&event(&mut alice, "reservation"), "addr");
    assert!(
        circuit.starts_with(&relay_addr) && circuit.ends_with(&format!("/p2p-circuit/p2p/{alice_id}")),
        "{circuit}"
    );

    // Alice cannot be reached directly: her router drops the SYN.
    let direct = format!("/ip4/{}/tcp/4001/p2p/{alice_id}", home_a.public_ip());
    let (events, ok) = finish(bob_host.spawn(peer(&bob_host, &["dial", &direct, "--timeout", "3"])).unwrap(), EVENT);
    assert!(!ok && events.iter().any(|e| e["event"] == "error"), "a direct dial through a NAT failed: {events:?}");

    // Through the relay: connect, ping, gossip both ways.
    let mut bob_args = vec!["dial", &circuit, "--ping", "3", "--publish", "hello from bob", "--expect-messages", "1"];
    bob_args.extend(gossip);
    bob_args.extend(["--timeout", "40"]);
    let bob = bob_host.spawn(peer(&bob_host, &bob_args)).unwrap();
    let subscribed = event_where(&mut alice, "subscribed", |e| e["topic"] == "chat");
    let bob_id = text(&subscribed, "peer_id");
    alice.send_line("publish chat hello from alice").unwrap();
    let heard = event_where(&mut alice, "message", |e| e["topic"] == "chat");
    assert_eq!((text(&heard, "data"), text(&heard, "source")), ("hello from bob".to_owned(), bob_id.clone()));

    let (events, ok) = finish(bob, Duration::from_secs(45));
    assert!(ok, "bob's run: {events:?}");
    let connected = events.iter().find(|e| e["event"] == "connected").expect("bob connected");
    assert_eq!((connected["peer_id"].as_str(), connected["relayed"].as_bool()), (Some(alice_id.as_str()), Some(true)));
    assert_eq!(events.iter().filter(|e| e["event"] == "ping").count(), 3, "{events:?}");
    let message = events.iter().find(|e| e["event"] == "message").expect("bob heard alice");
    assert_eq!(
        (message["data"].as_str(), message["source"].as_str()),
        (Some("hello from alice"), Some(alice_id.as_str()))
    );
}

#[test]
fn autonat_tells_the_public_node_from_the_natted_one_and_auto_relay_makes_the_natted_one_reachable() {
    let lab = lab();
    let servers: Vec<Host> = ["server-1", "server-2"].iter().map(|name| lab.public_host(name).unwrap()).collect();
    let public_host = lab.public_host("public").unwrap();
    let (home_a, home_b) =
        (lab.nat("home-a", NatKind::PortRestricted).unwrap(), lab.nat("home-b", NatKind::PortRestricted).unwrap());
    let (alice_host, bob_host) = (home_a.host("alice").unwrap(), home_b.host("bob").unwrap());

    let mut server_addrs = Vec::new();
    let mut running = Vec::new();
    for host in &servers {
        let listen = format!("/ip4/{}/tcp/4001", host.ip());
        let mut server =
            host.spawn(peer(host, &["listen", "--relay-server", "--listen", &listen, "--timeout", "120"])).unwrap();
        server_addrs.push(text(&event(&mut server, "listening"), "addr"));
        running.push(server);
    }
    let public_listen = format!("/ip4/{}/tcp/4001", public_host.ip());
    let mut public = public_host
        .spawn_interactive(peer(&public_host, &["listen", "--autonat", "--listen", &public_listen, "--timeout", "120"]))
        .unwrap();
    let mut alice = alice_host
        .spawn_interactive(peer(
            &alice_host,
            &["listen", "--autonat", "--auto-relay", "--listen", "/ip4/0.0.0.0/tcp/4001", "--timeout", "120"],
        ))
        .unwrap();
    let alice_id = text(&event(&mut alice, "listening"), "peer_id");
    for addr in &server_addrs {
        public.send_line(&format!("dial {addr}")).unwrap();
        alice.send_line(&format!("dial {addr}")).unwrap();
    }

    // The public node: its listen address, confirmed by two servers.
    let verdict = event_within(&mut public, "reachability", |_| true, Duration::from_secs(40));
    assert_eq!((text(&verdict, "addr"), verdict["reachable"].as_bool()), (public_listen, Some(true)), "{verdict}");

    // Alice: the address her router shows (her listen port on the router's
    // address) is not reachable: the servers' dial backs are dropped.
    let verdict = event_within(&mut alice, "reachability", |_| true, Duration::from_secs(40));
    let router_addr = format!("/ip4/{}/tcp/4001", home_a.public_ip());
    assert_eq!((text(&verdict, "addr"), verdict["reachable"].as_bool()), (router_addr, Some(false)), "{verdict}");

    // So auto-relay reserves on the servers by itself.
    let reservation = event_within(&mut alice, "reservation", |_| true, Duration::from_secs(30));
    let relay_id = text(&reservation, "relay");
    assert!(server_addrs.iter().any(|addr| addr.ends_with(&relay_id)), "{reservation}");
    let circuit = text(&reservation, "addr");
    assert!(circuit.ends_with(&format!("/p2p-circuit/p2p/{alice_id}")), "{circuit}");

    // Bob, behind another NAT, reaches her through it.
    let (events, ok) = finish(
        bob_host.spawn(peer(&bob_host, &["dial", &circuit, "--ping", "2", "--timeout", "30"])).unwrap(),
        Duration::from_secs(35),
    );
    assert!(ok, "bob's run: {events:?}");
    let connected = events.iter().find(|e| e["event"] == "connected").expect("bob connected");
    assert_eq!((connected["peer_id"].as_str(), connected["relayed"].as_bool()), (Some(alice_id.as_str()), Some(true)));
    assert_eq!(events.iter().filter(|e| e["event"] == "ping").count(), 2, "{events:?}");
}

/// The next line of `process` that contains `text`.
fn line_containing(process: &mut Process, text: &str, limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match process.line(left) {
            Ok(Some(line)) if line.contains(text) => return line,
            Ok(Some(line)) => seen.push(line),
            Ok(None) => panic!("the chat ended before printing {text:?}; it printed {seen:#?}"),
            Err(error) => panic!("waiting for {text:?}: {error}; it printed {seen:#?}"),
        }
    }
}

#[test]
fn two_chats_behind_two_nats_talk_given_only_a_public_bootstrap_node() {
    let lab = lab();
    let bootstrap_host = lab.public_host("bootstrap").unwrap();
    let (home_a, home_b) =
        (lab.nat("home-a", NatKind::PortRestricted).unwrap(), lab.nat("home-b", NatKind::PortRestricted).unwrap());
    let (alice_host, bob_host) = (home_a.host("alice").unwrap(), home_b.host("bob").unwrap());

    // A public node serving the DHT, relay and AutoNAT: what a project would run.
    let listen = format!("/ip4/{}/tcp/4001", bootstrap_host.ip());
    let mut bootstrap = bootstrap_host
        .spawn(peer(&bootstrap_host, &["listen", "--kad", "--relay-server", "--listen", &listen, "--timeout", "150"]))
        .unwrap();
    let bootstrap_addr = text(&event(&mut bootstrap, "listening"), "addr");

    let chat = |host: &Host, nick: &str| {
        let mut command = host.command(strata_testkit::example_binary("chat"));
        command.args([
            "--bootstrap",
            &bootstrap_addr,
            "--nick",
            nick,
            "--no-mdns",
            "--listen",
            "/ip4/0.0.0.0/tcp/4001",
        ]);
        host.spawn_interactive(command).unwrap()
    };
    let (mut alice, mut bob) = (chat(&alice_host, "alice"), chat(&bob_host, "bob"));

    // Each finds out it cannot be dialed, and gets itself a relay.
    for person in [&mut alice, &mut bob] {
        line_containing(person, "cannot be reached from outside", Duration::from_secs(40));
        line_containing(person, "reachable through relay", Duration::from_secs(30));
    }
    // They meet in the room through the DHT and the relay, and talk.
    // (Known by the end of their peer ids until they say something: the
    // bootstrap node is not in the room, so whoever joins is the other.)
    line_containing(&mut alice, " joined", Duration::from_mins(1));
    line_containing(&mut bob, " joined", Duration::from_secs(30));
    // And they punch through both NATs to a direct connection.
    line_containing(&mut alice, "direct connection to", Duration::from_secs(30));
    alice.send_line("hello from behind a NAT").unwrap();
    line_containing(&mut bob, "alice: hello from behind a NAT", Duration::from_secs(20));
    bob.send_line("and from behind another").unwrap();
    line_containing(&mut alice, "bob: and from behind another", Duration::from_secs(20));
}

#[test]
fn a_relayed_connection_between_two_nats_becomes_direct_by_a_tcp_hole_punch() {
    let lab = lab();
    let relay_host = lab.public_host("relay").unwrap();
    let (home_a, home_b) =
        (lab.nat("home-a", NatKind::PortRestricted).unwrap(), lab.nat("home-b", NatKind::PortRestricted).unwrap());
    let (alice_host, bob_host) = (home_a.host("alice").unwrap(), home_b.host("bob").unwrap());

    let relay_listen = format!("/ip4/{}/tcp/4001", relay_host.ip());
    let mut relay = relay_host
        .spawn(peer(&relay_host, &["listen", "--relay-server", "--listen", &relay_listen, "--timeout", "60"]))
        .unwrap();
    let relay_addr = text(&event(&mut relay, "listening"), "addr");
    let mut alice = alice_host
        .spawn(peer(
            &alice_host,
            &["listen", "--listen", "/ip4/0.0.0.0/tcp/4001", "--relay", &relay_addr, "--serve-perf", "--timeout", "60"],
        ))
        .unwrap();
    let alice_id = text(&event(&mut alice, "listening"), "peer_id");
    let circuit = text(&event(&mut alice, "reservation"), "addr");

    // Bob dials Alice through the relay, from his listen port; DCUtR then
    // has both dial each other's router at once. Then he sends her 10 MiB:
    // the relayed connection would carry 128 KiB at most.
    let upload = (10u64 << 20).to_string();
    let bob_args =
        ["dial", &circuit, "--listen", "/ip4/0.0.0.0/tcp/4001", "--ping", "2", "--upload", &upload, "--timeout", "40"];
    let (events, ok) = finish(bob_host.spawn(peer(&bob_host, &bob_args)).unwrap(), Duration::from_secs(45));
    assert!(ok, "bob's run: {events:#?}");
    let punch =
        events.iter().find(|e| e["event"] == "hole_punch").unwrap_or_else(|| panic!("no hole punch: {events:#?}"));
    assert_eq!(punch["result"], "ok", "{punch}");
    let direct = format!("/ip4/{}/tcp/4001", home_a.public_ip());
    assert_eq!(text(punch, "addr"), direct, "{punch}");
    let connections: Vec<(Option<bool>, Option<&str>)> = events
        .iter()
        .filter(|e| e["event"] == "connected")
        .map(|e| (e["relayed"].as_bool(), e["peer_id"].as_str()))
        .collect();
    assert_eq!(connections, [(Some(true), Some(alice_id.as_str())), (Some(false), Some(alice_id.as_str()))]);
    assert_eq!(events.iter().filter(|e| e["event"] == "ping").count(), 2, "{events:#?}");
    let sent = events.iter().find(|e| e["event"] == "perf").unwrap_or_else(|| panic!("no upload: {events:#?}"));
    assert_eq!(sent["upload_bytes"].as_u64(), Some(10 << 20), "{sent}");
    let served = event(&mut alice, "perf_served");
    assert_eq!(served["upload_bytes"].as_u64(), Some(10 << 20), "{served}");
}

#[test]
fn behind_two_symmetric_nats_the_hole_punch_fails_and_says_why_and_the_relay_still_carries() {
    let lab = lab();
    let relay_host = lab.public_host("relay").unwrap();
    let (home_a, home_b) =
        (lab.nat("home-a", NatKind::Symmetric).unwrap(), lab.nat("home-b", NatKind::Symmetric).unwrap());
    let (alice_host, bob_host) = (home_a.host("alice").unwrap(), home_b.host("bob").unwrap());

    let relay_listen = format!("/ip4/{}/tcp/4001", relay_host.ip());
    let mut relay = relay_host
        .spawn(peer(&relay_host, &["listen", "--relay-server", "--listen", &relay_listen, "--timeout", "90"]))
        .unwrap();
    let relay_addr = text(&event(&mut relay, "listening"), "addr");
    let mut alice = alice_host
        .spawn(peer(
            &alice_host,
            &["listen", "--listen", "/ip4/0.0.0.0/tcp/4001", "--relay", &relay_addr, "--timeout", "90"],
        ))
        .unwrap();
    let circuit = text(&event(&mut alice, "reservation"), "addr");

    // Bob (a listening node, so that he stays for all of Alice's attempts)
    // dials her through the relay.
    let mut bob = bob_host
        .spawn_interactive(peer(&bob_host, &["listen", "--listen", "/ip4/0.0.0.0/tcp/4001", "--timeout", "90"]))
        .unwrap();
    event(&mut bob, "listening");
    bob.send_line(&format!("dial {circuit}")).unwrap();
    // Alice started the hole punch (she accepted the relayed connection):
    // every attempt fails, as each NAT picks a new port for each peer.
    let outcome = event_within(&mut alice, "hole_punch", |_| true, Duration::from_mins(1));
    assert_eq!(
        (&outcome["result"], &outcome["attempts"], &outcome["reason"]),
        (&"failed".into(), &3.into(), &"dials_failed".into()),
        "{outcome}"
    );
    // The relayed connection carried identify all the same, and stayed the
    // only one.
    let connected = event_where(&mut bob, "connected", |e| e["relayed"] == true);
    let alice_id = text(&connected, "peer_id");
    event_where(&mut bob, "identify", |e| e["peer_id"] == alice_id.as_str());
    let more = std::iter::from_fn(|| bob.line(Duration::from_millis(500)).ok().flatten()).collect::<Vec<_>>();
    assert!(!more.iter().any(|line| line.contains("\"relayed\":false")), "{more:#?}");
}

#[test]
fn a_relayed_connection_between_two_nats_becomes_direct_by_a_quic_hole_punch() {
    let lab = lab();
    let relay_host = lab.public_host("relay").unwrap();
    let (home_a, home_b) =
        (lab.nat("home-a", NatKind::PortRestricted).unwrap(), lab.nat("home-b", NatKind::PortRestricted).unwrap());
    let (alice_host, bob_host) = (home_a.host("alice").unwrap(), home_b.host("bob").unwrap());

    // Everyone on QUIC, the relay too: the addresses the peers observe of
    // themselves come from identify over their connection to it.
    let relay_listen = format!("/ip4/{}/udp/4001/quic-v1", relay_host.ip());
    let mut relay = relay_host
        .spawn(peer(&relay_host, &["listen", "--relay-server", "--listen", &relay_listen, "--timeout", "60"]))
        .unwrap();
    let relay_addr = text(&event(&mut relay, "listening"), "addr");
    let mut alice = alice_host
        .spawn(peer(
            &alice_host,
            &["listen", "--listen", "/ip4/0.0.0.0/udp/4001/quic-v1", "--relay", &relay_addr, "--timeout", "60"],
        ))
        .unwrap();
    let alice_id = text(&event(&mut alice, "listening"), "peer_id");
    let circuit = text(&event(&mut alice, "reservation"), "addr");

    let bob_args = ["dial", &circuit, "--listen", "/ip4/0.0.0.0/udp/4001/quic-v1", "--ping", "2", "--timeout", "40"];
    let (events, ok) = finish(bob_host.spawn(peer(&bob_host, &bob_args)).unwrap(), Duration::from_secs(45));
    assert!(ok, "bob's run: {events:#?}");
    let punch =
        events.iter().find(|e| e["event"] == "hole_punch").unwrap_or_else(|| panic!("no hole punch: {events:#?}"));
    assert_eq!(punch["result"], "ok", "{punch}");
    let direct = format!("/ip4/{}/udp/4001/quic-v1", home_a.public_ip());
    assert_eq!(text(punch, "addr"), direct, "{punch}");
    let connections: Vec<(Option<bool>, Option<&str>)> = events
        .iter()
        .filter(|e| e["event"] == "connected")
        .map(|e| (e["relayed"].as_bool(), e["peer_id"].as_str()))
        .collect();
    assert_eq!(connections, [(Some(true), Some(alice_id.as_str())), (Some(false), Some(alice_id.as_str()))]);
    assert_eq!(events.iter().filter(|e| e["event"] == "ping").count(), 2, "{events:#?}");
}

/// The transports a hole punch is tried over in [`hole_punch_matrix`].
#[derive(Debug, Clone, Copy)]
enum Transport {
    Tcp,
    Quic,
}

impl Transport {
    /// The listen address on every interface, on `port`.
    fn any(self, port: u16) -> String {
        self.on(std::net::Ipv4Addr::UNSPECIFIED, port)
    }

    fn on(self, ip: std::net::Ipv4Addr, port: u16) -> String {
        match self {
            Self::Tcp => format!("/ip4/{ip}/tcp/{port}"),
            Self::Quic => format!("/ip4/{ip}/udp/{port}/quic-v1"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Quic => "quic",
        }
    }
}

/// One hole punch's outcome, as the initiator (alice) tells it.
#[derive(Debug)]
struct Run {
    ok: bool,
    attempts: u32,
    ms: u64,
    /// Why it failed (`hole_punch`'s `reason`), or `no_event`.
    reason: String,
}

/// One hole punch through the NATs of `alice_host` and `bob_host`: a new
/// alice listening on `port` reserves on a new relay on `relay_host`, a new bob (listening
/// on `port` too) dials her through it, and alice (who accepted the
/// relayed connection) starts `DCUtR`. Both end when this returns.
fn punch_once(relay_host: &Host, alice_host: &Host, bob_host: &Host, transport: Transport, port: u16) -> Run {
    // A relay of its own: a relay keeps a reservation until it sees the
    // connection close, which a killed QUIC peer never says (and it
    // allows 8 per IP address).
    let relay_listen = transport.on(relay_host.ip(), port);
    let mut relay = relay_host
        .spawn(peer(relay_host, &["listen", "--relay-server", "--listen", &relay_listen, "--timeout", "60"]))
        .unwrap();
    let relay_addr = &text(&event(&mut relay, "listening"), "addr");
    let listen = transport.any(port);
    let mut alice = alice_host
        .spawn(peer(alice_host, &["listen", "--listen", &listen, "--relay", relay_addr, "--timeout", "60"]))
        .unwrap();
    let circuit = text(&event(&mut alice, "reservation"), "addr");
    // Bob listens (so that he stays for all of Alice's attempts) and
    // dials her through the relay from his listen port.
    let mut bob =
        bob_host.spawn_interactive(peer(bob_host, &["listen", "--listen", &listen, "--timeout", "60"])).unwrap();
    event(&mut bob, "listening");
    bob.send_line(&format!("dial {circuit}")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(Some(line)) = alice.line(left) else {
            return Run { ok: false, attempts: 0, ms: 0, reason: "no_event".into() };
        };
        let outcome: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        if outcome["event"] == "hole_punch" {
            return Run {
                ok: outcome["result"] == "ok",
                attempts: outcome["attempts"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
                ms: outcome["ms"].as_u64().unwrap_or(0),
                reason: outcome["reason"].as_str().unwrap_or("").to_owned(),
            };
        }
    }
}

/// `n` hole punches over `transport` between a host behind a `kind_a` NAT
/// (alice, who listens and initiates) and one behind a `kind_b` NAT (bob,
/// who dials through the relay), in a lab of their own.
fn punch_series(kind_a: NatKind, kind_b: NatKind, transport: Transport, n: u16) -> Vec<Run> {
    let lab = lab();
    let relay_host = lab.public_host("relay").unwrap();
    let (home_a, home_b) = (lab.nat("home-a", kind_a).unwrap(), lab.nat("home-b", kind_b).unwrap());
    let (alice_host, bob_host) = (home_a.host("alice").unwrap(), home_b.host("bob").unwrap());
    // A new port each run: no mapping or conntrack entry of an earlier
    // run is met again.
    (0..n).map(|i| punch_once(&relay_host, &alice_host, &bob_host, transport, 5001 + i)).collect()
}

/// Hole punches between every pair of NAT kinds (cone kinds, and each with
/// a symmetric NAT, both ways round) over TCP and QUIC: a table of success
/// rates and median times on stderr. `STRATA_PUNCH_N` runs per cell
/// (default 3). Every cone pair succeeds at least once; two symmetric NATs
/// never do, and say why.
#[test]
fn hole_punch_matrix() {
    let n: u16 = std::env::var("STRATA_PUNCH_N").ok().and_then(|n| n.parse().ok()).unwrap_or(3);
    let mut cells = Vec::new();
    for kind_a in NatKind::ALL {
        for kind_b in NatKind::ALL {
            for transport in [Transport::Tcp, Transport::Quic] {
                cells.push((kind_a, kind_b, transport));
            }
        }
    }
    // The slow cells (a failure waits out 3 dial timeouts of 5 s) first,
    // ten labs at a time: their peers mostly wait.
    cells.sort_by_key(|(a, b, _)| a.is_cone() && b.is_cone());
    let queue = std::sync::Mutex::new(cells.into_iter());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..10 {
            scope.spawn(|| {
                loop {
                    let Some((a, b, transport)) = queue.lock().unwrap().next() else { break };
                    let runs = punch_series(a, b, transport, n);
                    results.lock().unwrap().push((a, b, transport, runs));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(a, b, transport, _)| (a.name(), b.name(), transport.name()));

    eprintln!("\nhole punches, {n} per cell (alice listens and initiates; bob dials through the relay)");
    eprintln!(
        "{:<20} {:<20} {:<5} {:>7} {:>9} {:>10}  failures",
        "alice's NAT", "bob's NAT", "over", "success", "attempts", "median ms"
    );
    for (a, b, transport, runs) in &results {
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
        let failures: Vec<String> =
            runs.iter().filter(|run| !run.ok).map(|run| format!("{}×{}", run.reason, run.attempts)).collect();
        eprintln!(
            "{:<20} {:<20} {:<5} {:>3}/{:<3} {:>9} {:>10}  {}",
            a.name(),
            b.name(),
            transport.name(),
            successes.len(),
            runs.len(),
            mean_attempts,
            median,
            failures.join(" ")
        );
    }
    for (a, b, transport, runs) in &results {
        let cell = format!("{} × {} over {}", a.name(), b.name(), transport.name());
        if a.is_cone() && b.is_cone() {
            assert!(runs.iter().any(|run| run.ok), "{cell}: no hole punch succeeded: {runs:?}");
        }
        if !a.is_cone() && !b.is_cone() {
            // Each NAT picks a new port for each peer: never, and the
            // event says why (`dials_failed` after 3 attempts).
            assert!(
                runs.iter().all(|run| !run.ok && run.reason != "no_event"),
                "{cell}: a hole punch through two symmetric NATs must fail, and say why: {runs:?}"
            );
            assert!(
                runs.iter().any(|run| run.reason == "dials_failed" && run.attempts == 3),
                "{cell}: the dials failed 3 times: {runs:?}"
            );
        }
    }
}
