//! The hop state's limits at their defaults and small ones, on a fake
//! clock.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 0, last))
}

/// An IP of its own for each of `n` peers (so that the per-IP limit stays out of the way).
fn ip_of(n: usize) -> IpAddr {
    let n = u32::try_from(n).unwrap();
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

#[test]
fn the_129th_reservation_is_refused_at_the_defaults() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default());
    for n in 0..128 {
        state.reserve(PeerId::random(), Some(ip_of(n)), now).unwrap();
    }
    assert_eq!(state.reserve(PeerId::random(), Some(ip_of(128)), now), Err(Status::ReservationRefused));
    assert_eq!(state.reservation_count(), 128);
}

#[test]
fn the_ninth_reservation_from_one_ip_is_refused_at_the_defaults() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default());
    for _ in 0..8 {
        state.reserve(PeerId::random(), Some(ip(1)), now).unwrap();
    }
    assert_eq!(state.reserve(PeerId::random(), Some(ip(1)), now), Err(Status::ReservationRefused));
    // Another IP still gets one.
    assert!(state.reserve(PeerId::random(), Some(ip(2)), now).is_ok());
}

#[test]
fn a_renewal_takes_no_new_slot_and_extends_the_expiry() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default().with_max_reservations(1));
    let peer = PeerId::random();
    let first = state.reserve(peer, Some(ip(1)), now).unwrap();
    assert_eq!(first, now + Duration::from_hours(1));
    let later = now + Duration::from_mins(50);
    assert_eq!(state.reserve(peer, Some(ip(1)), later).unwrap(), later + Duration::from_hours(1));
    assert_eq!(state.reservation_count(), 1);
}

#[test]
fn reservations_expire_after_the_ttl_and_free_their_slots() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default().with_max_reservations(1).with_max_reservations_per_ip(1));
    let (a, b) = (PeerId::random(), PeerId::random());
    state.reserve(a, Some(ip(1)), now).unwrap();
    assert_eq!(state.reserve(b, Some(ip(1)), now), Err(Status::ReservationRefused));
    let just_before = now + Duration::from_mins(59) + Duration::from_millis(59_999);
    assert!(state.has_reservation(a, just_before));
    assert_eq!(state.connect(b, a, just_before).map(|_| ()), Ok(()));
    let expired = now + Duration::from_hours(1);
    assert!(!state.has_reservation(a, expired));
    assert_eq!(state.connect(b, a, expired), Err(Status::NoReservation));
    assert!(state.reserve(b, Some(ip(1)), expired).is_ok());
}

#[test]
fn a_disconnect_ends_the_reservation() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default());
    let (a, b) = (PeerId::random(), PeerId::random());
    state.reserve(a, Some(ip(1)), now).unwrap();
    state.disconnected(a);
    assert_eq!(state.connect(b, a, now), Err(Status::NoReservation));
    assert_eq!(state.reservation_count(), 0);
}

#[test]
fn connect_without_reservation_is_no_reservation() {
    let mut state = HopState::new(&Config::default());
    assert_eq!(state.connect(PeerId::random(), PeerId::random(), Instant::now()), Err(Status::NoReservation));
}

#[test]
fn the_17th_circuit_is_refused_at_the_defaults_and_a_closed_one_frees_a_slot() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default());
    let targets: Vec<PeerId> = (0..16).map(|_| PeerId::random()).collect();
    for (n, target) in targets.iter().enumerate() {
        state.reserve(*target, Some(ip_of(n)), now).unwrap();
    }
    let extra = PeerId::random();
    state.reserve(extra, Some(ip_of(99)), now).unwrap();
    let ids: Vec<CircuitId> = targets.iter().map(|t| state.connect(PeerId::random(), *t, now).unwrap()).collect();
    assert_eq!(state.circuit_count(), 16);
    assert_eq!(state.connect(PeerId::random(), extra, now), Err(Status::ResourceLimitExceeded));
    state.circuit_closed(ids[0]);
    state.circuit_closed(ids[0]); // twice is harmless
    assert_eq!(state.circuit_count(), 15);
    assert!(state.connect(PeerId::random(), extra, now).is_ok());
}

#[test]
fn circuits_per_peer_are_bounded() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default().with_max_circuits_per_peer(2));
    let target = PeerId::random();
    state.reserve(target, Some(ip(1)), now).unwrap();
    let first = state.connect(PeerId::random(), target, now).unwrap();
    state.connect(PeerId::random(), target, now).unwrap();
    assert_eq!(state.connect(PeerId::random(), target, now), Err(Status::ResourceLimitExceeded));
    state.circuit_closed(first);
    assert!(state.connect(PeerId::random(), target, now).is_ok());
}

#[test]
fn peers_without_an_ip_count_only_globally() {
    let now = Instant::now();
    let mut state = HopState::new(&Config::default().with_max_reservations_per_ip(0).with_max_reservations(2));
    state.reserve(PeerId::random(), None, now).unwrap();
    state.reserve(PeerId::random(), None, now).unwrap();
    assert_eq!(state.reserve(PeerId::random(), None, now), Err(Status::ReservationRefused));
    assert_eq!(state.reserve(PeerId::random(), Some(ip(1)), now), Err(Status::ReservationRefused));
}
