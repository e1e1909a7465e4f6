//! The client's decisions, without I/O: which addresses to test, whom to
//! ask, what a result means, and when an address is confirmed, refuted,
//! retested or expired.
//!
//! Spec: `libp2p-autonat-v2.md`, "`AutoNAT` V2 Protocol" (the nonce check:
//! a dial back that did not bring our nonce is no success) and
//! "Implementation Suggestions" (recheck periodically, ask several
//! servers). Data flow:
//!
//! ```text
//! identify observed addr ─▶ translate (our listen ports) ─▶ Candidates::observed_by(peer, its IP group)
//!                                  (kept aside until `min_observers` groups saw it) ─┐
//! public listen addrs, Client::add_candidate ───────────────────────────────────────┴▶ Candidates::observe (capped)
//! Candidates::next_probe(now, servers, nonce) ─▶ Probe { server, addrs, nonce } ─▶ driver asks
//!   request stream open ─▶ Candidates::request_sent(nonce, its connection)
//! dial back with a nonce ─▶ Candidates::dial_back(nonce, connection, limited)
//!   (only pending nonces count, and only on another connection than the request's, not relayed)
//! driver's outcome ─▶ Candidates::finish ─▶ Change::{Reachable, Unreachable, Expired}
//! Candidates::expire(now) ─▶ Change::Expired;  Candidates::next_deadline ─▶ when to look again
//! ```
//!
//! Confidence: an address becomes reachable after `confirmations`
//! successes from distinct servers, unreachable after `confirmations`
//! `E_DIAL_ERROR`s from distinct servers; a result the other way resets
//! the count of the other side, and the verdict stands until the count
//! reaches the threshold again (so one server cannot flip it alone). A
//! success is `OK` with our nonce received, or `E_DIAL_BACK_ERROR` with
//! our nonce received (the server connected and delivered the nonce; its
//! stream failed after, as go-libp2p counts it). Refusals, errors and a
//! reported success without our nonce are no verdict.
//!
//! The nonce must come on a new connection: a dial back on the request's
//! own connection, or on a relayed one, proves nothing (a lying server
//! would just send it back). The spec's full check, the local address of
//! the connection the nonce came on, needs the host to expose it (not
//! yet).
//!
//! Observed addresses cost a peer nothing to send, so one counts only once
//! `min_observers` peers saw it, each from another IP group
//! (`observers::IpGroup`).

use std::{collections::HashMap, time::Instant};

use strata_core::{Multiaddr, PeerId, multiaddr::Scope};
use strata_host::{ConnectionId, is_relayed};

use self::candidate::Candidate;
pub(crate) use self::candidate::{Source, Status};
#[cfg(test)]
use crate::observers::translate;
use crate::{
    ClientConfig, DialStatus, Reachability,
    observers::{IpGroup, MAX_OBSERVERS, Sighting},
};

mod candidate;

/// A request to make: ask `server` to dial one of `addrs` with `nonce`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Probe {
    /// The server.
    pub server: PeerId,
    /// The addresses, the one to test first.
    pub addrs: Vec<Multiaddr>,
    /// The nonce the dial back must bring.
    pub nonce: u64,
}

/// How a request ended, as the driver saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server dialed the address at `addr_idx`, with this result.
    Dialed {
        /// The index in the request.
        addr_idx: u32,
        /// What the server reports.
        dial_status: DialStatus,
    },
    /// No verdict: refused, failed, timed out.
    NoVerdict,
}

/// What a result changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The address is now confirmed reachable.
    Reachable(Multiaddr),
    /// The address is now confirmed unreachable; `was_reachable` if it
    /// had been confirmed reachable.
    Unreachable {
        /// The address.
        addr: Multiaddr,
        /// Whether it was confirmed reachable before.
        was_reachable: bool,
    },
    /// A reachable address was not confirmed again in time.
    Expired(Multiaddr),
}

/// What one finished request tells, for the driver's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tested {
    /// The address the server dialed.
    pub addr: Multiaddr,
    /// What it reported.
    pub dial_status: DialStatus,
    /// Whether our nonce came back on a dial back.
    pub verified: bool,
}

/// A request in flight. `C` names connections (the host's
/// [`ConnectionId`]; a number in unit tests, which cannot make one).
#[derive(Debug)]
struct Pending<C> {
    server: PeerId,
    addrs: Vec<Multiaddr>,
    /// The connection the request went on, once the stream is open.
    connection: Option<C>,
    dial_back: bool,
}

