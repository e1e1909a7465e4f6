//! The selector's decisions on a fake clock: how many reservations, on
//! which relays, backoff, release, the candidate cap.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;

const BACKOFF: Duration = Duration::from_mins(1);

fn config() -> AutoRelayConfig {
    AutoRelayConfig::default().with_backoff(BACKOFF)
}

fn public() -> Vec<Multiaddr> {
    vec!["/ip4/198.51.100.7/tcp/4001".parse().unwrap()]
}

fn lan() -> Vec<Multiaddr> {
    vec!["/ip4/192.168.1.7/tcp/4001".parse().unwrap(), "/ip4/127.0.0.1/tcp/4001".parse().unwrap()]
}

fn circuit(relay: PeerId) -> Vec<Multiaddr> {
    vec![format!("/ip4/198.51.100.7/tcp/4001/p2p/{relay}/p2p-circuit").parse().unwrap()]
}

fn reserves(actions: &[Action]) -> Vec<PeerId> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Reserve(relay) => Some(*relay),
            Action::Release(..) => None,
        })
        .collect()
}

fn releases(actions: &[Action]) -> Vec<PeerId> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Release(relay, _) => Some(*relay),
            Action::Reserve(_) => None,
        })
        .collect()
}

/// A private node with `n` public candidates, connected, learned in order.
fn private_with(n: usize) -> (Selector, Vec<PeerId>) {
    let mut selector = Selector::new(config());
    selector.set_reachability(Reachability::Private);
    let relays: Vec<PeerId> = (0..n).map(|_| PeerId::random()).collect();
    for relay in &relays {
        selector.add_candidate(*relay, &public(), true);
    }
    (selector, relays)
}

#[test]
fn a_private_node_reserves_on_two_distinct_relays_in_order() {
    let now = Instant::now();
    let (mut selector, relays) = private_with(3);
    assert_eq!(reserves(&selector.poll(now)), relays[..2]);
    // Pending ones count: nothing more until one ends.
    assert!(selector.poll(now).is_empty());
    selector.reserved(relays[0], circuit(relays[0]));
    selector.reserved(relays[1], circuit(relays[1]));
    assert!(selector.poll(now).is_empty());
    assert_eq!(selector.active().count(), 2);
}

#[test]
fn nothing_is_reserved_while_unknown_or_public() {
    let now = Instant::now();
    let (mut selector, _) = private_with(3);
    selector.set_reachability(Reachability::Unknown);
    assert!(selector.poll(now).is_empty());
    selector.set_reachability(Reachability::Public);
    assert!(selector.poll(now).is_empty());
    assert_eq!(selector.next_deadline(), None);
}

#[test]
fn always_reserves_without_a_verdict_and_disabled_reserves_nothing() {
    let now = Instant::now();
    let mut selector = Selector::new(config().with_always(true).with_reservations(1));
    let relay = PeerId::random();
    selector.add_candidate(relay, &public(), true);
    selector.set_enabled(false);
    assert!(selector.poll(now).is_empty());
    selector.set_enabled(true);
    assert_eq!(reserves(&selector.poll(now)), [relay]);
}

#[test]
fn a_lost_relay_is_replaced_at_once_and_backs_off() {
    let now = Instant::now();
    let (mut selector, relays) = private_with(3);
    selector.poll(now);
    selector.reserved(relays[0], circuit(relays[0]));
    selector.reserved(relays[1], circuit(relays[1]));
    assert_eq!(selector.lost(relays[0], now), Some(circuit(relays[0])));
    assert_eq!(selector.lost(relays[0], now), None); // told once
    assert_eq!(reserves(&selector.poll(now)), [relays[2]]);
    selector.reserved(relays[2], circuit(relays[2]));
    // Another loss: the first relay still backs off, so nothing to take...
    selector.lost(relays[1], now);
    assert!(selector.poll(now).is_empty());
    // ...until the first backoff ends (the deadline the driver sleeps to).
    assert_eq!(selector.next_deadline(), Some(now + BACKOFF));
    assert!(selector.poll(now + BACKOFF.saturating_sub(Duration::from_millis(1))).is_empty());
    assert_eq!(reserves(&selector.poll(now + BACKOFF)), [relays[0]]);
}

