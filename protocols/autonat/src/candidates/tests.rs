#![allow(clippy::unwrap_used)]

use std::time::Duration;

use strata_core::multiaddr::Component;

use super::*;

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

fn config(n: usize) -> ClientConfig {
    ClientConfig::default()
        .with_confirmations(n)
        .with_retest_interval(Duration::from_mins(1))
        .with_expire_after(Duration::from_mins(3))
        .with_server_cooldown(Duration::from_secs(10))
}

/// The connection a test's requests go on; dial backs come on another.
const REQUEST: u64 = 1;
const DIAL_BACK: u64 = 2;

fn ok() -> Outcome {
    Outcome::Dialed { addr_idx: 0, dial_status: DialStatus::Ok }
}

fn dial_error() -> Outcome {
    Outcome::Dialed { addr_idx: 0, dial_status: DialStatus::DialError }
}

/// Asks with `nonce` and finishes with `outcome`, the dial back arriving
/// or not.
fn round(
    state: &mut Candidates<u64>,
    now: Instant,
    servers: &[PeerId],
    nonce: u64,
    dial_back: bool,
    outcome: Outcome,
) -> Vec<Change> {
    let probe = state.next_probe(now, servers, nonce).unwrap();
    state.request_sent(nonce, REQUEST);
    if dial_back {
        assert!(state.dial_back(nonce, DIAL_BACK, false));
    }
    state.finish(probe.nonce, outcome, now).1
}

#[test]
fn observed_addresses_take_our_listen_ports() {
    let listen = [
        addr("/ip4/0.0.0.0/tcp/4001"),
        addr("/ip4/192.168.1.5/udp/4001/quic-v1"),
        addr("/ip6/::/tcp/4002"),
        addr("/ip4/127.0.0.1/tcp/4003"),
    ];
    assert_eq!(translate(&addr("/ip4/1.2.3.4/tcp/55555"), &listen), [addr("/ip4/1.2.3.4/tcp/4001")]);
    assert_eq!(translate(&addr("/ip4/1.2.3.4/udp/55555/quic-v1"), &listen), [addr("/ip4/1.2.3.4/udp/4001/quic-v1")]);
    assert_eq!(translate(&addr("/ip6/2001:db8::1/tcp/55555"), &listen), [addr("/ip6/2001:db8::1/tcp/4002")]);
    let peer = PeerId::random();
    let with_id = addr("/ip4/1.2.3.4/tcp/55555").with_p2p(peer).unwrap();
    assert_eq!(translate(&with_id, &listen), [addr("/ip4/1.2.3.4/tcp/4001")]);
    // A loopback observation maps to every listener of its shape.
    assert_eq!(
        translate(&addr("/ip4/127.0.0.1/tcp/5"), &listen),
        [addr("/ip4/127.0.0.1/tcp/4001"), addr("/ip4/127.0.0.1/tcp/4003")]
    );
    assert!(translate(&addr("/dns4/a.example/tcp/5"), &listen).is_empty());
    assert!(translate(&addr("/ip4/1.2.3.4/udp/5"), &listen).is_empty());
}

#[test]
fn private_loopback_and_relayed_addresses_are_not_candidates() {
    let mut state = Candidates::<u64>::new(config(1));
    let now = Instant::now();
    for text in ["/ip4/10.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/1", "/dns4/a.example/tcp/1", "/ip4/0.0.0.0/tcp/1"] {
        assert!(!state.observe(&addr(text), Source::Listen, now), "{text}");
    }
    let relay = PeerId::random();
    let circuit = addr("/ip4/1.2.3.4/tcp/1").with_p2p(relay).unwrap().with(Component::P2pCircuit);
    assert!(!state.observe(&circuit, Source::Observed, now));
    assert!(state.observe(&addr("/ip4/1.2.3.4/tcp/1"), Source::Observed, now));
    let mut lab = Candidates::<u64>::new(config(1).with_private_addrs(true));
    assert!(lab.observe(&addr("/ip4/127.0.0.1/tcp/1"), Source::Listen, now));
    assert!(!lab.observe(&addr("/ip4/0.0.0.0/tcp/1"), Source::Listen, now));
}

#[test]
fn candidates_are_capped_evicting_the_stalest_observation() {
    let mut state = Candidates::<u64>::new(config(1).with_max_candidates(2));
    let start = Instant::now();
    assert!(state.observe(&addr("/ip4/1.1.1.1/tcp/1"), Source::Observed, start));
    assert!(state.observe(&addr("/ip4/2.2.2.2/tcp/1"), Source::Listen, start));
    assert!(state.observe(&addr("/ip4/3.3.3.3/tcp/1"), Source::Observed, start + Duration::from_secs(1)));
    assert_eq!(state.len(), 2);
    assert_eq!(state.status(&addr("/ip4/1.1.1.1/tcp/1")), None);
    // Nothing evictable left (a listen address and one being tested).
    state.next_probe(start, &[PeerId::random()], 1).unwrap();
    assert!(!state.observe(&addr("/ip4/4.4.4.4/tcp/1"), Source::Observed, start));
}

