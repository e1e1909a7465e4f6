//! The NAT lab behaves as home routers do: hosts behind a NAT reach the
//! internet from the router's address; nothing from the internet reaches
//! them unless they spoke first, and what is refused is dropped, never
//! answered; a port-restricted NAT keeps a socket's port across
//! destinations, a symmetric one does not; and a lab leaves nothing
//! behind, even when its test panics. Needs root, `ip` and `iptables`
//! (CI runs as root; `.ci/run` installs them).
//!
//! Code runs inside a namespace as this test binary itself, re-executed
//! there on the ignored test `agent` with `STRATA_NATLAB_AGENT` naming
//! what to do (plain std sockets, each agent ends by itself).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    io::{ErrorKind, Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket},
    process::Command,
    time::Duration,
};

use strata_testkit::natlab::{self, Host, Lab, NatKind, Process};

/// What an agent does (`tcp-listen`, `tcp-connect`, `udp-reflect`,
/// `udp-probe`); its argument is in [`ARG`].
const AGENT: &str = "STRATA_NATLAB_AGENT";
const ARG: &str = "STRATA_NATLAB_ARG";
/// Set for the run of `panics_midway`.
const PANIC: &str = "STRATA_NATLAB_PANIC";

/// How long a test waits for an agent's line.
const LINE: Duration = Duration::from_secs(10);
/// How long a connection attempt that should be dropped is given.
const DROPPED: Duration = Duration::from_millis(1500);

fn lab() -> Lab {
    if let Err(reason) = Lab::available() {
        panic!("the NAT lab cannot run here: {reason}");
    }
    Lab::new().expect("the lab builds")
}

fn start(host: &Host, role: &str, arg: &str) -> Process {
    let mut command = host.test_command("agent").unwrap();
    command.env(AGENT, role).env(ARG, arg);
    host.spawn(command).unwrap()
}

/// Starts a TCP listener in `host`; returns it and its port.
fn tcp_listener(host: &Host) -> (Process, u16) {
    let mut listener = start(host, "tcp-listen", "");
    let port = listener.line_starting("LISTEN ", LINE).unwrap().parse().unwrap();
    (listener, port)
}

/// A TCP connection attempt from `host` to `target`: `Ok(local address)`
/// or `Err(the error's kind)`.
fn tcp_connect(host: &Host, target: SocketAddrV4) -> Result<String, String> {
    let mut connect = start(host, "tcp-connect", &target.to_string());
    let result = connect.line_starting("RESULT ", LINE).unwrap();
    match result.strip_prefix("connected ") {
        Some(local) => Ok(local.to_owned()),
        None => Err(result),
    }
}

/// The addresses reflectors saw one UDP socket of `host` come from, one
/// per target, in order.
fn udp_mappings(host: &Host, targets: &[SocketAddrV4]) -> Vec<SocketAddrV4> {
    let list: Vec<String> = targets.iter().map(ToString::to_string).collect();
    let mut probe = start(host, "udp-probe", &list.join(","));
    targets.iter().map(|_| probe.line_starting("MAPPED ", LINE).unwrap().parse().unwrap()).collect()
}

fn udp_reflector(host: &Host) -> (Process, SocketAddrV4) {
    let mut reflector = start(host, "udp-reflect", "");
    let port = reflector.line_starting("LISTEN ", LINE).unwrap().parse().unwrap();
    (reflector, SocketAddrV4::new(host.ip(), port))
}

#[test]
fn a_host_behind_a_nat_reaches_a_public_host_from_the_routers_address() {
    let lab = lab();
    let server = lab.public_host("server").unwrap();
    let home = lab.nat("home", NatKind::PortRestricted).unwrap();
    let alice = home.host("alice").unwrap();
    assert!(alice.ip().is_private() && !server.ip().is_private(), "{} {}", alice.ip(), server.ip());

    let (mut listener, port) = tcp_listener(&server);
    let local = tcp_connect(&alice, SocketAddrV4::new(server.ip(), port)).expect("alice connects out");
    assert!(local.starts_with(&format!("{}:", alice.ip())), "alice's own side is private: {local}");
    let seen: SocketAddrV4 = listener.line_starting("ACCEPT ", LINE).unwrap().parse().unwrap();
    assert_eq!(*seen.ip(), home.public_ip(), "the server sees the router's public address");
}

