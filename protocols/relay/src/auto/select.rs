//! The auto-relay's decisions, sans-IO: which relays are candidates, which
//! one to reserve on next, when a failing one may be tried again, and
//! which reservations to let go.
//!
//! Facts go in (a candidate learned, a peer connected or gone, a
//! reservation granted, failed or lost, the reachability verdict, `now`);
//! [`Selector::poll`] gives the actions that follow ([`Action::Reserve`] on
//! a relay, [`Action::Release`] of one) and [`Selector::next_deadline`]
//! when to poll again (a backoff ending). The driver (`auto.rs`) performs
//! the actions on the host and reports their outcomes back.
//!
//! Invariants, kept here and unit-tested below:
//!
//! - at most `wanted` reservations, granted or under way, each on a
//!   distinct relay;
//! - while the node is private, a free slot is filled at once by the best
//!   eligible candidate: not reserved on, not backing off, and (unless
//!   private relays are allowed) with a public address — public before
//!   unknown scope, connected before not, older before newer;
//! - a relay that failed, refused or dropped us waits `backoff` before it
//!   is tried again;
//! - at most `max_candidates` candidates; one more evicts the oldest that
//!   holds no reservation.

use std::{collections::HashMap, time::Instant};

use strata_core::{Multiaddr, PeerId, multiaddr::Scope};

use super::{AutoRelayConfig, Reachability};

/// What the driver should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Reserve on this relay (dial it first if needed).
    Reserve(PeerId),
    /// Give up the reservation on this relay (stop its listener, which
    /// listens on these addresses).
    Release(PeerId, Vec<Multiaddr>),
}

/// The best reach a candidate's addresses promise, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    /// Only loopback, private or unroutable addresses: useless to peers
    /// elsewhere.
    Local,
    /// No address known, or none with an IP (a DNS name, memory): maybe.
    Unknown,
    /// A public address.
    Public,
}

fn reach_of<'a>(addrs: impl IntoIterator<Item = &'a Multiaddr>) -> Reach {
    let mut best = None;
    for addr in addrs {
        let reach = match addr.scope() {
            Scope::Public => Reach::Public,
            Scope::Loopback | Scope::Private | Scope::Unroutable => Reach::Local,
            Scope::Unknown => Reach::Unknown,
        };
        best = best.max(Some(reach));
    }
    best.unwrap_or(Reach::Unknown)
}

#[derive(Debug)]
struct Candidate {
    reach: Reach,
    connected: bool,
    /// When it was learned (a counter): older candidates come first.
    order: u64,
    /// Not to be tried before then.
    backoff_until: Option<Instant>,
}

#[derive(Debug)]
enum Slot {
    /// A reservation is under way.
    Pending,
    /// Granted: its listener listens on these addresses.
    Active(Vec<Multiaddr>),
}

/// The auto-relay's bookkeeping.
#[derive(Debug)]
pub(crate) struct Selector {
    config: AutoRelayConfig,
    reachability: Reachability,
    candidates: HashMap<PeerId, Candidate>,
    slots: HashMap<PeerId, Slot>,
    next_order: u64,
}

impl Selector {
    pub(crate) fn new(config: AutoRelayConfig) -> Self {
        Self {
            config,
            reachability: Reachability::Unknown,
            candidates: HashMap::new(),
            slots: HashMap::new(),
            next_order: 0,
        }
    }

    /// The latest verdict on our reachability.
    pub(crate) fn set_reachability(&mut self, reachability: Reachability) {
        self.reachability = reachability;
    }