/// The client's candidates, requests in flight and servers asked.
#[derive(Debug)]
pub(crate) struct Candidates<C = ConnectionId> {
    config: ClientConfig,
    known: Vec<Candidate>,
    /// Observed addresses not yet seen by enough observers (capped at
    /// `max_candidates`, the stalest forgotten first).
    sightings: Vec<Sighting>,
    pending: HashMap<u64, Pending<C>>,
    last_asked: HashMap<PeerId, Instant>,
}

impl<C: Copy + PartialEq> Candidates<C> {
    /// No candidates yet.
    pub(crate) fn new(config: ClientConfig) -> Self {
        Self { config, known: Vec::new(), sightings: Vec::new(), pending: HashMap::new(), last_asked: HashMap::new() }
    }

    /// Whether `addr` may be tested at all: it starts with an IP, is not
    /// relayed, and is public (or private ones are allowed).
    pub(crate) fn testable(&self, addr: &Multiaddr) -> bool {
        // Any other scope: no IP, or one nobody can reach.
        let scope = addr.scope();
        let scope_ok = scope == Scope::Public
            || (self.config.allow_private_addrs && matches!(scope, Scope::Private | Scope::Loopback));
        let unspecified = addr.ip().is_some_and(|ip| ip.is_unspecified());
        scope_ok && !unspecified && !is_relayed(addr)
    }

    /// `observer`, connected from an address of `group`, observed `addr`
    /// (translated to our listen port). The address becomes a candidate
    /// ([`Candidates::observe`]) once `min_observers` distinct peers from
    /// as many groups observed it; until then it is kept aside. Returns
    /// whether it is a candidate now.
    pub(crate) fn observed_by(&mut self, addr: &Multiaddr, observer: PeerId, group: IpGroup, now: Instant) -> bool {
        let addr = addr.without_peer_id();
        if !self.testable(&addr) {
            return false;
        }
        if self.known.iter().any(|c| c.addr == addr) {
            return self.observe(&addr, Source::Observed, now);
        }
        let index = self.sightings.iter().position(|s| s.addr == addr).unwrap_or_else(|| self.sight(&addr, now));
        let sighting = &mut self.sightings[index];
        sighting.last_seen = now;
        sighting.observers.retain(|(peer, _)| *peer != observer);
        sighting.observers.push((observer, group));
        let excess = sighting.observers.len().saturating_sub(MAX_OBSERVERS);
        sighting.observers.drain(..excess);
        if sighting.groups() < self.config.min_observers {
            return false;
        }
        self.sightings.remove(index);
        self.observe(&addr, Source::Observed, now)
    }

    /// Keeps `addr` aside, seen by nobody yet, forgetting the stalest
    /// address kept aside past the cap (`max_candidates`). Returns its index.
    fn sight(&mut self, addr: &Multiaddr, now: Instant) -> usize {
        if self.sightings.len() >= self.config.max_candidates.max(1) {
            let stalest = self.sightings.iter().enumerate().min_by_key(|(_, s)| s.last_seen).map(|(i, _)| i);
            if let Some(stalest) = stalest {
                self.sightings.remove(stalest);
            }
        }
        self.sightings.push(Sighting { addr: addr.clone(), observers: Vec::new(), last_seen: now });
        self.sightings.len() - 1
    }

    /// Adds `addr` (without a `/p2p` suffix) as a candidate, or notes that
    /// it was seen again. Returns whether it is kept. Past the cap it
    /// replaces the least recently seen observed address that is neither
    /// confirmed reachable nor being tested; if there is none, it is
    /// dropped. Observed addresses come through
    /// [`Candidates::observed_by`].
    pub(crate) fn observe(&mut self, addr: &Multiaddr, source: Source, now: Instant) -> bool {
        let addr = addr.without_peer_id();
        if !self.testable(&addr) {
            return false;
        }
        if let Some(known) = self.known.iter_mut().find(|c| c.addr == addr) {
            known.last_seen = now;
            if source != Source::Observed {
                known.source = source;
            }
            return true;
        }
        if self.known.len() >= self.config.max_candidates {
            let victim = self
                .known
                .iter()
                .enumerate()
                .filter(|(_, c)| c.status != Status::Reachable && !c.in_flight && c.source == Source::Observed)
                .min_by_key(|(_, c)| c.last_seen)
                .map(|(index, _)| index);
            let Some(victim) = victim else { return false };
            self.known.remove(victim);
        }
        self.known.push(Candidate {
            addr,
            source,
            last_seen: now,
            status: Status::Unknown,
            successes: Vec::new(),
            failures: Vec::new(),
            last_tested: None,
            confirmed_at: None,
            in_flight: false,
        });
        true
    }