#[test]
fn unsolicited_traffic_from_the_internet_is_dropped_not_refused() {
    let lab = lab();
    let attacker = lab.public_host("attacker").unwrap();
    let home = lab.nat("home", NatKind::PortRestricted).unwrap();
    let alice = home.host("alice").unwrap();
    let neighbour = home.host("neighbour").unwrap();
    let (_listener, port) = tcp_listener(&alice);
    // The listener answers on the LAN: what follows fails because of the
    // router, not because nobody listens.
    tcp_connect(&neighbour, SocketAddrV4::new(alice.ip(), port)).expect("a LAN neighbour reaches alice");

    // An attacker next to the router on the internet routes the private
    // LAN through it: FORWARD drops the SYN (no reset, no ICMP).
    let route = attacker
        .command("ip")
        .args(["route", "add", &home.lan_prefix(), "via"])
        .arg(home.public_ip().to_string())
        .status();
    assert!(route.unwrap().success(), "a route to the LAN via the router");
    let direct = tcp_connect(&attacker, SocketAddrV4::new(alice.ip(), port));
    assert!(direct.as_ref().is_err_and(|e| e.starts_with("TimedOut")), "dropped, not refused: {direct:?}");
    // The router's own address, on alice's port (nothing listens on the
    // router itself: a reset would say "refused"): INPUT drops it.
    let router = tcp_connect(&attacker, SocketAddrV4::new(home.public_ip(), port));
    assert!(router.as_ref().is_err_and(|e| e.starts_with("TimedOut")), "dropped, not refused: {router:?}");
}

#[test]
fn hosts_behind_two_nats_cannot_reach_each_other_directly() {
    let lab = lab();
    let home_a = lab.nat("home-a", NatKind::PortRestricted).unwrap();
    let home_b = lab.nat("home-b", NatKind::Symmetric).unwrap();
    let alice = home_a.host("alice").unwrap();
    let bob = home_b.host("bob").unwrap();
    let (_listener, port) = tcp_listener(&alice);

    let private = tcp_connect(&bob, SocketAddrV4::new(alice.ip(), port));
    assert!(private.is_err(), "bob cannot reach alice's private address: {private:?}");
    let public = tcp_connect(&bob, SocketAddrV4::new(home_a.public_ip(), port));
    assert!(public.as_ref().is_err_and(|e| e.starts_with("TimedOut")), "router A drops bob's SYN: {public:?}");
}

#[test]
fn a_port_restricted_nat_keeps_a_sockets_port_across_destinations() {
    let lab = lab();
    let (_one, stun_1) = udp_reflector(&lab.public_host("stun-1").unwrap());
    let (_two, stun_2) = udp_reflector(&lab.public_host("stun-2").unwrap());
    let home = lab.nat("home", NatKind::PortRestricted).unwrap();
    let alice = home.host("alice").unwrap();

    let seen = udp_mappings(&alice, &[stun_1, stun_2]);
    assert!(seen.iter().all(|a| *a.ip() == home.public_ip()), "from the router's address: {seen:?}");
    assert_eq!(seen[0].port(), seen[1].port(), "one socket, one external port: {seen:?}");
}

#[test]
fn a_symmetric_nat_maps_each_destination_to_a_new_port() {
    let lab = lab();
    let (_one, stun_1) = udp_reflector(&lab.public_host("stun-1").unwrap());
    let (_two, stun_2) = udp_reflector(&lab.public_host("stun-2").unwrap());
    let home = lab.nat("home", NatKind::Symmetric).unwrap();
    let bob = home.host("bob").unwrap();

    let seen = udp_mappings(&bob, &[stun_1, stun_2]);
    assert!(seen.iter().all(|a| *a.ip() == home.public_ip()), "from the router's address: {seen:?}");
    // `--random-fully` draws each port at random: equal by chance about
    // once in 64 000 runs.
    assert_ne!(seen[0].port(), seen[1].port(), "a new port per destination: {seen:?}");
}