#[test]
fn two_distinct_servers_confirm_an_address() {
    let mut state = Candidates::<u64>::new(config(2));
    let (a, b) = (PeerId::random(), PeerId::random());
    let target = addr("/ip4/1.2.3.4/tcp/1");
    let now = Instant::now();
    state.observe(&target, Source::Observed, now);
    assert!(round(&mut state, now, &[a], 1, true, ok()).is_empty());
    assert_eq!(state.reachability(), Reachability::Unknown);
    // A has counted: it is not asked again about the address, B is.
    assert_eq!(state.next_probe(now + Duration::from_mins(1), &[a], 2), None);
    let later = now + Duration::from_mins(1);
    assert_eq!(round(&mut state, later, &[a, b], 3, true, ok()), [Change::Reachable(target.clone())]);
    assert_eq!(state.status(&target), Some(Status::Reachable));
    assert_eq!(state.reachability(), Reachability::Public);
}

#[test]
fn a_reported_success_without_our_nonce_counts_for_nothing() {
    let mut state = Candidates::<u64>::new(config(1));
    let now = Instant::now();
    state.observe(&addr("/ip4/1.2.3.4/tcp/1"), Source::Observed, now);
    let probe = state.next_probe(now, &[PeerId::random()], 7).unwrap();
    state.request_sent(7, REQUEST);
    assert!(!state.dial_back(8, DIAL_BACK, false), "a nonce we did not send");
    let (tested, changes) = state.finish(probe.nonce, ok(), now);
    assert!(!tested.unwrap().verified);
    assert!(changes.is_empty());
    assert_eq!(state.reachability(), Reachability::Unknown);
    assert!(!state.dial_back(7, DIAL_BACK, false), "finished: no longer pending");
}

#[test]
fn our_nonce_on_the_request_connection_or_over_a_relay_counts_for_nothing() {
    let mut state = Candidates::<u64>::new(config(1));
    let now = Instant::now();
    state.observe(&addr("/ip4/1.2.3.4/tcp/1"), Source::Observed, now);
    let probe = state.next_probe(now, &[PeerId::random()], 7).unwrap();
    assert!(!state.dial_back(7, DIAL_BACK, false), "the request has not gone out yet");
    state.request_sent(7, REQUEST);
    assert!(!state.dial_back(7, REQUEST, false), "sent back where it came from");
    assert!(!state.dial_back(7, DIAL_BACK, true), "over a relay");
    assert!(!state.dial_back_received(7));
    let (tested, changes) = state.finish(probe.nonce, ok(), now);
    assert!(!tested.unwrap().verified);
    assert!(changes.is_empty());
    // The same nonce on a new direct connection counts.
    state.next_probe(now + Duration::from_mins(1), &[PeerId::random()], 9).unwrap();
    state.request_sent(9, REQUEST);
    assert!(state.dial_back(9, DIAL_BACK, false));
}

#[test]
fn an_observed_address_needs_observers_from_distinct_ip_groups() {
    let mut state = Candidates::<u64>::new(config(1));
    let now = Instant::now();
    let target = addr("/ip4/1.2.3.4/tcp/1");
    let group = |text: &str| IpGroup::of(text.parse().unwrap());
    let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
    assert!(!state.observed_by(&target, a, group("5.5.5.5"), now));
    assert!(!state.observed_by(&target, a, group("6.6.6.6"), now), "the same peer again");
    assert!(!state.observed_by(&target, b, group("6.6.6.6"), now), "another peer, the same IP as a's last");
    assert_eq!(state.len(), 0);
    assert!(state.observed_by(&target, c, group("7.7.7.7"), now));
    assert_eq!(state.status(&target), Some(Status::Unknown));
    // Seen again by one peer: still a candidate.
    assert!(state.observed_by(&target, a, group("5.5.5.5"), now));
    // IPv6: one /56 is one observer; IPv4-mapped is IPv4.
    assert_eq!(group("2001:db8:0:1::1"), group("2001:db8:0:2::9"));
    assert_ne!(group("2001:db8:0:100::1"), group("2001:db8:0:200::1"));
    assert_eq!(group("::ffff:5.5.5.5"), group("5.5.5.5"));
    // One observer is enough when configured so.
    let mut lab = Candidates::<u64>::new(config(1).with_min_observers(1));
    assert!(lab.observed_by(&target, a, group("5.5.5.5"), now));
}

