#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::unnecessary_wraps)]

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use strata_core::PeerId;
use strata_pubsub::MessageId;

use super::{PeerScore, ScoreParams, Thresholds, TopicScoreParams, decay_to_zero_in};

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn scored(params: ScoreParams) -> (PeerScore, PeerId) {
    let mut score = PeerScore::new(Some((params, Thresholds::default())), Duration::from_mins(2));
    let peer = PeerId::random();
    score.add_peer(peer, ip("10.0.0.1"));
    (score, peer)
}

fn id(n: u8) -> MessageId {
    MessageId::new(vec![n])
}

#[test]
fn invalid_messages_count_squared_and_three_reach_the_graylist() {
    let (mut score, peer) = scored(ScoreParams::default());
    let now = Instant::now();
    let thresholds = Thresholds::default();
    score.invalid(peer, "t");
    assert_eq!(score.score(peer, now), -10.0, "P4: 1² × −10");
    assert!(score.score(peer, now) >= thresholds.gossip, "one is not yet under the gossip threshold");
    score.invalid(peer, "t");
    assert_eq!(score.score(peer, now), -40.0, "two: under the gossip threshold, not the publish one");
    assert!(score.score(peer, now) < thresholds.gossip && score.score(peer, now) >= thresholds.publish);
    score.invalid(peer, "t");
    assert_eq!(score.score(peer, now), -90.0);
    assert!(score.score(peer, now) < thresholds.graylist);
}

#[test]
fn time_in_mesh_grows_to_its_cap() {
    let (mut score, peer) = scored(ScoreParams::default());
    let now = Instant::now();
    score.graft(peer, "t", now);
    let p1 = |secs| score.score(peer, now + Duration::from_secs(secs));
    assert!((p1(50) - 0.5).abs() < 1e-9, "50 quanta × 0.01");
    assert!((p1(1000) - 1.0).abs() < 1e-9, "capped at 100 quanta");
}

#[test]
fn first_deliveries_count_on_acceptance_and_decay() {
    let (mut score, peer) = scored(ScoreParams::default());
    let now = Instant::now();
    for n in 0..3 {
        score.validating(peer, &id(n), "t", now);
        assert_eq!(score.score(peer, now), f64::from(n), "nothing before the verdict");
        score.accepted(&id(n), now);
    }
    assert_eq!(score.score(peer, now), 3.0);
    let decay = decay_to_zero_in(Duration::from_mins(10), Duration::from_secs(1));
    score.refresh(now);
    score.refresh(now + Duration::from_secs(10));
    assert!((score.score(peer, now) - 3.0 * decay.powi(10)).abs() < 1e-9, "ten intervals of decay");
    score.refresh(now + Duration::from_hours(1));
    assert_eq!(score.score(peer, now), 0.0, "decayed to zero");
}

#[test]
fn a_rejected_message_penalises_its_sender_and_every_copy_and_an_ignored_one_nobody() {
    let (mut score, first) = scored(ScoreParams::default());
    let copier = PeerId::random();
    score.add_peer(copier, ip("10.0.0.2"));
    let now = Instant::now();
    score.validating(first, &id(1), "t", now);
    score.duplicate(copier, &id(1), now);
    score.rejected(&id(1));
    assert_eq!(score.score(first, now), -10.0);
    assert_eq!(score.score(copier, now), -10.0);
    let late = PeerId::random();
    score.add_peer(late, ip("10.0.0.3"));
    score.duplicate(late, &id(1), now);
    assert_eq!(score.score(late, now), -10.0, "a copy of a known-invalid message");

    score.validating(first, &id(2), "t", now);
    score.duplicate(copier, &id(2), now);
    score.ignored(&id(2));
    assert_eq!(score.score(first, now), -10.0, "unchanged");
    assert_eq!(score.score(copier, now), -10.0, "unchanged");
}

#[test]
fn peers_on_one_ip_past_the_threshold_are_penalised_except_on_loopback() {
    let params = ScoreParams::default();
    let mut score = PeerScore::new(Some((params, Thresholds::default())), Duration::from_mins(2));
    let sybils: Vec<PeerId> = (0..5).map(|_| PeerId::random()).collect();
    for peer in &sybils {
        score.add_peer(*peer, ip("203.0.113.7"));
    }
    let now = Instant::now();
    for peer in &sybils {
        assert_eq!(score.score(*peer, now), -40.0, "(5 − 3)² × −10");
    }
    let local: Vec<PeerId> = (0..5).map(|_| PeerId::random()).collect();
    for peer in &local {
        score.add_peer(*peer, ip("127.0.0.1"));
    }
    assert!(local.iter().all(|peer| score.score(*peer, now) == 0.0), "loopback is whitelisted");
    score.remove_peer(sybils[0], now);
    score.remove_peer(sybils[1], now);
    assert_eq!(score.score(sybils[2], now), 0.0, "three left: at the threshold");
}

