//! The mapper's state, sans-IO: which listen addresses want a mapping,
//! which have one, and when each is due (first try, renewal at half the
//! lease, retry after a failure). The driver feeds it listen addresses,
//! results and the time, and does what [`Table::due`] says.
//!
//! ```text
//! listen addr (private IPv4 of the LAN that routes to the gateway, tcp/udp)
//!   └─ Wanted { at } ──map ok──▶ Mapped { external_port, renew_at = now + lease/2 }
//!         ▲    └──map failed──▶ Wanted { at = now + retry }
//!         └──────renew failed──────┘ (the external address is gone)
//! listen addr gone, or shutdown: Mapped ─▶ remove on the gateway
//! ```

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddrV4},
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, multiaddr::Component};

/// The transport protocol of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP (`/tcp/…` listen addresses, WebSocket included).
    Tcp,
    /// UDP (`/udp/…/quic-v1` listen addresses).
    Udp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

impl From<Protocol> for igd_next::PortMappingProtocol {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Tcp => Self::TCP,
            Protocol::Udp => Self::UDP,
        }
    }
}

/// One listen address to map: its socket and the address itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) protocol: Protocol,
    pub(crate) internal: SocketAddrV4,
    pub(crate) addr: Multiaddr,
}

/// The key of a mapping: one per protocol and internal socket.
pub(crate) type Key = (Protocol, SocketAddrV4);

/// Which of `addrs` to map: `/ip4/<local>/tcp/<port>/…` and
/// `/ip4/<local>/udp/<port>/…` where `<local>` is the address this host
/// has on the gateway's LAN (a mapping names it as the internal client)
/// and is private; never a relayed (`/p2p-circuit`) address.
pub(crate) fn targets(addrs: &[Multiaddr], local: Ipv4Addr) -> Vec<Target> {
    addrs.iter().filter_map(|addr| target(addr, local)).collect()
}

fn target(addr: &Multiaddr, local: Ipv4Addr) -> Option<Target> {
    let mut components = addr.iter();
    let Some(Component::Ip4(ip)) = components.next() else { return None };
    let (protocol, port) = match components.next()? {
        Component::Tcp(port) => (Protocol::Tcp, port),
        Component::Udp(port) => (Protocol::Udp, port),
        _ => return None,
    };
    if ip != local || !ip.is_private() || port == 0 || addr.iter().any(|c| matches!(c, Component::P2pCircuit)) {
        return None;
    }
    Some(Target { protocol, internal: SocketAddrV4::new(ip, port), addr: addr.clone() })
}

/// `addr` with its IP and port replaced by the external ones (the rest,
/// `/quic-v1`, `/ws`, `/p2p/…`, kept).
pub(crate) fn external_addr(addr: &Multiaddr, external: SocketAddrV4) -> Multiaddr {
    let mut out = Multiaddr::empty();
    for (i, component) in addr.iter().enumerate() {
        match (i, component) {
            (0, _) => out.push(Component::Ip4(*external.ip())),
            (1, Component::Tcp(_)) => out.push(Component::Tcp(external.port())),
            (1, Component::Udp(_)) => out.push(Component::Udp(external.port())),
            (_, other) => out.push(other),
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// To map (again) at `at`.
    Wanted { at: Instant },
    /// Mapped on `external_port`, to renew at `renew_at`.
    Mapped { external_port: u16, renew_at: Instant },
}

#[derive(Clone, Debug)]
struct Entry {
    addr: Multiaddr,
    state: State,
}

/// What is due now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Map this socket (same port first, then any).
    Map(Key),
    /// Renew the mapping on its external port.
    Renew(Key, u16),
}

/// A mapping that went away: the driver removes it on the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Gone {
    pub(crate) key: Key,
    pub(crate) addr: Multiaddr,
    pub(crate) external_port: u16,
}

/// Every mapping, wanted or held.
#[derive(Debug)]
pub(crate) struct Table {
    entries: BTreeMap<Key, Entry>,
    lease: Duration,
    retry: Duration,
    max: usize,
}

impl Table {
    pub(crate) fn new(lease: Duration, retry: Duration, max: usize) -> Self {
        Self { entries: BTreeMap::new(), lease, retry, max }
    }

    /// The listen addresses now: new targets are wanted at once (up to
    /// the cap; those past it are returned as refused), mappings whose
    /// address went are returned to be removed.
    pub(crate) fn set_targets(&mut self, targets: Vec<Target>, now: Instant) -> (Vec<Gone>, Vec<Target>) {
        let keys: Vec<Key> = targets.iter().map(|t| (t.protocol, t.internal)).collect();
        let mut gone = Vec::new();
        self.entries.retain(|key, entry| {
            let keep = keys.contains(key);
            if let (false, State::Mapped { external_port, .. }) = (keep, &entry.state) {
                gone.push(Gone { key: *key, addr: entry.addr.clone(), external_port: *external_port });
            }
            keep
        });
        let mut refused = Vec::new();
        for target in targets {
            let key = (target.protocol, target.internal);
            if self.entries.contains_key(&key) {
                continue;
            }
            if self.entries.len() >= self.max {
                refused.push(target);
                continue;
            }
            self.entries.insert(key, Entry { addr: target.addr, state: State::Wanted { at: now } });
        }
        (gone, refused)
    }

    /// What is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> Vec<Due> {
        let due = |entry: &Entry| match entry.state {
            State::Wanted { at } => at <= now,
            State::Mapped { renew_at, .. } => renew_at <= now,
        };
        self.entries
            .iter()
            .filter(|(_, entry)| due(entry))
            .map(|(key, entry)| match entry.state {
                State::Wanted { .. } => Due::Map(*key),
                State::Mapped { external_port, .. } => Due::Renew(*key, external_port),
            })
            .collect()
    }

    /// When something is next due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries
            .values()
            .map(|entry| match entry.state {
                State::Wanted { at } => at,
                State::Mapped { renew_at, .. } => renew_at,
            })
            .min()
    }

    /// The gateway mapped (or renewed) `key` on `external_port`: renew at
    /// half the lease. Returns the listen address when this is a new
    /// mapping (not a renewal), `None` when `key` is no longer wanted.
    pub(crate) fn mapped(&mut self, key: Key, external_port: u16, now: Instant) -> Option<(Multiaddr, bool)> {
        let entry = self.entries.get_mut(&key)?;
        let new = !matches!(entry.state, State::Mapped { external_port: old, .. } if old == external_port);
        entry.state = State::Mapped { external_port, renew_at: now + self.lease / 2 };
        Some((entry.addr.clone(), new))
    }

    /// Mapping (or renewing) `key` failed: try again after the retry
    /// delay. Returns the mapping lost, if it had one.
    pub(crate) fn failed(&mut self, key: Key, now: Instant) -> Option<Gone> {
        let entry = self.entries.get_mut(&key)?;
        let lost = match entry.state {
            State::Mapped { external_port, .. } => Some(Gone { key, addr: entry.addr.clone(), external_port }),
            State::Wanted { .. } => None,
        };
        entry.state = State::Wanted { at: now + self.retry };
        lost
    }

    /// Every mapping held, leaving none (for shutdown).
    pub(crate) fn take_mapped(&mut self) -> Vec<Gone> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .filter_map(|(key, entry)| match entry.state {
                State::Mapped { external_port, .. } => Some(Gone { key, addr: entry.addr, external_port }),
                State::Wanted { .. } => None,
            })
            .collect()
    }

    /// The listen address of `key` (when still wanted).
    pub(crate) fn addr(&self, key: Key) -> Option<&Multiaddr> {
        self.entries.get(&key).map(|entry| &entry.addr)
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