#[test]
fn one_peer_cannot_flood_the_candidates() {
    let mut state = Candidates::<u64>::new(config(1).with_max_candidates(4));
    let start = Instant::now();
    let liar = PeerId::random();
    let group = IpGroup::of("5.5.5.5".parse().unwrap());
    for i in 0..100u8 {
        let now = start + Duration::from_secs(u64::from(i));
        assert!(!state.observed_by(&addr(&format!("/ip4/9.9.9.{i}/tcp/1")), liar, group, now));
    }
    assert_eq!(state.len(), 0);
    assert!(state.sightings.len() <= 4, "{}", state.sightings.len());
    // Kept aside sightings expire.
    state.expire(start + Duration::from_mins(10));
    assert!(state.sightings.is_empty());
}

#[test]
fn eviction_spares_reachable_addresses_only() {
    let mut state = Candidates::<u64>::new(config(1).with_max_candidates(2));
    let start = Instant::now();
    let (reachable, unreachable) = (addr("/ip4/1.1.1.1/tcp/1"), addr("/ip4/2.2.2.2/tcp/1"));
    state.observe(&reachable, Source::Observed, start);
    round(&mut state, start, &[PeerId::random()], 1, true, ok());
    state.observe(&unreachable, Source::Observed, start + Duration::from_secs(1));
    round(&mut state, start, &[PeerId::random()], 2, false, dial_error());
    assert_eq!(state.status(&unreachable), Some(Status::Unreachable));
    // The reachable one is the stalest, but the unreachable one goes.
    assert!(state.observe(&addr("/ip4/3.3.3.3/tcp/1"), Source::Observed, start + Duration::from_secs(2)));
    assert_eq!(state.status(&reachable), Some(Status::Reachable));
    assert_eq!(state.status(&unreachable), None);
}

#[test]
fn unreachable_observed_addresses_not_seen_again_are_forgotten() {
    let mut state = Candidates::<u64>::new(config(1));
    let start = Instant::now();
    let (observed, listen) = (addr("/ip4/1.1.1.1/tcp/1"), addr("/ip4/2.2.2.2/tcp/1"));
    state.observe(&observed, Source::Observed, start);
    state.observe(&listen, Source::Listen, start);
    let servers = [PeerId::random()];
    let probe = state.next_probe(start, &servers, 1).unwrap();
    assert_eq!(probe.addrs, [observed.clone(), listen.clone()]);
    state.finish(1, dial_error(), start);
    let probe = state.next_probe(start + Duration::from_mins(1), &servers, 2).unwrap();
    assert_eq!(probe.addrs[0], listen);
    let outcome = Outcome::Dialed { addr_idx: 0, dial_status: DialStatus::DialError };
    state.finish(2, outcome, start + Duration::from_mins(1));
    assert_eq!(state.reachability(), Reachability::Private);
    assert!(state.expire(start + Duration::from_secs(179)).is_empty());
    assert_eq!(state.status(&observed), Some(Status::Unreachable));
    assert!(state.expire(start + Duration::from_mins(3)).is_empty());
    assert_eq!(state.status(&observed), None, "unreachable, observed, not seen for expire_after");
    assert_eq!(state.status(&listen), Some(Status::Unreachable), "listen addresses stay");
}

#[test]
fn due_retests_of_reachable_addresses_go_first() {
    let mut state = Candidates::<u64>::new(config(1).with_max_in_flight(4));
    let start = Instant::now();
    let (confirmed, refuted, new) =
        (addr("/ip4/1.1.1.1/tcp/1"), addr("/ip4/2.2.2.2/tcp/1"), addr("/ip4/3.3.3.3/tcp/1"));
    state.observe(&refuted, Source::Observed, start);
    round(&mut state, start, &[PeerId::random()], 1, false, dial_error());
    state.observe(&confirmed, Source::Observed, start);
    round(&mut state, start, &[PeerId::random()], 2, true, ok());
    state.observe(&new, Source::Observed, start);
    let later = start + Duration::from_mins(1);
    let probe = state.next_probe(later, &[PeerId::random()], 3).unwrap();
    assert_eq!(probe.addrs, [confirmed, new, refuted]);
}

#[test]
fn dial_errors_refute_and_a_dial_back_error_with_our_nonce_confirms() {
    let mut state = Candidates::<u64>::new(config(1));
    let target = addr("/ip4/1.2.3.4/tcp/1");
    let now = Instant::now();
    state.observe(&target, Source::Observed, now);
    let changes = round(&mut state, now, &[PeerId::random()], 1, false, dial_error());
    assert_eq!(changes, [Change::Unreachable { addr: target.clone(), was_reachable: false }]);
    assert_eq!(state.reachability(), Reachability::Private);
    let later = now + Duration::from_mins(1);
    let outcome = Outcome::Dialed { addr_idx: 0, dial_status: DialStatus::DialBackError };
    assert_eq!(round(&mut state, later, &[PeerId::random()], 2, true, outcome), [Change::Reachable(target)]);
}