    /// The request to make now, if there is one: the first address due,
    /// asked of the first of `servers` that is not cooling down and may
    /// count for it, with the other due addresses behind it. Due retests
    /// of reachable addresses go first (a server dials the first address
    /// it can, and a confirmed address must not expire behind new ones),
    /// then new addresses, then retests of unreachable ones. `nonce` is
    /// the fresh random nonce to use.
    pub(crate) fn next_probe(&mut self, now: Instant, servers: &[PeerId], nonce: u64) -> Option<Probe> {
        if self.pending.len() >= self.config.max_in_flight || self.pending.contains_key(&nonce) {
            return None;
        }
        let cooldown = self.config.server_cooldown;
        self.last_asked.retain(|_, at| now.saturating_duration_since(*at) < cooldown);
        let retest = self.config.retest_interval;
        let mut order: Vec<usize> = (0..self.known.len()).filter(|i| self.known[*i].due(now, retest)).collect();
        order.sort_by_key(|i| match self.known[*i].status {
            Status::Reachable => 0,
            Status::Unknown => 1,
            Status::Unreachable => 2,
        }); // stable: otherwise in the order they came
        let (first, server) = order.iter().find_map(|i| {
            let candidate = &self.known[*i];
            let server = servers.iter().find(|s| !self.last_asked.contains_key(s) && candidate.may_ask(**s))?;
            Some((*i, *server))
        })?;
        let mut chosen = vec![first];
        for i in order {
            if chosen.len() >= self.config.max_addrs_per_request {
                break;
            }
            if i != first && self.known[i].may_ask(server) {
                chosen.push(i);
            }
        }
        let addrs: Vec<Multiaddr> = chosen
            .iter()
            .map(|i| {
                self.known[*i].in_flight = true;
                self.known[*i].addr.clone()
            })
            .collect();
        self.last_asked.insert(server, now);
        self.pending.insert(nonce, Pending { server, addrs: addrs.clone(), connection: None, dial_back: false });
        Some(Probe { server, addrs, nonce })
    }

    /// The request with `nonce` goes to the server on `connection` (its
    /// stream is open; the nonce is not sent yet).
    pub(crate) fn request_sent(&mut self, nonce: u64, connection: C) {
        if let Some(pending) = self.pending.get_mut(&nonce) {
            pending.connection = Some(connection);
        }
    }

    /// A dial back brought `nonce` on `connection`, relayed (`limited`)
    /// or not. Returns whether it counts: the nonce is one of ours (in
    /// flight), and it came on a direct connection other than the one
    /// the request went on (a server that sends the nonce back where it
    /// got it dialed nothing).
    pub(crate) fn dial_back(&mut self, nonce: u64, connection: C, limited: bool) -> bool {
        if limited {
            return false;
        }
        self.pending.get_mut(&nonce).is_some_and(|pending| {
            if pending.connection.is_none_or(|request| request == connection) {
                return false;
            }
            pending.dial_back = true;
            true
        })
    }

    /// Whether the dial back for `nonce` has arrived.
    pub(crate) fn dial_back_received(&self, nonce: u64) -> bool {
        self.pending.get(&nonce).is_some_and(|pending| pending.dial_back)
    }

    /// The request with `nonce` ended with `outcome`. Returns what it
    /// tested (if the server dialed an address of the request) and what
    /// changed.
    pub(crate) fn finish(&mut self, nonce: u64, outcome: Outcome, now: Instant) -> (Option<Tested>, Vec<Change>) {
        let Some(pending) = self.pending.remove(&nonce) else { return (None, Vec::new()) };
        for addr in &pending.addrs {
            if let Some(candidate) = self.known.iter_mut().find(|c| c.addr == *addr) {
                candidate.in_flight = false;
            }
        }
        let Outcome::Dialed { addr_idx, dial_status } = outcome else { return (None, Vec::new()) };
        let Some(addr) = usize::try_from(addr_idx).ok().and_then(|i| pending.addrs.get(i)) else {
            return (None, Vec::new());
        };
        let tested = Tested { addr: addr.clone(), dial_status, verified: pending.dial_back };
        let n = self.config.confirmations;
        let Some(candidate) = self.known.iter_mut().find(|c| c.addr == *addr) else {
            return (Some(tested), Vec::new()); // evicted meanwhile
        };
        let server = pending.server;
        let mut changes = Vec::new();
        match (dial_status, pending.dial_back) {
            (DialStatus::Ok | DialStatus::DialBackError, true) => {
                candidate.last_tested = Some(now);
                candidate.confirmed_at = Some(now);
                candidate.failures.clear();
                remember(&mut candidate.successes, server, n);
                if candidate.status != Status::Reachable && candidate.successes.len() >= n {
                    candidate.status = Status::Reachable;
                    changes.push(Change::Reachable(addr.clone()));
                }
            }
            (DialStatus::DialError, _) => {
                candidate.last_tested = Some(now);
                candidate.successes.clear();
                remember(&mut candidate.failures, server, n);
                if candidate.status != Status::Unreachable && candidate.failures.len() >= n {
                    let was_reachable = candidate.status == Status::Reachable;
                    candidate.status = Status::Unreachable;
                    candidate.confirmed_at = None;
                    changes.push(Change::Unreachable { addr: addr.clone(), was_reachable });
                }
            }
            // A success without our nonce, or no dial at all: no verdict.
            _ => {}
        }
        (Some(tested), changes)
    }

