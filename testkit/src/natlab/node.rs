//! The lab's nodes: a [`Router`] (a NAT between the internet and its
//! LAN) and a [`Host`] (a namespace with one address).

use super::*;

/// A router of a [`Lab`]: hosts behind it reach the internet through its
/// NAT.
#[derive(Debug)]
pub struct Router<'lab> {
    pub(super) lab: &'lab Lab,
    pub(super) namespace: String,
    pub(super) public: Ipv4Addr,
    pub(super) lan: Ipv4Addr,
    pub(super) kind: NatKind,
    /// The last host number used on the LAN (the router is `.1`).
    pub(super) hosts: Mutex<u8>,
}

impl Router<'_> {
    /// A host on this router's LAN, its default route via the router.
    pub fn host(&self, name: &str) -> Result<Host> {
        let number = {
            let mut hosts = self.hosts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *hosts >= 254 {
                return Err(exhausted("253 hosts on a LAN"));
            }
            *hosts += 1;
            *hosts
        };
        let namespace = self.lab.namespace(name)?;
        let [a, b, c, _] = self.lan.octets();
        let address = Ipv4Addr::new(a, b, c, number);
        plug(&namespace, "eth0", &self.namespace, &format!("h{number}"), "lan", address)?;
        ip(&namespace, &format!("route add default via {}", self.lan))?;
        Ok(Host { namespace, address })
    }

    /// The router's address on the internet: what the public sees as the
    /// source of its hosts' traffic.
    pub fn public_ip(&self) -> Ipv4Addr {
        self.public
    }

    /// The router's address on its LAN (its hosts' gateway).
    pub fn lan_ip(&self) -> Ipv4Addr {
        self.lan
    }

    /// The LAN's prefix, `192.168.n.0/24`.
    pub fn lan_prefix(&self) -> String {
        let [a, b, c, _] = self.lan.octets();
        format!("{a}.{b}.{c}.0/24")
    }

    /// The kind of NAT it does.
    pub fn kind(&self) -> NatKind {
        self.kind
    }

    /// The router's namespace as a host (to run `iptables -L` or
    /// `conntrack` in it).
    pub fn as_host(&self) -> Host {
        Host { namespace: self.namespace.clone(), address: self.public }
    }
}

/// A namespace of a [`Lab`] with one address: a public host, or a host
/// behind a [`Router`]. Valid while its lab lives.
#[derive(Debug, Clone)]
pub struct Host {
    pub(super) namespace: String,
    pub(super) address: Ipv4Addr,
}

impl Host {
    /// Its address (public, or private behind a router).
    pub fn ip(&self) -> Ipv4Addr {
        self.address
    }

    /// Its namespace's name (for `ip netns exec`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `program` run inside the namespace (`ip netns exec <ns> program`):
    /// add arguments, then [`Host::spawn`] it (or run it to its end).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace]).arg(program);
        command
    }

    /// The running test binary inside the namespace, running only the
    /// ignored test `test` (exact name, output not captured, quiet): the
    /// way to run Rust code in a namespace. Set an environment variable to
    /// tell that test what to do.
    pub fn test_command(&self, test: &str) -> Result<Command> {
        let exe = std::env::current_exe().map_err(|source| Error::Spawn { command: "current_exe".into(), source })?;
        let mut command = self.command(exe);
        command.args(["--exact", test, "--ignored", "--nocapture", "--quiet", "--test-threads", "1"]);
        Ok(command)
    }

    /// Starts `command` (from [`Host::command`] or [`Host::test_command`])
    /// with stdout piped into [`Process::line`] and stdin closed; stderr
    /// is inherited, so a test shows it. The process is killed when the
    /// [`Process`] is dropped.
    pub fn spawn(&self, command: Command) -> Result<Process> {
        Self::spawn_with(command, Stdio::null())
    }

    /// [`Host::spawn`] with stdin piped: write lines to it with
    /// [`Process::send_line`] (programs driven by commands, like the
    /// `peer` example).
    pub fn spawn_interactive(&self, command: Command) -> Result<Process> {
        Self::spawn_with(command, Stdio::piped())
    }

    fn spawn_with(mut command: Command, stdin: Stdio) -> Result<Process> {
        let line = describe(&command);
        let mut child = command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn { command: line.clone(), source })?;
        let (sender, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Process { child, lines, command: line })
    }
}
