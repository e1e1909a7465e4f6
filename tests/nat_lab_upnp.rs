//! Port mapping through a real `UPnP` IGD: Debian's miniupnpd on a home
//! router of the NAT lab (`strata_testkit::natlab`, `Router::start_upnp`).
//! Needs root, `ip`, `iptables`, `nft` and `miniupnpd` (`.ci/run` installs
//! them).
//!
//! ```text
//!   server-1, server-2 (public, --relay-server: AutoNAT)     public (public, dials alice directly)
//!        ▲ dial backs to 198.20.0.x:4001 ─▶ DNAT (miniupnpd) ─▶ alice
//!   home (port-restricted NAT + miniupnpd)
//!        alice (listen --upnp --autonat): port_mapped, then reachability true
//! ```
//!
//! Once over TCP, once over QUIC (a UDP mapping). Then alice stops
//! (Ctrl-C) and her mapping is gone from the router.
//!
//! miniupnpd refuses to forward on a reserved WAN address, and the lab's
//! default internet (`198.18.0.0/24`) is one: this lab's internet is
//! `198.20.0.0/24` (the namespaces route nowhere).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{net::Ipv4Addr, time::Duration};

use serde_json::Value;
use strata_testkit::natlab::{Host, Lab, NatKind, Process};

/// How long a test waits for one event of a peer.
const EVENT: Duration = Duration::from_secs(40);

/// `peer ARGS` inside `host`'s namespace.
fn peer(host: &Host, args: &[&str]) -> std::process::Command {
    let mut command = host.command(strata_testkit::example_binary("peer"));
    command.args(args);
    command
}

/// The next event called `name` that satisfies `wanted` (an `error` fails).
fn event_where(process: &mut Process, name: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + EVENT;
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

#[test]
fn a_node_behind_miniupnpd_maps_its_port_autonat_confirms_it_and_a_public_node_dials_it_directly() {
    map_confirm_and_dial("tcp", "/tcp/4001");
}

#[test]
fn the_same_over_quic_maps_a_udp_port() {
    map_confirm_and_dial("udp", "/udp/4001/quic-v1");
}

/// The whole story over one transport: `transport` is what follows the IP
/// in every address (`/tcp/4001`), `protocol` the mapping's (`tcp`).
fn map_confirm_and_dial(protocol: &str, transport: &str) {
    if let Err(reason) = Lab::available() {
        panic!("the NAT lab cannot run here: {reason}");
    }
    let lab = Lab::with_internet(Ipv4Addr::new(198, 20, 0, 0)).expect("the lab builds");
    let servers: Vec<Host> = ["server-1", "server-2"].iter().map(|name| lab.public_host(name).unwrap()).collect();
    let public_host = lab.public_host("public").unwrap();
    let home = lab.nat("home", NatKind::PortRestricted).unwrap();
    let upnp = home.start_upnp().unwrap_or_else(|error| panic!("miniupnpd starts: {error}"));
    let alice_host = home.host("alice").unwrap();

    let mut running = Vec::new();
    for host in &servers {
        let listen = format!("/ip4/{}{transport}", host.ip());
        let mut server = host
            .spawn_interactive(peer(host, &["listen", "--relay-server", "--listen", &listen, "--timeout", "120"]))
            .unwrap();
        event_where(&mut server, "listening", |_| true);
        running.push(server);
    }

    // Stdin closed: a piped stdin would keep her runtime from ending
    // (tokio reads stdin on a blocking thread).
    let mut alice = alice_host
        .spawn(peer(
            &alice_host,
            // No --timeout: she runs until SIGINT, then shuts down.
            &["listen", "--upnp", "--autonat", "--listen", &format!("/ip4/0.0.0.0{transport}")],
        ))
        .unwrap();
    let alice_id = text(&event_where(&mut alice, "listening", |_| true), "peer_id");

    // The mapping: the router's public address, the same port.
    let mapped = event_where(&mut alice, "port_mapped", |_| true);
    let external = format!("/ip4/{}{transport}", home.public_ip());
    assert_eq!(
        (text(&mapped, "protocol"), text(&mapped, "internal"), text(&mapped, "external")),
        (protocol.to_owned(), format!("/ip4/{}{transport}", alice_host.ip()), external.clone()),
        "{mapped}; miniupnpd's log: {}",
        upnp.log()
    );
    // nft shows the IP protocol as the header byte: `@nh,72,8 0x6` (TCP).
    let ip_protocol = format!("@nh,72,8 0x{:x} ", if protocol == "tcp" { 6 } else { 17 });
    let to = format!("dnat ip to {}:4001", alice_host.ip());
    let redirects = upnp.redirects().unwrap();
    assert!(
        redirects.iter().any(|r| r.contains(&ip_protocol) && r.contains("dport 4001") && r.contains(&to)),
        "miniupnpd forwards the port: {redirects:?}"
    );

    // AutoNAT: the servers connect to her (through the mapping), and she
    // asks them to dial the mapped address back; both agree.
    for server in &mut running {
        server.send_line(&format!("dial {external}/p2p/{alice_id}")).unwrap();
    }
    let verdict = event_where(&mut alice, "reachability", |e| e["addr"] == external.as_str());
    assert_eq!(verdict["reachable"].as_bool(), Some(true), "{verdict}; miniupnpd's log: {}", upnp.log());

    // A public node dials it: a direct connection, no relay.
    let direct = format!("{external}/p2p/{alice_id}");
    let mut public =
        public_host.spawn(peer(&public_host, &["dial", &direct, "--ping", "1", "--timeout", "20"])).unwrap();
    let connected = event_where(&mut public, "connected", |_| true);
    assert_eq!(
        (connected["peer_id"].as_str(), connected["relayed"].as_bool()),
        (Some(alice_id.as_str()), Some(false)),
        "{connected}"
    );
    event_where(&mut public, "ping", |_| true);

    // Alice's shutdown (Ctrl-C) removes the mapping from the gateway.
    let interrupted = std::process::Command::new("kill").args(["-INT", &alice.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let status = alice.wait(Duration::from_secs(15)).unwrap();
    assert!(status.success(), "alice exits cleanly: {status}");
    let redirects = upnp.redirects().unwrap();
    assert!(redirects.is_empty(), "the mapping is removed at shutdown: {redirects:?}");
}
