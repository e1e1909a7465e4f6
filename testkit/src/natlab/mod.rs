//! A NAT lab: an "internet", home routers and the hosts behind them, built
//! from Linux network namespaces, for tests that need real NATs (`AutoNAT`,
//! circuit relay, hole punching). Needs root, `ip` (iproute2) and
//! `iptables`; [`Lab::available`] says why not when they are missing.
//!
//! ```text
//!                      <prefix>inet: the "internet", bridge `inet`
//!        ┌───────────── 198.18.0.0/24, on-link, no filtering ─────────────┐
//!        │                          │                                     │
//!   eth0 .1                    wan .2                                wan .3
//!   <prefix>relay              <prefix>home-a                        <prefix>home-b
//!   (public host)              router: MASQUERADE                    router: MASQUERADE
//!                              (port-restricted)                     --random-fully (symmetric)
//!                              bridge `lan` 192.168.1.1/24           bridge `lan` 192.168.2.1/24
//!                                   │                                     │
//!                              eth0 .2                               eth0 .2
//!                              <prefix>alice                         <prefix>bob
//!                              default via 192.168.1.1               default via 192.168.2.1
//! ```
//!
//! Every node is a namespace named `strata-lab-<pid>-<n>-<name>` (the
//! prefix is unique per lab: the process id and a counter). Veth pairs are
//! created inside the namespaces (`ip -n`), never in the machine's own
//! namespace; no command of the lab touches the machine's interfaces,
//! routes or firewall. Public hosts and routers' WAN legs share one /24
//! on the internet bridge (on-link, no gateway); LAN `n` (the `n`-th
//! router) is `192.168.n.0/24`, the router at `.1`, hosts from `.2`.
//!
//! A router behaves as a home router does:
//!
//! - `POSTROUTING -o wan -j MASQUERADE` ([`NatKind::PortRestricted`]: the
//!   kernel keeps a socket's source port when it is free, so one internal
//!   socket has one external port whatever the destination) or with
//!   `--random-fully` ([`NatKind::Symmetric`]: every new destination gets a
//!   new random port);
//! - from the WAN, `FORWARD` and `INPUT` accept only conntrack's
//!   `ESTABLISHED,RELATED` and DROP the rest silently: never a REJECT, as a
//!   reset to an unsolicited SYN would kill a TCP hole punch. Conntrack
//!   matches the full 5-tuple, so only the exact remote address and port a
//!   host sent to can answer (port-restricted filtering), unless a cone
//!   below lets more in.
//!
//! Two cone kinds add to the port-restricted router (the same MASQUERADE
//! and the same DROP) what `iptables` cannot say, in `nft` (an `ip cone`
//! table of the router's namespace, see `cone.rs`): a dynamic map of the
//! router's mappings, written after MASQUERADE from flows the LAN started
//! (so it holds the external port really chosen), and a DNAT in
//! prerouting of what arrives on a mapping to the host behind it:
//!
//! - [`NatKind::FullCone`] (endpoint-independent filtering): keyed on
//!   protocol and external port, so anyone may send to a mapping;
//! - [`NatKind::AddressRestricted`] (address-dependent filtering): keyed
//!   on protocol, remote address and external port, so any port of an
//!   address the host sent to may.
//!
//! FORWARD accepts what was translated there (`--ctstate DNAT`); nothing
//! else is, so a port nobody sent from stays closed. A mapping lasts 2
//! minutes after its last packet out. These two need `nft` (Debian package
//! `nftables`); [`Lab::nat`] says so when it is missing.
//!
//! No hairpinning (a host cannot reach its own router's public address
//! from the LAN side through the NAT), no UPnP/PCP, IPv4 only.
//!
//! Teardown: dropping the [`Lab`] (also while a test panics) kills every
//! process still running in its namespaces (`ip netns pids`, all of them
//! started by the lab's user) and deletes the namespaces, which removes
//! their links. A [`Process`] is killed when dropped. A lab killed by
//! SIGKILL leaves its namespaces behind: the next [`Lab::new`] removes
//! those of labs whose process is gone (`strata-lab-<pid>-…` where `<pid>`
//! no longer runs), never those of a running process.
//!
//! Tests run code inside a namespace with [`Host::command`] (any program)
//! or [`Host::test_command`] (the test binary itself, running one ignored
//! test, as `interop/tests/mdns.rs` does with `unshare`).

