//! An iterative lookup (`libp2p-kad-dht.md`, "Peer routing"), with no I/O:
//! the caller asks what to do next, sends the requests, and reports each
//! response or failure; time is passed in.
//!
//! ```text
//! seeds (the table's k nearest) ─▶ candidates, nearest first
//! next(now): requests past their timeout fail
//!            the k nearest non-failed candidates all answered ─▶ Finished
//!            nothing left to ask and nothing in flight       ─▶ Finished
//!            fewer than α in flight ─▶ Request(the nearest not yet asked)
//!            otherwise ─▶ Waiting
//! succeeded(peer, closer) ─▶ closer peers join the candidates (one hop further)
//! failed(peer) ─▶ dropped from the result
//! ```
//!
//! Bounded: at most `max_requests` requests, at most `8k` candidates kept.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use strata_core::PeerId;

use crate::key::{Distance, Key};

/// A lookup's parameters.
#[derive(Clone, Copy, Debug)]
pub struct QueryParams {
    /// Requests in flight at once (α).
    pub alpha: usize,
    /// How many nearest peers must answer (k).
    pub k: usize,
    /// The most requests one lookup sends.
    pub max_requests: usize,
    /// How long one request may take before it counts as failed.
    pub request_timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NotAsked,
    Waiting(Instant),
    Answered,
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate {
    peer: PeerId,
    state: State,
    /// How many hops from us it was learned (seeds: 1).
    hops: u32,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send the request to this peer.
    Request(PeerId),
    /// Wait for a response (or a timeout).
    Waiting,
    /// Done.
    Finished,
}

/// One iterative lookup.
#[derive(Debug)]
pub struct Query {
    target: Key,
    params: QueryParams,
    candidates: BTreeMap<Distance, Candidate>,
    in_flight: usize,
    requests: usize,
}

impl Query {
    /// A lookup of `target` starting from `seeds`.
    pub fn new(target: Key, seeds: impl IntoIterator<Item = PeerId>, params: QueryParams) -> Self {
        let mut query = Self { target, params, candidates: BTreeMap::new(), in_flight: 0, requests: 0 };
        for peer in seeds {
            query.add(peer, 1);
        }
        query
    }

    fn add(&mut self, peer: PeerId, hops: u32) {
        let distance = Key::of_peer(peer).distance(&self.target);
        self.candidates.entry(distance).or_insert(Candidate { peer, state: State::NotAsked, hops });
        let cap = self.params.k.saturating_mul(8).max(1);
        while self.candidates.len() > cap {
            // The farthest not-yet-asked candidate goes; asked ones stay
            // (their answers are accounted for).
            let Some(far) = self
                .candidates
                .iter()
                .rev()
                .find(|(_, candidate)| candidate.state == State::NotAsked)
                .map(|(distance, _)| *distance)
            else {
                break;
            };
            self.candidates.remove(&far);
        }
    }

    fn find(&mut self, peer: PeerId) -> Option<&mut Candidate> {
        let distance = Key::of_peer(peer).distance(&self.target);
        self.candidates.get_mut(&distance).filter(|candidate| candidate.peer == peer)
    }

    /// What to do next at `now`.
    pub fn next(&mut self, now: Instant) -> Step {
        for candidate in self.candidates.values_mut() {
            if let State::Waiting(deadline) = candidate.state
                && deadline <= now
            {
                candidate.state = State::Failed;
                self.in_flight -= 1;
            }
        }
        if self.nearest_k_answered() {
            return Step::Finished;
        }
        let can_ask = self.in_flight < self.params.alpha && self.requests < self.params.max_requests;
        if can_ask {
            let deadline = now + self.params.request_timeout;
            // Only the nearest k not failed are worth asking.
            let next = self
                .candidates
                .values_mut()
                .filter(|candidate| candidate.state != State::Failed)
                .take(self.params.k)
                .find(|candidate| candidate.state == State::NotAsked);
            if let Some(candidate) = next {
                candidate.state = State::Waiting(deadline);
                self.in_flight += 1;
                self.requests += 1;
                return Step::Request(candidate.peer);
            }
        }
        if self.in_flight == 0 { Step::Finished } else { Step::Waiting }
    }

    fn nearest_k_answered(&self) -> bool {
        let mut nearest = self
            .candidates
            .values()
            .filter(|candidate| candidate.state != State::Failed)
            .take(self.params.k)
            .peekable();
        nearest.peek().is_some() && nearest.all(|candidate| candidate.state == State::Answered)
    }

    /// `peer` answered with `closer` peers.
    pub fn succeeded(&mut self, peer: PeerId, closer: impl IntoIterator<Item = PeerId>) {
        let Some(candidate) = self.find(peer) else { return };
        if !matches!(candidate.state, State::Waiting(_)) {
            return;
        }
        candidate.state = State::Answered;
        let hops = candidate.hops + 1;
        self.in_flight -= 1;
        for closer in closer {
            self.add(closer, hops);
        }
    }

    /// `peer` failed (or its answer could not be used).
    pub fn failed(&mut self, peer: PeerId) {
        let Some(candidate) = self.find(peer) else { return };
        if matches!(candidate.state, State::Waiting(_)) {
            candidate.state = State::Failed;
            self.in_flight -= 1;
        }
    }

    /// The nearest peers that answered (at most k), nearest first.
    pub fn result(&self) -> Vec<PeerId> {
        self.candidates
            .values()
            .filter(|candidate| candidate.state == State::Answered)
            .take(self.params.k)
            .map(|candidate| candidate.peer)
            .collect()
    }

    /// How many requests were sent.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// How many hops away the nearest answering peer was learned (1: a
    /// seed from our own table).
    pub fn hops(&self) -> u32 {
        self.candidates.values().find(|candidate| candidate.state == State::Answered).map_or(0, |c| c.hops)
    }
}

#[cfg(test)]
mod tests;
