#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use strata_core::PeerId;

use super::{Query, QueryParams, Step};
use crate::{key::Key, table::RoutingTable};

fn params(k: usize) -> QueryParams {
    QueryParams { alpha: 3, k, max_requests: 500, request_timeout: Duration::from_secs(10) }
}

/// A network where each peer's table holds a random sample of the others:
/// a peer answers with the k nearest it knows.
struct Network {
    peers: Vec<PeerId>,
    tables: Vec<RoutingTable>,
}

impl Network {
    /// Each peer's k-buckets filled from every other peer, in random
    /// order: full near buckets, k random peers in each far one (the
    /// tables a healthy Kademlia network converges to).
    fn new(n: usize, k: usize) -> Self {
        let peers: Vec<PeerId> = (0..n).map(|_| PeerId::random()).collect();
        let tables = peers
            .iter()
            .enumerate()
            .map(|(i, peer)| {
                let mut table = RoutingTable::new(*peer, k);
                for offset in 1..n {
                    table.insert(peers[(i + offset * 7919) % n], &[]);
                }
                table
            })
            .collect();
        Self { peers, tables }
    }

    fn answer(&self, peer: PeerId, target: &Key, k: usize) -> Vec<PeerId> {
        let index = self.peers.iter().position(|p| *p == peer).unwrap();
        self.tables[index].closest(target, k).into_iter().map(|entry| entry.peer).collect()
    }

    fn true_closest(&self, target: &Key, k: usize) -> Vec<PeerId> {
        let mut all = self.peers.clone();
        all.sort_by_key(|peer| Key::of_peer(*peer).distance(target));
        all.truncate(k);
        all
    }
}

#[test]
fn a_lookup_finds_the_true_k_closest_through_kademlia_tables() {
    let k = 20;
    let network = Network::new(500, k);
    let now = Instant::now();
    for round in 0..10 {
        let target = Key::new(format!("target {round}").as_bytes());
        let seeds = network.answer(network.peers[round], &target, k);
        let mut query = Query::new(target, seeds, params(k));
        loop {
            match query.next(now) {
                Step::Request(peer) => {
                    let closer = network.answer(peer, &target, k);
                    query.succeeded(peer, closer);
                }
                Step::Waiting => panic!("every request is answered at once"),
                Step::Finished => break,
            }
        }
        assert_eq!(query.result(), network.true_closest(&target, k), "round {round}");
        assert!(query.requests() < 200, "{} requests", query.requests());
        assert!(query.hops() >= 1);
    }
}

#[test]
fn at_most_alpha_requests_are_in_flight_and_timeouts_fail_them() {
    let peers: Vec<PeerId> = (0..10).map(|_| PeerId::random()).collect();
    let now = Instant::now();
    let mut query = Query::new(Key::new(b"x"), peers.clone(), params(20));
    let asked: Vec<PeerId> = (0..3)
        .map(|_| match query.next(now) {
            Step::Request(peer) => peer,
            step => panic!("{step:?}"),
        })
        .collect();
    assert_eq!(query.next(now), Step::Waiting, "α = 3 in flight");
    query.succeeded(asked[0], []);
    assert!(matches!(query.next(now), Step::Request(_)), "one answered: room for one more");
    // The rest never answer: past the timeout they fail and others are asked.
    let later = now + Duration::from_secs(11);
    let mut asked_later = 0;
    let mut at = later;
    loop {
        match query.next(at) {
            Step::Request(_) => asked_later += 1,
            Step::Waiting => at += Duration::from_secs(11),
            Step::Finished => break,
        }
    }
    assert_eq!(asked_later, 6, "every remaining peer asked once");
    assert_eq!(query.result(), [asked[0]], "only the one that answered");
}

#[test]
fn the_request_budget_ends_a_lookup() {
    let k = 20;
    let network = Network::new(300, k);
    let target = Key::new(b"budget");
    let mut query =
        Query::new(target, network.answer(network.peers[0], &target, k), QueryParams { max_requests: 5, ..params(k) });
    let now = Instant::now();
    loop {
        match query.next(now) {
            Step::Request(peer) => {
                let closer = network.answer(peer, &target, k);
                query.succeeded(peer, closer);
            }
            Step::Waiting => panic!(),
            Step::Finished => break,
        }
    }
    assert_eq!(query.requests(), 5);
}