use std::{
    io::{self, BufRead as _, BufReader},
    net::Ipv4Addr,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

mod cone;
mod error;
mod node;
mod process;
mod sys;
mod upnp;

pub use error::{Error, Unavailable};
pub use node::{Host, Router};
pub use process::Process;
pub use sys::namespaces;
use sys::{
    describe, exec, exhausted, ip, is_root, kill_processes_in, next_prefix, plug, run, sweep_dead_labs, wait_bounded,
};
pub use upnp::Upnp;

/// The start of every namespace name a lab creates.
pub const PREFIX: &str = "strata-lab-";

/// How long one `ip`/`iptables` command may take before the lab gives up.
const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// How long a link may take to come up (a veth's carrier comes up a moment
/// after both ends are set up).
const LINK_LIMIT: Duration = Duration::from_secs(5);

/// How often bounded polls look again.
const POLL: Duration = Duration::from_millis(10);

/// The internet's /24 unless [`Lab::with_internet`] says otherwise:
/// RFC 2544's benchmarking range, meant for labs, routed nowhere.
const DEFAULT_INTERNET: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);

/// The kind of NAT a router does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    /// Endpoint-independent mapping (a socket keeps its port when free),
    /// address-and-port-dependent filtering: the common home router, the
    /// one hole punching gets through.
    PortRestricted,
    /// Address-and-port-dependent mapping (`--random-fully`): a new
    /// external port for every destination. Hole punching fails; relays
    /// still work.
    Symmetric,
    /// Endpoint-independent mapping and filtering (RFC 4787; "full cone"):
    /// once a host sent from a port, anyone may send to its mapping. Needs
    /// `nft` (Debian package `nftables`).
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering
    /// ("address-restricted cone"): once a host sent from a port to an
    /// address, any port of that address may send to its mapping. Needs
    /// `nft` (Debian package `nftables`).
    AddressRestricted,
}

impl NatKind {
    /// Every kind, in the order of this enum.
    pub const ALL: [Self; 4] = [Self::PortRestricted, Self::Symmetric, Self::FullCone, Self::AddressRestricted];

    /// Whether the mapping depends only on the internal socket (every
    /// kind but [`NatKind::Symmetric`]): what hole punching needs.
    pub fn is_cone(self) -> bool {
        self != Self::Symmetric
    }

    /// A short name (`port-restricted`, `symmetric`, `full-cone`,
    /// `address-restricted`), for tables and namespace names.
    pub fn name(self) -> &'static str {
        match self {
            Self::PortRestricted => "port-restricted",
            Self::Symmetric => "symmetric",
            Self::FullCone => "full-cone",
            Self::AddressRestricted => "address-restricted",
        }
    }
}

/// The result of this module's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A NAT lab: the internet namespace and everything attached to it. Drop
/// it to tear everything down.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    internet: Ipv4Addr,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Namespaces created, in order (removed in reverse).
    namespaces: Vec<String>,
    /// The last host number used on the internet's /24.
    public_hosts: u8,
    /// The number of routers (LAN `n` is `192.168.n.0/24`).
    routers: u8,
}

impl Lab {
    /// Says whether the lab can run here: root, `ip`, `iptables`, a
    /// namespace with a nat table. It creates and removes one namespace.
    pub fn available() -> Result<(), Unavailable> {
        if !is_root() {
            return Err(Unavailable::NotRoot);
        }
        for (tool, package) in [("ip", "iproute2"), ("iptables", "iptables")] {
            let found = Command::new(tool).arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status();
            if found.is_err() {
                return Err(Unavailable::MissingTool { tool, package });
            }
        }
        let probe = format!("{}probe", next_prefix());
        let _ = run(Command::new("ip").args(["netns", "del", &probe]));
        run(Command::new("ip").args(["netns", "add", &probe]))
            .map_err(|e| Unavailable::NoNamespaces { stderr: e.to_string() })?;
        let nat =
            run(Command::new("ip").args(["netns", "exec", &probe, "iptables", "-w", "5", "-t", "nat", "-L", "-n"]));
        let _ = run(Command::new("ip").args(["netns", "del", &probe]));
        nat.map(drop).map_err(|e| Unavailable::NoNat { stderr: e.to_string() })
    }

    /// Builds the internet (a namespace with a bridge) on `198.18.0.0/24`.
    pub fn new() -> Result<Self> {
        Self::with_internet(DEFAULT_INTERNET)
    }

    /// Builds the internet on the /24 that starts at `base` (its last
    /// octet is ignored): for a test whose code must see addresses of a
    /// particular kind as public.
    pub fn with_internet(base: Ipv4Addr) -> Result<Self> {
        Self::available().map_err(Error::Unavailable)?;
        sweep_dead_labs();
        let [a, b, c, _] = base.octets();
        let lab = Self { prefix: next_prefix(), internet: Ipv4Addr::new(a, b, c, 0), state: Mutex::default() };
        // Our own prefix cannot exist unless a process with our pid died
        // with a lab: remove what it left.
        for namespace in namespaces()?.into_iter().filter(|n| n.starts_with(&lab.prefix)) {
            let _ = run(Command::new("ip").args(["netns", "del", &namespace]));
        }
        let inet = lab.namespace("inet")?;
        ip(&inet, "link add inet type bridge forward_delay 0")?;
        ip(&inet, "link set inet up")?;
        Ok(lab)
    }