/// Who gets through to a mapping that alice's socket opened towards a
/// reflector on `stun`: (another port of `stun`, another host).
fn who_gets_through(kind: NatKind) -> (bool, bool) {
    let lab = lab();
    let stun = lab.public_host("stun").unwrap();
    let other = lab.public_host("other").unwrap();
    let (_reflector, reflector_addr) = udp_reflector(&stun);
    let home = lab.nat("home", kind).unwrap();
    let alice = home.host("alice").unwrap();
    let mut hold = start(&alice, "udp-hold", &reflector_addr.to_string());
    let mapped: SocketAddrV4 = hold.line_starting("MAPPED ", LINE).unwrap().parse().unwrap();
    // Each sender's datagrams that got through, read until none comes.
    let mut heard_from = |host: &Host| {
        start(host, "udp-send", &mapped.to_string()).line_starting("SENT", LINE).unwrap();
        let mut heard = false;
        loop {
            match hold.line_starting("HEARD ", DROPPED) {
                Ok(from) => heard |= from.parse::<SocketAddrV4>().unwrap().ip() == &host.ip(),
                Err(natlab::Error::Timeout { .. }) => return heard,
                Err(error) => panic!("{error}"),
            }
        }
    };
    (heard_from(&stun), heard_from(&other))
}

#[test]
fn a_port_restricted_nat_lets_in_only_the_exact_address_and_port_a_host_sent_to() {
    assert_eq!(who_gets_through(NatKind::PortRestricted), (false, false));
}

#[test]
fn an_address_restricted_nat_lets_in_any_port_of_an_address_a_host_sent_to() {
    assert_eq!(who_gets_through(NatKind::AddressRestricted), (true, false));
}

#[test]
fn a_full_cone_nat_lets_anyone_in_to_a_mapping() {
    assert_eq!(who_gets_through(NatKind::FullCone), (true, true));
}

#[test]
fn a_cone_nat_keeps_a_sockets_port_across_destinations_and_still_drops_the_unmapped() {
    for kind in [NatKind::FullCone, NatKind::AddressRestricted] {
        let lab = lab();
        let (_one, stun_1) = udp_reflector(&lab.public_host("stun-1").unwrap());
        let (_two, stun_2) = udp_reflector(&lab.public_host("stun-2").unwrap());
        let attacker = lab.public_host("attacker").unwrap();
        let home = lab.nat("home", kind).unwrap();
        let alice = home.host("alice").unwrap();
        let seen = udp_mappings(&alice, &[stun_1, stun_2]);
        assert_eq!(seen[0].port(), seen[1].port(), "{kind:?}: one socket, one external port: {seen:?}");
        // No mapping, no way in: TCP to a port nobody sent from is dropped.
        let (_listener, port) = tcp_listener(&alice);
        let router = tcp_connect(&attacker, SocketAddrV4::new(home.public_ip(), port));
        assert!(router.as_ref().is_err_and(|e| e.starts_with("TimedOut")), "{kind:?}: dropped: {router:?}");
    }
}

#[test]
fn a_dropped_lab_leaves_nothing_behind() {
    let prefix;
    let pid;
    {
        let lab = lab();
        prefix = lab.prefix().to_owned();
        let home = lab.nat("home", NatKind::Symmetric).unwrap();
        let alice = home.host("alice").unwrap();
        lab.public_host("server").unwrap();
        // Spawned without a guard: teardown must still end it.
        let listener = alice.test_command("agent").unwrap().env(AGENT, "tcp-listen").spawn().unwrap();
        pid = listener.id();
        let ours = ours(&prefix);
        assert_eq!(ours.len(), 4, "internet, router, alice and server: {ours:?}");
        std::mem::forget(listener);
    }
    assert_eq!(ours(&prefix), Vec::<String>::new(), "no namespace of the lab is left");
    // The unguarded agent was killed (a zombie until reaped: not running).
    assert!(!process_runs(pid), "the process in the lab was killed");
}

#[test]
fn a_lab_whose_test_panics_leaves_nothing_behind() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "panics_midway", "--ignored", "--nocapture"])
        .env(PANIC, "1")
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "the inner test failed:\n{log}");
    assert!(log.contains("panicking on purpose"), "it panicked where meant to:\n{log}");
    let prefix = log.lines().find_map(|l| l.strip_prefix("PREFIX ")).expect("the inner test printed its prefix");
    let pid: u32 = log.lines().find_map(|l| l.strip_prefix("PID ")).unwrap().parse().unwrap();
    assert_eq!(ours(prefix), Vec::<String>::new(), "no namespace of the lab is left:\n{log}");
    assert!(!process_runs(pid), "the process in the lab was killed");
}