#[test]
fn a_failed_attempt_backs_off_and_the_next_candidate_is_tried() {
    let now = Instant::now();
    let (mut selector, relays) = private_with(3);
    selector.poll(now);
    selector.failed(relays[0], now);
    assert_eq!(reserves(&selector.poll(now)), [relays[2]]);
    selector.failed(relays[2], now);
    assert!(selector.poll(now).is_empty());
    assert_eq!(reserves(&selector.poll(now + BACKOFF)), [relays[0]]);
}

#[test]
fn turning_public_releases_every_reservation_and_pending_ones_when_granted() {
    let now = Instant::now();
    let (mut selector, relays) = private_with(3);
    selector.poll(now);
    selector.reserved(relays[0], circuit(relays[0]));
    selector.set_reachability(Reachability::Public);
    assert_eq!(selector.poll(now), [Action::Release(relays[0], circuit(relays[0]))]);
    // The one under way when the verdict came goes once granted.
    selector.reserved(relays[1], circuit(relays[1]));
    assert_eq!(releases(&selector.poll(now)), [relays[1]]);
    assert_eq!(selector.active().count(), 0);
    // Private again: a released relay is not backing off.
    selector.set_reachability(Reachability::Private);
    assert_eq!(reserves(&selector.poll(now)), relays[..2]);
}

#[test]
fn unknown_keeps_what_there_is_and_replaces_nothing() {
    let now = Instant::now();
    let (mut selector, relays) = private_with(3);
    selector.poll(now);
    selector.reserved(relays[0], circuit(relays[0]));
    selector.reserved(relays[1], circuit(relays[1]));
    selector.set_reachability(Reachability::Unknown);
    assert!(selector.poll(now).is_empty());
    selector.lost(relays[0], now);
    assert!(selector.poll(now).is_empty());
    assert_eq!(selector.active().count(), 1);
}

#[test]
fn public_relays_come_first_and_private_ones_only_when_allowed() {
    let now = Instant::now();
    let mut selector = Selector::new(config().with_reservations(3));
    selector.set_reachability(Reachability::Private);
    let (local, unknown, far) = (PeerId::random(), PeerId::random(), PeerId::random());
    selector.add_candidate(local, &lan(), true);
    selector.add_candidate(unknown, &[], false);
    selector.add_candidate(far, &public(), false);
    // Public first; an address-less one (found on the DHT) may do; the LAN one never.
    assert_eq!(reserves(&selector.poll(now)), [far, unknown]);

    let mut selector = Selector::new(config().with_private_relays(true));
    selector.set_reachability(Reachability::Private);
    selector.add_candidate(local, &lan(), true);
    selector.add_candidate(far, &public(), false);
    assert_eq!(reserves(&selector.poll(now)), [far, local]);
}

#[test]
fn connected_candidates_come_before_those_to_dial() {
    let now = Instant::now();
    let mut selector = Selector::new(config().with_reservations(1));
    selector.set_reachability(Reachability::Private);
    let (away, here) = (PeerId::random(), PeerId::random());
    selector.add_candidate(away, &public(), false);
    selector.add_candidate(here, &public(), false);
    selector.set_connected(here, true);
    assert_eq!(reserves(&selector.poll(now)), [here]);
}

#[test]
fn the_candidate_cap_evicts_the_oldest_without_a_reservation() {
    let now = Instant::now();
    let mut selector = Selector::new(config().with_max_candidates(2).with_reservations(1));
    selector.set_reachability(Reachability::Private);
    let relays: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
    selector.add_candidate(relays[0], &public(), true);
    assert_eq!(reserves(&selector.poll(now)), [relays[0]]);
    selector.add_candidate(relays[1], &public(), true);
    selector.add_candidate(relays[2], &public(), true); // evicts relays[1], not the reserved relays[0]
    assert!(selector.is_candidate(relays[0]));
    assert!(!selector.is_candidate(relays[1]));
    assert!(selector.is_candidate(relays[2]));
    // A peer that is no relay after all goes, unless reserved on.
    selector.remove_candidate(relays[0]);
    selector.remove_candidate(relays[2]);
    assert!(selector.is_candidate(relays[0]));
    assert!(!selector.is_candidate(relays[2]));
}