#[test]
fn behaviour_penalties_count_past_the_threshold() {
    let (mut score, peer) = scored(ScoreParams::default());
    let now = Instant::now();
    score.penalize(peer, 5.0);
    assert_eq!(score.score(peer, now), 0.0, "5 tolerated");
    score.penalize(peer, 3.0);
    assert_eq!(score.score(peer, now), -90.0, "(8 − 5)² × −10");
}

#[test]
fn mesh_delivery_deficits_count_once_active_and_become_a_failure_penalty() {
    let topic = TopicScoreParams {
        time_in_mesh_weight: 0.0,
        mesh_message_deliveries_weight: -1.0,
        mesh_message_deliveries_threshold: 4.0,
        mesh_failure_penalty_weight: -1.0,
        ..TopicScoreParams::default()
    };
    let (mut score, peer) = scored(ScoreParams { default_topic: Some(topic), ..ScoreParams::default() });
    let now = Instant::now();
    score.graft(peer, "t", now);
    assert_eq!(score.score(peer, now + Duration::from_secs(1)), 0.0, "not active yet");
    let active = now + Duration::from_secs(6);
    assert_eq!(score.score(peer, active), -16.0, "deficit 4, squared");
    score.validating(peer, &id(1), "t", active);
    score.accepted(&id(1), active);
    assert_eq!(score.score(peer, active), 1.0 - 9.0, "P2 +1, deficit 3 squared");
    score.prune(peer, "t", active);
    assert_eq!(score.score(peer, active), 1.0 - 9.0, "the deficit is now a P3b penalty");
}

#[test]
fn a_copy_within_the_window_counts_for_the_mesh_and_a_late_one_does_not() {
    let topic = TopicScoreParams {
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: -1.0,
        mesh_message_deliveries_threshold: 2.0,
        mesh_message_deliveries_activation: Duration::ZERO,
        ..TopicScoreParams::default()
    };
    let params = ScoreParams { default_topic: Some(topic), ..ScoreParams::default() };
    let (mut score, first) = scored(params);
    let other = PeerId::random();
    score.add_peer(other, ip("10.0.0.2"));
    let now = Instant::now();
    score.graft(other, "t", now);
    for (n, delay) in [(1, 5), (2, 50)] {
        score.validating(first, &id(n), "t", now);
        score.accepted(&id(n), now);
        score.duplicate(other, &id(n), now + Duration::from_millis(delay));
    }
    assert_eq!(score.score(other, now), -1.0, "one of two copies in the 10 ms window: deficit 1");
}

#[test]
fn a_negative_score_outlives_a_reconnect_and_a_clean_one_is_forgotten() {
    let (mut score, bad) = scored(ScoreParams::default());
    let good = PeerId::random();
    score.add_peer(good, ip("10.0.0.2"));
    let now = Instant::now();
    score.invalid(bad, "t");
    score.remove_peer(bad, now);
    score.remove_peer(good, now);
    assert!(score.is_kept(bad));
    assert!(!score.is_kept(good));
    score.add_peer(bad, ip("10.0.0.1"));
    assert_eq!(score.score(bad, now), -10.0, "the penalty came back with it");
    score.remove_peer(bad, now);
    score.refresh(now + Duration::from_hours(2));
    assert!(!score.is_kept(bad), "forgotten after retain_score");
}

#[test]
fn parameters_against_the_spec_rules_are_refused() {
    assert!(ScoreParams::default().validate().is_ok());
    assert!(Thresholds::default().validate().is_ok());
    let bad = Thresholds { graylist: 0.0, ..Thresholds::default() };
    assert!(bad.validate().is_err());
    let bad = ScoreParams {
        default_topic: Some(TopicScoreParams { invalid_message_deliveries_weight: 1.0, ..TopicScoreParams::default() }),
        ..ScoreParams::default()
    };
    assert!(bad.validate().is_err());
    let bad = TopicScoreParams { first_message_deliveries_decay: 1.5, ..TopicScoreParams::default() };
    assert!(bad.validate().is_err());
}
