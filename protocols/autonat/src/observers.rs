//! Who observes us from where: the IP group of each peer's direct
//! connection, so that an observation counts once per group
//! (`libp2p-autonat-v2.md`, "Implementation Suggestions": candidates
//! seen by several peers), the observations that came before their
//! observer's connection was known, and what an observed address stands
//! for ([`translate`]: the observed IP with our listen ports).
//!
//! ```text
//! lifecycle Established (direct) ─▶ groups[peer] = IpGroup(remote IP) ─▶ early observations of peer: released
//! host Event::AddrObserved ─▶ groups[peer]? ─▶ counted now
//!                                  └ unknown ─▶ kept aside (bounded, for EARLY_TTL)
//! lifecycle Closed (last) ─▶ groups[peer] removed
//! ```
//!
//! The lifecycle and the host's events are two channels with no order
//! between them: identify's answer can be reported before the lifecycle
//! has told of the connection it came over. Dropping it then lost the
//! only observation a node behind a NAT gets from its relay, and its hole
//! punches found no address to offer.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    time::{Duration, Instant},
};

use strata_core::{
    Multiaddr, PeerId,
    multiaddr::{Component, Scope},
};
use strata_host::{ConnectionEvent, is_relayed};

/// How long an observation waits for its observer's connection.
const EARLY_TTL: Duration = Duration::from_secs(10);

/// How many observations wait at most (the oldest go first).
const MAX_EARLY: usize = 32;

/// The groups of connected observers, and the observations waiting for
/// theirs.
#[derive(Default)]
pub(crate) struct Observers {
    groups: HashMap<PeerId, IpGroup>,
    early: VecDeque<(PeerId, Multiaddr, Instant)>,
}

impl Observers {
    /// Follows the lifecycle; returns the observations of `event`'s peer
    /// that waited for its connection, to count now.
    pub(crate) fn update(&mut self, event: &ConnectionEvent) -> Vec<(PeerId, Multiaddr, IpGroup)> {
        match event {
            ConnectionEvent::Established { peer, remote_addr, .. } => self.connected(*peer, remote_addr),
            ConnectionEvent::Closed { peer, last: true, .. } => {
                self.groups.remove(peer);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// `peer` has a new connection from `remote_addr`: a direct one sets
    /// its group and releases its waiting observations.
    fn connected(&mut self, peer: PeerId, remote_addr: &Multiaddr) -> Vec<(PeerId, Multiaddr, IpGroup)> {
        let Some(ip) = remote_addr.ip().filter(|_| !is_relayed(remote_addr)) else { return Vec::new() };
        let group = IpGroup::of(ip);
        self.groups.insert(peer, group);
        let (released, waiting) = self.early.drain(..).partition(|(from, _, _)| *from == peer);
        self.early = waiting;
        released.into_iter().map(|(from, addr, _)| (from, addr, group)).collect::<Vec<_>>()
    }

    /// The group `peer` observes us from; `None` (and the observation kept
    /// aside until its connection is known) if not known yet.
    pub(crate) fn observed(&mut self, peer: PeerId, addr: &Multiaddr, now: Instant) -> Option<IpGroup> {
        if let Some(group) = self.groups.get(&peer) {
            return Some(*group);
        }
        // Over a relayed connection a peer observes a circuit address: never
        // a candidate, and its connection never becomes a group.
        if !is_relayed(addr) {
            self.early.retain(|(_, _, at)| now.saturating_duration_since(*at) < EARLY_TTL);
            if self.early.len() >= MAX_EARLY {
                self.early.pop_front();
            }
            self.early.push_back((peer, addr.clone(), now));
        }
        None
    }
}

/// Which observers count as one: an IPv4 address, or an IPv6 /56
/// (go-libp2p's observer groups; a host gets a /56 or a /64, so a /56 is
/// one site). IPv4-mapped IPv6 addresses count as IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum IpGroup {
    /// One IPv4 address.
    V4([u8; 4]),
    /// The first 56 bits of an IPv6 address.
    V6([u8; 7]),
}

impl IpGroup {
    /// The group of `ip`.
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut prefix = [0; 7];
                prefix.copy_from_slice(&v6.octets()[..7]);
                Self::V6(prefix)
            }
        }
    }
}

