//! One candidate address and its verdict (see `candidates.rs`).

use std::time::{Duration, Instant};

use strata_core::{Multiaddr, PeerId};

/// Where a candidate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A peer's observation, translated to our listen port.
    Observed,
    /// One of our listen addresses.
    Listen,
    /// The application's ([`crate::Client::add_candidate`]).
    Manual,
}

/// The verdict on one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Not (or no longer) known.
    Unknown,
    /// Confirmed reachable.
    Reachable,
    /// Confirmed unreachable.
    Unreachable,
}

/// One address under test, and what servers said of it.
#[derive(Debug)]
pub(super) struct Candidate {
    pub(super) addr: Multiaddr,
    pub(super) source: Source,
    pub(super) last_seen: Instant,
    pub(super) status: Status,
    /// Servers that found it reachable (distinct; the last few).
    pub(super) successes: Vec<PeerId>,
    /// Servers that found it unreachable (distinct; the last few).
    pub(super) failures: Vec<PeerId>,
    pub(super) last_tested: Option<Instant>,
    pub(super) confirmed_at: Option<Instant>,
    pub(super) in_flight: bool,
}

impl Candidate {
    /// Whether it is due for a test at `now` (new, or its retest time came).
    pub(super) fn due(&self, now: Instant, retest: Duration) -> bool {
        !self.in_flight
            && match self.status {
                Status::Unknown => true,
                Status::Reachable | Status::Unreachable => {
                    self.last_tested.is_none_or(|at| now.saturating_duration_since(at) >= retest)
                }
            }
    }

    /// Whether `server` may count for this address: one that has counted
    /// already adds nothing, unless the address is being retested.
    pub(super) fn may_ask(&self, server: PeerId) -> bool {
        self.status != Status::Unknown || !(self.successes.contains(&server) || self.failures.contains(&server))
    }
}