    /// Turns auto-relay on or off (off lets every reservation go).
    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.config.enabled = enabled;
    }

    /// How many reservations to hold: `Some(n)` keeps exactly `n`, `None`
    /// keeps those there are and makes none.
    fn target(&self) -> Option<usize> {
        if !self.config.enabled {
            return Some(0);
        }
        if self.config.always {
            return Some(self.config.wanted);
        }
        match self.reachability {
            Reachability::Private => Some(self.config.wanted),
            Reachability::Public => Some(0),
            Reachability::Unknown => None,
        }
    }

    /// `peer` serves the hop protocol, or may (found on the DHT): a
    /// candidate, reachable at `addrs`. Learning it again refreshes its
    /// addresses and connectedness.
    pub(crate) fn add_candidate(&mut self, peer: PeerId, addrs: &[Multiaddr], connected: bool) {
        let reach = reach_of(addrs);
        if let Some(candidate) = self.candidates.get_mut(&peer) {
            candidate.reach = candidate.reach.max(reach);
            candidate.connected = connected;
            return;
        }
        if self.candidates.len() >= self.config.max_candidates {
            let evictable = self
                .candidates
                .iter()
                .filter(|(peer, _)| !self.slots.contains_key(peer))
                .min_by_key(|(_, candidate)| (candidate.connected, candidate.order))
                .map(|(peer, _)| *peer);
            let Some(evicted) = evictable else { return };
            self.candidates.remove(&evicted);
        }
        let order = self.next_order;
        self.next_order += 1;
        self.candidates.insert(peer, Candidate { reach, connected, order, backoff_until: None });
    }

    /// `peer` turned out not to serve the hop protocol.
    pub(crate) fn remove_candidate(&mut self, peer: PeerId) {
        if !self.slots.contains_key(&peer) {
            self.candidates.remove(&peer);
        }
    }

    /// Whether `peer` is a candidate.
    pub(crate) fn is_candidate(&self, peer: PeerId) -> bool {
        self.candidates.contains_key(&peer)
    }

    /// Whether `peer` has a direct (not relayed) connection now.
    pub(crate) fn set_connected(&mut self, peer: PeerId, connected: bool) {
        if let Some(candidate) = self.candidates.get_mut(&peer) {
            candidate.connected = connected;
        }
    }

    /// The reservation on `relay` was granted; its listener listens on
    /// `addrs`.
    pub(crate) fn reserved(&mut self, relay: PeerId, addrs: Vec<Multiaddr>) {
        self.slots.insert(relay, Slot::Active(addrs));
    }

    /// Reserving on `relay` failed: it backs off.
    pub(crate) fn failed(&mut self, relay: PeerId, now: Instant) {
        self.slots.remove(&relay);
        self.back_off(relay, now);
    }

    /// The reservation on `relay` ended without our asking: it backs off,
    /// and another relay takes its place at the next poll. Returns the
    /// addresses it had, or `None` if there was no granted reservation.
    pub(crate) fn lost(&mut self, relay: PeerId, now: Instant) -> Option<Vec<Multiaddr>> {
        let Some(Slot::Active(_)) = self.slots.get(&relay) else { return None };
        let Some(Slot::Active(addrs)) = self.slots.remove(&relay) else { return None };
        self.back_off(relay, now);
        Some(addrs)
    }

    fn back_off(&mut self, relay: PeerId, now: Instant) {
        if let Some(candidate) = self.candidates.get_mut(&relay) {
            candidate.backoff_until = Some(now + self.config.backoff);
        }
    }

    /// The granted reservations and their addresses.
    pub(crate) fn active(&self) -> impl Iterator<Item = (PeerId, &[Multiaddr])> {
        self.slots.iter().filter_map(|(relay, slot)| match slot {
            Slot::Active(addrs) => Some((*relay, addrs.as_slice())),
            Slot::Pending => None,
        })
    }

    /// What to do now: reserve on the best candidates while slots are
    /// free, release reservations beyond the target.
    pub(crate) fn poll(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match self.target() {
            None => {}
            Some(target) => {
                let mut active: Vec<(u64, PeerId)> = self
                    .active()
                    .map(|(relay, _)| (self.candidates.get(&relay).map_or(u64::MAX, |c| c.order), relay))
                    .collect();
                // Beyond the target, the newest go first.
                active.sort_unstable();
                let pending = self.slots.len() - active.len();
                let excess = (active.len() + pending).saturating_sub(target).min(active.len());
                for (_, relay) in active.into_iter().rev().take(excess) {
                    if let Some(Slot::Active(addrs)) = self.slots.remove(&relay) {
                        actions.push(Action::Release(relay, addrs));
                    }
                }
                while self.slots.len() < target {
                    let Some(relay) = self.best(now) else { break };
                    self.slots.insert(relay, Slot::Pending);
                    actions.push(Action::Reserve(relay));
                }
            }
        }
        actions
    }

    /// The best eligible candidate at `now`.
    fn best(&self, now: Instant) -> Option<PeerId> {
        let floor = self.floor();
        self.candidates
            .iter()
            .filter(|(relay, candidate)| {
                !self.slots.contains_key(relay)
                    && candidate.reach >= floor
                    && candidate.backoff_until.is_none_or(|until| until <= now)
            })
            .min_by_key(|(_, candidate)| (std::cmp::Reverse(candidate.reach), !candidate.connected, candidate.order))
            .map(|(relay, _)| *relay)
    }

    /// When a backoff ends that could fill a free slot: poll again then.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.target().is_none_or(|target| self.slots.len() >= target) {
            return None;
        }
        self.candidates
            .iter()
            .filter(|(relay, candidate)| !self.slots.contains_key(relay) && candidate.reach >= self.floor())
            .filter_map(|(_, candidate)| candidate.backoff_until)
            .min()
    }

    /// The least reach a relay must promise.
    fn floor(&self) -> Reach {
        if self.config.allow_private_relays { Reach::Local } else { Reach::Unknown }
    }
}

#[cfg(test)]
mod tests;