/// The addresses an observed address stands for: for each listen address
/// of the same shape (`/ip4|ip6/…/tcp/…`, `/ip4|ip6/…/udp/…/quic-v1`, the
/// same IP family), the observed IP with the listen address's port and
/// the rest. A NAT shows our outbound connections' ephemeral port; what
/// peers could dial is the port we listen on. A loopback listener stands
/// for no address seen from elsewhere.
pub(crate) fn translate(observed: &Multiaddr, listen_addrs: &[Multiaddr]) -> Vec<Multiaddr> {
    let observed = observed.without_peer_id();
    let Some(ip) = observed.iter().next() else { return Vec::new() };
    let family = |c: &Component<'_>| match c {
        Component::Ip4(_) => Some(4),
        Component::Ip6(_) => Some(6),
        _ => None,
    };
    let Some(observed_family) = family(&ip) else { return Vec::new() };
    let shape = |addr: &Multiaddr| addr.iter().skip(1).map(|c| c.code()).collect::<Vec<_>>();
    let observed_shape = shape(&observed);
    if !matches!(observed.iter().nth(1), Some(Component::Tcp(_) | Component::Udp(_))) {
        return Vec::new();
    }
    let mut out: Vec<Multiaddr> = Vec::new();
    for listen in listen_addrs {
        let listen = listen.without_peer_id();
        let Some(listen_ip) = listen.iter().next() else { continue };
        let same_family = family(&listen_ip) == Some(observed_family);
        if !same_family || shape(&listen) != observed_shape {
            continue;
        }
        if listen.scope() == Scope::Loopback && observed.scope() != Scope::Loopback {
            continue;
        }
        let mut translated = Multiaddr::from(ip.clone());
        for component in listen.iter().skip(1) {
            translated.push(component);
        }
        if !out.contains(&translated) {
            out.push(translated);
        }
    }
    out
}

/// The most observers remembered per address seen by too few yet.
pub(crate) const MAX_OBSERVERS: usize = 8;

/// An address observed by too few peers to be a candidate yet.
#[derive(Debug)]
pub(crate) struct Sighting {
    pub(crate) addr: Multiaddr,
    /// One entry per peer, with the group it observed from.
    pub(crate) observers: Vec<(PeerId, IpGroup)>,
    pub(crate) last_seen: Instant,
}

impl Sighting {
    /// How many distinct IP groups observed it.
    pub(crate) fn groups(&self) -> usize {
        let mut groups: Vec<IpGroup> = self.observers.iter().map(|(_, group)| *group).collect();
        groups.sort_unstable();
        groups.dedup();
        groups.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use strata_core::Keypair;

    use super::*;

    fn peer() -> PeerId {
        Keypair::generate_ed25519().public().to_peer_id()
    }

    fn connected(observers: &mut Observers, peer: PeerId, remote_addr: &str) -> Vec<(PeerId, Multiaddr, IpGroup)> {
        observers.connected(peer, &remote_addr.parse().unwrap())
    }

    #[test]
    fn an_observation_before_its_connection_is_counted_when_the_connection_is_known() {
        let (mut observers, relay, other) = (Observers::default(), peer(), peer());
        let observed: Multiaddr = "/ip4/198.18.0.2/tcp/4001".parse().unwrap();
        let now = Instant::now();
        assert_eq!(observers.observed(relay, &observed, now), None);
        assert!(connected(&mut observers, other, "/ip4/198.18.0.9/tcp/1").is_empty());
        let released = connected(&mut observers, relay, "/ip4/198.18.0.1/tcp/4001");
        let group = IpGroup::of(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(released, [(relay, observed.clone(), group)]);
        // Released once; from now on counted at once.
        assert!(connected(&mut observers, relay, "/ip4/198.18.0.1/tcp/4001").is_empty());
        assert_eq!(observers.observed(relay, &observed, now), Some(group));
    }

    #[test]
    fn early_observations_are_bounded_in_number_and_time_and_circuits_are_never_kept() {
        let mut observers = Observers::default();
        let observed: Multiaddr = "/ip4/198.18.0.2/tcp/4001".parse().unwrap();
        let start = Instant::now();
        let peers: Vec<PeerId> = (0..MAX_EARLY + 5).map(|_| peer()).collect();
        for peer in &peers {
            observers.observed(*peer, &observed, start);
        }
        assert_eq!(observers.early.len(), MAX_EARLY);
        // The oldest went first.
        assert!(connected(&mut observers, peers[0], "/ip4/198.18.0.1/tcp/1").is_empty());
        // Stale ones go when the next one comes.
        observers.observed(peer(), &observed, start + EARLY_TTL);
        assert_eq!(observers.early.len(), 1);
        let circuit: Multiaddr = "/ip4/198.18.0.1/tcp/4001/p2p-circuit".parse().unwrap();
        observers.observed(peer(), &circuit, start + EARLY_TTL);
        assert_eq!(observers.early.len(), 1);
    }
}