    /// The prefix of every namespace of this lab (`strata-lab-<pid>-<n>-`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A host on the internet with a public address of its own.
    pub fn public_host(&self, name: &str) -> Result<Host> {
        let namespace = self.namespace(name)?;
        let address = self.next_public()?;
        self.plug_into_internet(&namespace, "eth0", address)?;
        Ok(Host { namespace, address })
    }

    /// A home router: `wan` on the internet with a public address, bridge
    /// `lan` on a private /24 of its own, NAT and filtering of `kind`.
    pub fn nat(&self, name: &str, kind: NatKind) -> Result<Router<'_>> {
        if matches!(kind, NatKind::FullCone | NatKind::AddressRestricted)
            && Command::new("nft").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err()
        {
            return Err(Error::Unavailable(Unavailable::MissingTool { tool: "nft", package: "nftables" }));
        }
        let namespace = self.namespace(name)?;
        let lan_number = {
            let mut state = self.lock();
            state.routers = state.routers.checked_add(1).ok_or_else(|| exhausted("255 LANs"))?;
            state.routers
        };
        let public = self.next_public()?;
        self.plug_into_internet(&namespace, "wan", public)?;
        let lan = Ipv4Addr::new(192, 168, lan_number, 1);
        ip(&namespace, "link add lan type bridge forward_delay 0")?;
        ip(&namespace, &format!("addr add {lan}/24 dev lan"))?;
        ip(&namespace, "link set lan up")?;
        exec(&namespace, "sysctl -q -w net.ipv4.ip_forward=1")?;
        let masquerade = match kind {
            NatKind::PortRestricted | NatKind::FullCone | NatKind::AddressRestricted => {
                "-t nat -A POSTROUTING -o wan -j MASQUERADE"
            }
            NatKind::Symmetric => "-t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully",
        };
        for rules in [
            masquerade,
            // Anything from the LAN goes out (and LAN to LAN, should the
            // bridge's frames pass through iptables: br_netfilter).
            "-A FORWARD -i lan -j ACCEPT",
            "-A FORWARD -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            // What a cone's map let in (nothing is DNATed otherwise).
            "-A FORWARD -i wan -m conntrack --ctstate DNAT -j ACCEPT",
            "-P FORWARD DROP",
            "-A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            "-A INPUT -i wan -j DROP",
        ] {
            exec(&namespace, &format!("iptables -w 5 {rules}"))?;
        }
        cone::install(&namespace, kind)?;
        Ok(Router { lab: self, namespace, public, lan, kind, hosts: Mutex::new(1) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the lock was held left consistent data (plain
        // counters and a list): go on, so that teardown still runs.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates namespace `<prefix><name>` with loopback up, recorded for
    /// teardown before anything else can fail.
    fn namespace(&self, name: &str) -> Result<String> {
        let namespace = format!("{}{name}", self.prefix);
        if self.lock().namespaces.contains(&namespace) {
            return Err(exhausted(&format!("the name {name:?} is taken")));
        }
        run(Command::new("ip").args(["netns", "add", &namespace]))?;
        self.lock().namespaces.push(namespace.clone());
        ip(&namespace, "link set lo up")?;
        Ok(namespace)
    }

    fn next_public(&self) -> Result<Ipv4Addr> {
        let mut state = self.lock();
        if state.public_hosts >= 253 {
            return Err(exhausted("253 nodes on the internet"));
        }
        state.public_hosts += 1;
        let [a, b, c, _] = self.internet.octets();
        Ok(Ipv4Addr::new(a, b, c, state.public_hosts))
    }

    /// A veth pair from `device` in `namespace` to a port of the internet
    /// bridge, `address/24` on `device`.
    fn plug_into_internet(&self, namespace: &str, device: &str, address: Ipv4Addr) -> Result<()> {
        let inet = format!("{}inet", self.prefix);
        let port = format!("p{}", address.octets()[3]);
        plug(namespace, device, &inet, &port, "inet", address)
    }

    fn teardown(&self) {
        let namespaces = std::mem::take(&mut self.lock().namespaces);
        for namespace in namespaces.iter().rev() {
            kill_processes_in(namespace);
            let _ = run(Command::new("ip").args(["netns", "del", namespace]));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}
