//! Per-peer message budgets: a token bucket per peer, refilled at a
//! configured rate, bursts of twice the rate. Every router spends from it
//! before it decodes and checks the signatures of a peer's messages.

use std::{collections::HashMap, time::Instant};

use strata_core::PeerId;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The budgets of all peers.
#[derive(Debug)]
pub struct Budgets {
    per_sec: u32,
    buckets: HashMap<PeerId, Bucket>,
}

impl Budgets {
    /// Budgets of `per_sec` messages a second (at least one).
    pub fn new(per_sec: u32) -> Self {
        Self { per_sec: per_sec.max(1), buckets: HashMap::new() }
    }

    /// The sustained rate.
    pub fn per_sec(&self) -> u32 {
        self.per_sec
    }

    /// Takes `count` messages from `peer`'s budget; `false` if it has not
    /// that many left (nothing is taken then).
    pub fn spend(&mut self, peer: PeerId, count: usize, now: Instant) -> bool {
        let rate = f64::from(self.per_sec);
        let burst = 2.0 * rate;
        let bucket = self.buckets.entry(peer).or_insert(Bucket { tokens: burst, at: now });
        bucket.tokens = (bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * rate).min(burst);
        bucket.at = now;
        let cost = f64::from(u32::try_from(count).unwrap_or(u32::MAX));
        if bucket.tokens < cost {
            return false;
        }
        bucket.tokens -= cost;
        true
    }

    /// Forgets a peer.
    pub fn remove(&mut self, peer: PeerId) {
        self.buckets.remove(&peer);
    }

    /// How many peers have a budget.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no peer has one.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}
