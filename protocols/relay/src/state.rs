//! `HopState`: the relay's bookkeeping, with no I/O: reservations with
//! their expiry, per-IP counts, and the circuits in flight.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Reservation" and "Connection
//! Initiation". The hop service calls in with each request and the current
//! time, and gets the grant or the status code to refuse with:
//!
//! ```text
//! RESERVE(peer, ip, now) ─▶ expire old ─▶ renewal? ─▶ count, per-IP count ─▶ Ok(expiry) | RESERVATION_REFUSED
//! CONNECT(src, dst, now) ─▶ expire old ─▶ dst reserved? ─▶ circuit counts ─▶ Ok(CircuitId) | NO_RESERVATION | RESOURCE_LIMIT_EXCEEDED
//! circuit ends           ─▶ circuit_closed(id)
//! peer's last connection closes ─▶ disconnected(peer): its reservation ends
//! ```
//!
//! Expiry is lazy: every call first drops the reservations whose time has
//! passed, so counts are exact without a timer. Every map is bounded by a
//! configured maximum.

use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use strata_core::PeerId;

use crate::{Config, Status};

/// The relay's name for a circuit it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CircuitId(u64);

#[derive(Debug)]
struct Reservation {
    ip: Option<IpAddr>,
    expires: Instant,
}

/// The hop side's state: reservations and circuits, and the limits on them.
#[derive(Debug)]
pub struct HopState {
    ttl: Duration,
    max_reservations: usize,
    max_per_ip: usize,
    max_circuits: usize,
    max_circuits_per_peer: usize,
    reservations: HashMap<PeerId, Reservation>,
    per_ip: HashMap<IpAddr, usize>,
    circuits: HashMap<CircuitId, (PeerId, PeerId)>,
    circuits_per_peer: HashMap<PeerId, usize>,
    next_circuit: u64,
}

impl HopState {
    /// Empty state with `config`'s limits.
    pub fn new(config: &Config) -> Self {
        Self {
            ttl: config.reservation_ttl,
            max_reservations: config.max_reservations,
            max_per_ip: config.max_reservations_per_ip,
            max_circuits: config.max_circuits,
            max_circuits_per_peer: config.max_circuits_per_peer,
            reservations: HashMap::new(),
            per_ip: HashMap::new(),
            circuits: HashMap::new(),
            circuits_per_peer: HashMap::new(),
            next_circuit: 0,
        }
    }

    /// Grants or renews `peer`'s reservation, connected from `ip`; returns
    /// when it expires. A renewal is always granted (it takes no new slot).
    /// Past a limit: `RESERVATION_REFUSED`, the code the spec gives for
    /// "too many reservations" and go-libp2p sends (rust-libp2p sends
    /// `RESOURCE_LIMIT_EXCEEDED`; clients treat both as a refusal).
    pub fn reserve(&mut self, peer: PeerId, ip: Option<IpAddr>, now: Instant) -> Result<Instant, Status> {
        self.expire(now);
        let expires = now + self.ttl;
        if let Some(existing) = self.reservations.get_mut(&peer) {
            existing.expires = expires;
            return Ok(expires);
        }
        if self.reservations.len() >= self.max_reservations {
            return Err(Status::ReservationRefused);
        }
        if let Some(ip) = ip {
            if self.per_ip.get(&ip).copied().unwrap_or(0) >= self.max_per_ip {
                return Err(Status::ReservationRefused);
            }
            *self.per_ip.entry(ip).or_default() += 1;
        }
        self.reservations.insert(peer, Reservation { ip, expires });
        Ok(expires)
    }

    /// Admits a circuit from `src` to `dst`, or says why not.
    pub fn connect(&mut self, src: PeerId, dst: PeerId, now: Instant) -> Result<CircuitId, Status> {
        self.expire(now);
        if !self.reservations.contains_key(&dst) {
            return Err(Status::NoReservation);
        }
        let busy = |peer| self.circuits_per_peer.get(&peer).copied().unwrap_or(0) >= self.max_circuits_per_peer;
        if self.circuits.len() >= self.max_circuits || busy(src) || busy(dst) {
            return Err(Status::ResourceLimitExceeded);
        }
        let id = CircuitId(self.next_circuit);
        self.next_circuit += 1;
        self.circuits.insert(id, (src, dst));
        for peer in [src, dst] {
            *self.circuits_per_peer.entry(peer).or_default() += 1;
        }
        Ok(id)
    }

    /// A circuit ended (whichever way); its slots are free again.
    pub fn circuit_closed(&mut self, id: CircuitId) {
        let Some((src, dst)) = self.circuits.remove(&id) else { return };
        for peer in [src, dst] {
            if let Some(count) = self.circuits_per_peer.get_mut(&peer) {
                *count -= 1;
                if *count == 0 {
                    self.circuits_per_peer.remove(&peer);
                }
            }
        }
    }

    /// `peer`'s last connection closed: its reservation ends (spec: "If
    /// the peer disconnects, the reservation is no longer valid").
    pub fn disconnected(&mut self, peer: PeerId) {
        if let Some(reservation) = self.reservations.remove(&peer) {
            self.release_ip(reservation.ip);
        }
    }

    /// Drops the reservations that expired by `now`.
    pub fn expire(&mut self, now: Instant) {
        let expired: Vec<PeerId> =
            self.reservations.iter().filter(|(_, r)| r.expires <= now).map(|(peer, _)| *peer).collect();
        for peer in expired {
            self.disconnected(peer);
        }
    }

    /// Whether `peer` holds a reservation (not yet expired at `now`).
    pub fn has_reservation(&self, peer: PeerId, now: Instant) -> bool {
        self.reservations.get(&peer).is_some_and(|r| r.expires > now)
    }

    /// How many reservations are held (expired ones included until the
    /// next call that takes `now`).
    pub fn reservation_count(&self) -> usize {
        self.reservations.len()
    }

    /// How many circuits are open.
    pub fn circuit_count(&self) -> usize {
        self.circuits.len()
    }

    fn release_ip(&mut self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        if let Some(count) = self.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests;