#[test]
#[ignore = "run by a_lab_whose_test_panics_leaves_nothing_behind"]
fn panics_midway() {
    assert_eq!(std::env::var(PANIC).as_deref(), Ok("1"), "only when asked");
    let lab = lab();
    let home = lab.nat("home", NatKind::PortRestricted).unwrap();
    let alice = home.host("alice").unwrap();
    let (listener, _port) = tcp_listener(&alice);
    println!("PREFIX {}", lab.prefix());
    println!("PID {}", listener.id());
    panic!("panicking on purpose, with a lab of {} namespaces", ours(lab.prefix()).len());
}

/// The namespaces whose names start with `prefix`.
fn ours(prefix: &str) -> Vec<String> {
    natlab::namespaces().unwrap().into_iter().filter(|n| n.starts_with(prefix)).collect()
}

/// Whether `pid` runs (a zombie, ended but not reaped, does not).
fn process_runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

/// Runs inside a namespace, started by [`start`]; never on its own.
#[test]
#[ignore = "run inside a lab namespace by the other tests"]
fn agent() {
    let role = std::env::var(AGENT).expect("started by a test, with a role");
    let arg = std::env::var(ARG).unwrap_or_default();
    // An agent ends by itself even if its test forgets it.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(30));
        std::process::exit(3);
    });
    match role.as_str() {
        "tcp-listen" => {
            let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            println!("LISTEN {}", listener.local_addr().unwrap().port());
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                println!("ACCEPT {}", stream.peer_addr().unwrap());
                let _ = stream.write_all(b"hi");
            }
        }
        "tcp-connect" => {
            let target: SocketAddr = arg.parse().unwrap();
            match TcpStream::connect_timeout(&target, DROPPED) {
                Ok(mut stream) => {
                    // The listener's greeting came back through the NAT.
                    let mut greeting = [0; 2];
                    stream.set_read_timeout(Some(DROPPED)).unwrap();
                    stream.read_exact(&mut greeting).unwrap();
                    assert_eq!(&greeting, b"hi");
                    println!("RESULT connected {}", stream.local_addr().unwrap());
                }
                Err(e) => println!("RESULT {:?} {e}", e.kind()),
            }
        }
        "udp-reflect" => {
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            println!("LISTEN {}", socket.local_addr().unwrap().port());
            let mut buffer = [0; 64];
            loop {
                let (_, from) = socket.recv_from(&mut buffer).unwrap();
                socket.send_to(from.to_string().as_bytes(), from).unwrap();
            }
        }
        "udp-probe" => {
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            for target in arg.split(',') {
                let target: SocketAddr = target.parse().unwrap();
                // UDP may lose the first datagram (ARP): ask a few times.
                let seen = (0..10).find_map(|_| {
                    socket.send_to(b"who am I", target).unwrap();
                    let mut buffer = [0; 64];
                    match socket.recv_from(&mut buffer) {
                        Ok((n, from)) if from == target => Some(String::from_utf8_lossy(&buffer[..n]).into_owned()),
                        Ok(_) => None,
                        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
                        Err(e) => panic!("udp probe: {e}"),
                    }
                });
                println!("MAPPED {}", seen.expect("a reflector answers"));
            }
        }
        "udp-hold" => {
            // Opens a mapping towards the reflector at `arg`, then prints
            // whoever else gets through to it.
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            let target: SocketAddr = arg.parse().unwrap();
            socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            let mut buffer = [0; 64];
            let mapped = (0..10).find_map(|_| {
                socket.send_to(b"who am I", target).unwrap();
                match socket.recv_from(&mut buffer) {
                    Ok((n, from)) if from == target => Some(String::from_utf8_lossy(&buffer[..n]).into_owned()),
                    _ => None,
                }
            });
            println!("MAPPED {}", mapped.expect("a reflector answers"));
            socket.set_read_timeout(None).unwrap();
            loop {
                let (_, from) = socket.recv_from(&mut buffer).unwrap();
                if from != target {
                    println!("HEARD {from}");
                }
            }
        }
        "udp-send" => {
            // A few datagrams to `arg` from a fresh port, then done.
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            for _ in 0..5 {
                socket.send_to(b"unsolicited", arg.parse::<SocketAddr>().unwrap()).unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
            println!("SENT");
        }
        other => panic!("unknown agent role {other}"),
    }
}