    /// Expires reachable addresses not confirmed within `expire_after`:
    /// they are tested again as new. Forgets observed addresses confirmed
    /// unreachable and not observed within `expire_after`, and addresses
    /// kept aside as long.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Change> {
        let after = self.config.expire_after;
        let fresh = |last_seen: Instant| now.saturating_duration_since(last_seen) < after;
        self.known.retain(|c| {
            c.source != Source::Observed || c.status != Status::Unreachable || c.in_flight || fresh(c.last_seen)
        });
        self.sightings.retain(|s| fresh(s.last_seen));
        let mut changes = Vec::new();
        for candidate in &mut self.known {
            let stale = candidate.confirmed_at.is_none_or(|at| now.saturating_duration_since(at) >= after);
            if candidate.status == Status::Reachable && stale {
                candidate.status = Status::Unknown;
                candidate.successes.clear();
                candidate.confirmed_at = None;
                changes.push(Change::Expired(candidate.addr.clone()));
            }
        }
        changes
    }

    /// The next time something becomes due by itself (a retest, an
    /// expiry, a server's cooldown ending), if any; after `now`.
    pub(crate) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        // Each candidate's retest and expiry count on their own: a retest
        // that is due but waits for a server must not hide the expiry.
        let retests = self.known.iter().filter(|c| c.status != Status::Unknown).flat_map(|c| {
            let retest = c.last_tested.map(|at| at + self.config.retest_interval);
            let expiry = c.confirmed_at.map(|at| at + self.config.expire_after);
            retest.into_iter().chain(expiry)
        });
        let cooldowns = self.last_asked.values().map(|at| *at + self.config.server_cooldown);
        retests.chain(cooldowns).filter(|at| *at > now).min()
    }

    /// The verdict on `addr`, if it is a candidate.
    #[cfg(test)]
    pub(crate) fn status(&self, addr: &Multiaddr) -> Option<Status> {
        self.known.iter().find(|c| c.addr == *addr).map(|c| c.status)
    }

    /// The addresses this node appears at from outside, which a hole punch
    /// offers to its peer: every candidate whatever its verdict (the
    /// reachable first), then the addresses seen by too few observers to
    /// be tested yet (the most recently seen first). Offering one costs
    /// nothing (the peer dials it at most a few times); testing one costs a
    /// server's dial back, hence the observer rule for candidates only.
    pub(crate) fn addrs(&self) -> Vec<Multiaddr> {
        let reachable = self.known.iter().filter(|c| c.status == Status::Reachable);
        let others = self.known.iter().filter(|c| c.status != Status::Reachable);
        let mut sightings: Vec<&Sighting> = self.sightings.iter().collect();
        sightings.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        let seen = sightings.into_iter().map(|s| s.addr.clone());
        reachable.chain(others).map(|c| c.addr.clone()).chain(seen).collect()
    }

    /// The overall verdict: public if an address is reachable, private if
    /// none is and one is unreachable, unknown otherwise.
    pub(crate) fn reachability(&self) -> Reachability {
        if self.known.iter().any(|c| c.status == Status::Reachable) {
            Reachability::Public
        } else if self.known.iter().any(|c| c.status == Status::Unreachable) {
            Reachability::Private
        } else {
            Reachability::Unknown
        }
    }

    /// How many candidates are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.known.len()
    }

    /// How many requests are in flight.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

/// Adds `server` to a list of distinct servers kept to the last `cap`.
fn remember(servers: &mut Vec<PeerId>, server: PeerId, cap: usize) {
    servers.retain(|known| *known != server);
    servers.push(server);
    let excess = servers.len().saturating_sub(cap);
    servers.drain(..excess);
}

#[cfg(test)]
mod tests;
