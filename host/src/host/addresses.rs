//! The host's own addresses: where it listens, where others have confirmed
//! it can be reached (external addresses), and what it tells each peer.
//!
//! ```text
//! listeners ──▶ listen addrs ─────────────┐
//!                                         ├─▶ advertised_addrs(to) ──▶ identify
//! `AutoNAT` (or the user) confirms ──▶ external addrs ┘   (never loopback/private to a public peer)
//!                          └─▶ Event::ExternalAddrConfirmed / ExternalAddrExpired
//! ```
//!
//! The host does not decide what is external: it keeps what it is told,
//! in the order it was told, and reports every change. Relay reservations
//! (`…/p2p-circuit`) are listen addresses of the relay client's listener,
//! gone when it stops ([`Host::stop_listening`]). The overall verdict,
//! reachable directly or not, is a [`crate::Reachability`]: `AutoNAT`
//! decides it, auto-relay follows it; the host only names the type.

use strata_core::{Multiaddr, PeerId};

use crate::{Event, Host};

/// The most external addresses a host keeps; confirming one more forgets
/// the oldest (a peer that invents addresses cannot grow the set).
pub const MAX_EXTERNAL_ADDRS: usize = 32;

impl Host {
    /// The addresses others have confirmed this host is reachable at, oldest
    /// first.
    pub fn external_addrs(&self) -> Vec<Multiaddr> {
        self.inner.lock().external_addrs.clone()
    }

    /// Records `addr` as confirmed reachable (by `AutoNAT`, a port mapping, or
    /// the operator). Returns whether it is new; a new address is reported
    /// as [`Event::ExternalAddrConfirmed`] (identify pushes it to peers).
    pub fn add_external_addr(&self, addr: Multiaddr) -> bool {
        let forgotten = {
            let mut state = self.inner.lock();
            if state.external_addrs.contains(&addr) {
                return false;
            }
            state.external_addrs.push(addr.clone());
            let excess = state.external_addrs.len().saturating_sub(MAX_EXTERNAL_ADDRS);
            state.external_addrs.drain(..excess).collect::<Vec<_>>()
        };
        tracing::info!(%addr, "external address confirmed");
        for old in forgotten {
            self.inner.emit(Event::ExternalAddrExpired { addr: old });
        }
        self.inner.emit(Event::ExternalAddrConfirmed { addr });
        true
    }

    /// Reports that `peer` sees this host at `addr` (identify's
    /// `observedAddr`): an [`Event::AddrObserved`] for whoever weighs
    /// observations (`AutoNAT`'s client). The host keeps nothing of it: an
    /// observation is a peer's word, not a confirmed address.
    pub fn report_observed_addr(&self, peer: PeerId, addr: Multiaddr) {
        tracing::debug!(%peer, %addr, "observed address reported");
        self.inner.emit(Event::AddrObserved { peer, addr });
    }

    /// Forgets `addr` as an external address (no longer confirmed).
    /// Returns whether it was one; its end is reported as
    /// [`Event::ExternalAddrExpired`].
    pub fn remove_external_addr(&self, addr: &Multiaddr) -> bool {
        let removed = {
            let mut state = self.inner.lock();
            let before = state.external_addrs.len();
            state.external_addrs.retain(|known| known != addr);
            state.external_addrs.len() != before
        };
        if removed {
            tracing::info!(%addr, "external address expired");
            self.inner.emit(Event::ExternalAddrExpired { addr: addr.clone() });
        }
        removed
    }

    /// What this host tells a peer seen at `remote` about where to reach
    /// it: the confirmed external addresses, then the listen addresses
    /// that peer could use ([`strata_core::multiaddr::Scope::may_tell`]). A
    /// public peer (or one of unknown reach) is never told a loopback or
    /// private address; unspecified addresses (`0.0.0.0`, `::`, what a
    /// wildcard listener binds), multicast and other unroutable ones are
    /// told to no one.
    pub fn advertised_addrs(&self, remote: &Multiaddr) -> Vec<Multiaddr> {
        let to = remote.scope();
        let state = self.inner.lock();
        let mut told: Vec<Multiaddr> = Vec::with_capacity(state.external_addrs.len() + state.listen_addrs.len());
        for addr in state.external_addrs.iter().chain(&state.listen_addrs) {
            if addr.scope().may_tell(to) && !told.contains(addr) {
                told.push(addr.clone());
            }
        }
        told
    }
}