#[test]
fn refusals_and_failures_are_no_verdict_and_free_the_address() {
    let mut state = Candidates::<u64>::new(config(1));
    let now = Instant::now();
    state.observe(&addr("/ip4/1.2.3.4/tcp/1"), Source::Observed, now);
    let (a, b) = (PeerId::random(), PeerId::random());
    assert!(round(&mut state, now, &[a], 1, false, Outcome::NoVerdict).is_empty());
    // A cools down; B is asked at once about the same address.
    assert_eq!(state.next_probe(now, &[a], 2), None);
    assert_eq!(state.next_probe(now, &[a, b], 2).unwrap().server, b);
    // An index outside the request is no verdict either.
    let (tested, changes) = state.finish(2, Outcome::Dialed { addr_idx: 5, dial_status: DialStatus::Ok }, now);
    assert!(tested.is_none() && changes.is_empty());
}

#[test]
fn one_server_cannot_flip_a_verdict_alone() {
    let mut state = Candidates::<u64>::new(config(2));
    let target = addr("/ip4/1.2.3.4/tcp/1");
    let (a, b, liar) = (PeerId::random(), PeerId::random(), PeerId::random());
    let mut now = Instant::now();
    state.observe(&target, Source::Observed, now);
    round(&mut state, now, &[a], 1, true, ok());
    round(&mut state, now, &[b], 2, true, ok());
    assert_eq!(state.status(&target), Some(Status::Reachable));
    now += Duration::from_mins(1);
    assert!(round(&mut state, now, &[liar], 3, false, dial_error()).is_empty());
    assert_eq!(state.status(&target), Some(Status::Reachable));
    now += Duration::from_mins(1);
    let changes = round(&mut state, now, &[a], 4, false, dial_error());
    assert_eq!(changes, [Change::Unreachable { addr: target, was_reachable: true }]);
}

#[test]
fn confirmed_addresses_are_retested_and_expire() {
    let mut state = Candidates::<u64>::new(config(1));
    let target = addr("/ip4/1.2.3.4/tcp/1");
    let server = PeerId::random();
    let start = Instant::now();
    state.observe(&target, Source::Observed, start);
    round(&mut state, start, &[server], 1, true, ok());
    // Not due before the retest interval, due at it.
    assert_eq!(state.next_deadline(start), Some(start + Duration::from_secs(10))); // the cooldown
    assert_eq!(state.next_probe(start + Duration::from_secs(30), &[server], 2), None);
    let retest = start + Duration::from_mins(1);
    assert_eq!(state.next_deadline(start + Duration::from_secs(30)), Some(retest));
    let probe = state.next_probe(retest, &[server], 3).unwrap();
    assert_eq!(probe.addrs, std::slice::from_ref(&target));
    state.finish(3, Outcome::NoVerdict, retest);
    // The retest is due (no server answered) and the server's cooldown
    // over: the expiry is what is ahead.
    let cooled = retest + Duration::from_secs(10);
    assert_eq!(state.next_deadline(cooled), Some(start + Duration::from_mins(3)));
    assert!(state.expire(start + Duration::from_secs(179)).is_empty());
    assert_eq!(state.expire(start + Duration::from_mins(3)), [Change::Expired(target.clone())]);
    assert_eq!(state.status(&target), Some(Status::Unknown));
    assert_eq!(state.reachability(), Reachability::Unknown);
}

#[test]
fn requests_in_flight_are_capped_and_carry_fallbacks() {
    let mut state = Candidates::<u64>::new(config(1).with_max_in_flight(1).with_max_addrs_per_request(2));
    let now = Instant::now();
    for text in ["/ip4/1.1.1.1/tcp/1", "/ip4/2.2.2.2/tcp/1", "/ip4/3.3.3.3/tcp/1"] {
        state.observe(&addr(text), Source::Observed, now);
    }
    let probe = state.next_probe(now, &[PeerId::random(), PeerId::random()], 1).unwrap();
    assert_eq!(probe.addrs, [addr("/ip4/1.1.1.1/tcp/1"), addr("/ip4/2.2.2.2/tcp/1")]);
    assert_eq!(state.next_probe(now, &[PeerId::random()], 2), None);
    assert_eq!(state.in_flight(), 1);
    // The server dialed the fallback.
    let (tested, changes) = state.finish(1, Outcome::Dialed { addr_idx: 1, dial_status: DialStatus::DialError }, now);
    assert_eq!(tested.unwrap().addr, addr("/ip4/2.2.2.2/tcp/1"));
    assert_eq!(changes.len(), 1);
}
