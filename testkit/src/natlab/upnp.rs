//! A `UPnP` IGD on a router: Debian's `miniupnpd` (nftables build) run in
//! the router's namespace, so that hosts on its LAN can map ports.
//!
//! ```text
//! host on the LAN ── SSDP M-SEARCH (239.255.255.250:1900 on `lan`) ─▶ miniupnpd (listening_ip=lan)
//!                 ── SOAP AddPortMapping over HTTP ─────────────────▶   └─ nft: table inet miniupnpd
//!                                                                          prerouting_miniupnpd: DNAT wan:port → host
//! internet ── wan:port ─▶ DNAT (nat prerouting) ─▶ FORWARD: `--ctstate DNAT` accepted before the DROP ─▶ host
//! ```
//!
//! miniupnpd 2.3.1 (Debian 12) is built for nftables: it adds its rules to
//! chains it is told of and does not create them. [`Router::start_upnp`]
//! creates them (table `inet miniupnpd`: a filter chain on the forward
//! hook, policy accept, and nat chains on prerouting and postrouting),
//! and lets DNAT-ed connections through the router's iptables `FORWARD`
//! (whose policy is DROP). Secure mode: a host may map only to itself;
//! only ports 1024–65535 of the LAN may be mapped.
//!
//! miniupnpd refuses to forward when the WAN address is private or
//! reserved, and `198.18.0.0/15` (the lab's default internet) is
//! reserved: build the lab with [`Lab::with_internet`] on another /24
//! (`198.20.0.0`, say: the namespaces route nowhere, so no real host is
//! reached). [`Router::start_upnp`] fails with miniupnpd's own words then.

use std::path::PathBuf;

use super::*;

/// How long miniupnpd may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A miniupnpd running on a [`Router`]: stopped (and its files removed)
/// when dropped; the lab's teardown would kill it too.
#[derive(Debug)]
pub struct Upnp {
    process: Process,
    namespace: String,
    dir: PathBuf,
    lan: Ipv4Addr,
}

impl Router<'_> {
    /// Starts miniupnpd on this router (needs the Debian package
    /// `miniupnpd` and `nft`): its LAN side answers SSDP and IGD requests,
    /// its WAN side forwards what hosts mapped. Waits until it listens.
    pub fn start_upnp(&self) -> Result<Upnp> {
        for (tool, package) in [("miniupnpd", "miniupnpd"), ("nft", "nftables")] {
            let found = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
            if found.is_err() {
                return Err(Error::Unavailable(Unavailable::MissingTool { tool, package }));
            }
        }
        let dir = std::env::temp_dir().join(format!("{}-upnp", self.namespace));
        let io = |source| Error::Spawn { command: format!("writing miniupnpd's files in {}", dir.display()), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let (chains, config) = (dir.join("chains.nft"), dir.join("miniupnpd.conf"));
        std::fs::write(&chains, CHAINS).map_err(io)?;
        std::fs::write(&config, self.upnp_config()).map_err(io)?;
        run(Command::new("ip").args(["netns", "exec", &self.namespace, "nft", "-f"]).arg(&chains))?;
        // What miniupnpd DNATs is new to conntrack: let it through the
        // router's FORWARD before its DROP (nothing else is DNATed).
        exec(&self.namespace, "iptables -w 5 -I FORWARD 1 -i wan -m conntrack --ctstate DNAT -j ACCEPT")?;
        let log = std::fs::File::create(dir.join("miniupnpd.log")).map_err(io)?;
        let mut command = self.as_host().command("miniupnpd");
        command.arg("-d").arg("-f").arg(&config).arg("-P").arg(dir.join("miniupnpd.pid")).stderr(log);
        let process = self.as_host().spawn(command)?;
        let upnp = Upnp { process, namespace: self.namespace.clone(), dir, lan: self.lan };
        upnp.wait_listening()?;
        Ok(upnp)
    }

    fn upnp_config(&self) -> String {
        let prefix = self.lan_prefix();
        // A fixed UUID per LAN: miniupnpd wants one, any will do.
        let uuid = format!("3b2f6c8a-1d4e-4f5a-9b6c-7d8e9f0a1b{:02x}", self.lan.octets()[2]);
        format!(
            "ext_ifname=wan\nlistening_ip=lan\nport=0\nenable_upnp=yes\nenable_natpmp=yes\nsecure_mode=yes\n\
             system_uptime=no\nnotify_interval=60\nclean_ruleset_interval=600\nuuid={uuid}\n\
             upnp_table_name=miniupnpd\nupnp_nat_table_name=miniupnpd\nupnp_forward_chain=miniupnpd\n\
             upnp_nat_chain=prerouting_miniupnpd\nupnp_nat_postrouting_chain=postrouting_miniupnpd\n\
             allow 1024-65535 {prefix} 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n"
        )
    }
}

/// The chains miniupnpd 2.3.1 (nftables) adds its rules to.
const CHAINS: &str = "table inet miniupnpd {
	chain forward {
		type filter hook forward priority 0; policy accept;
		jump miniupnpd
	}
	chain miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
";

impl Upnp {
    /// The gateway's SSDP address (`<router's LAN IP>:1900`), for clients
    /// told where the gateway is instead of searching by multicast.
    pub fn ssdp_addr(&self) -> std::net::SocketAddr {
        (self.lan, 1900).into()
    }

    /// What miniupnpd wrote so far (its log, `-d`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("miniupnpd.log")).unwrap_or_default()
    }

    /// The port forwards in place now: the DNAT rules of the nat chain,
    /// one a line (`nft list chain`), e.g. `iif "wan" tcp dport 4001 dnat
    /// ip to 192.168.1.2:4001`.
    pub fn redirects(&self) -> Result<Vec<String>> {
        let out = exec(&self.namespace, "nft list chain inet miniupnpd prerouting_miniupnpd")?;
        Ok(out.lines().map(str::trim).filter(|l| l.contains("dnat")).map(str::to_owned).collect())
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.process.id()
    }

    fn wait_listening(&self) -> Result<()> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let log = self.log();
            if log.contains("Port forwarding is impossible") || log.contains("EXITING") {
                return Err(Error::Spawn { command: "miniupnpd".into(), source: io::Error::other(log) });
            }
            if log.contains("HTTP listening on port") {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("miniupnpd to listen; its log: {log}"),
                    limit: START_LIMIT,
                });
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Upnp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
