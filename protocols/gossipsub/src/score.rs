//! Peer scoring (`libp2p-gossipsub-v1.1.md` "Peer Scoring"): what each
//! peer did, counted per topic, decayed over time, and summed into one
//! number the router compares with its [`Thresholds`].
//!
//! ```text
//! router events ─▶ PeerScore
//!   graft / prune ───────────────▶ P1 time in mesh, P3b mesh failure penalty
//!   first copy ─▶ validating ─▶ accepted ─▶ P2 first deliveries, P3 mesh deliveries
//!                             └▶ rejected ─▶ P4 invalid messages (sender and every
//!                                            peer that sent a copy meanwhile)
//!   duplicate (within the window) ─▶ P3;  copy of a rejected message ─▶ P4
//!   application ─▶ P5;  connection IPs ─▶ P6;  GRAFT in backoff, broken IWANT promise ─▶ P7
//! refresh (each heartbeat): counters decay every decay interval; the scores of
//!   peers gone longer than retain_score, and delivery records past their TTL, are dropped
//! ```
//!
//! Only topics we are subscribed to are counted (the router asks), so a
//! peer cannot grow this state with topics of its own choosing.
//!
//! All score state is here, behind `PeerScore`'s methods: the router
//! tells it what happened and asks for scores and thresholds. With scoring
//! off it keeps nothing, every score is 0 and the thresholds are the
//! defaults (all at or below 0, so nobody is cut off).

mod params;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::IpAddr,
    time::{Duration, Instant},
};

pub use params::{InvalidParams, ScoreParams, Thresholds, TopicScoreParams, decay_to_zero_in};
use strata_core::PeerId;
use strata_pubsub::MessageId;

/// How many message delivery records are kept at most.
const MAX_DELIVERIES: usize = 100_000;

/// How many disconnected peers' scores are kept at most.
const MAX_KEPT: usize = 10_000;

/// What one peer did in one topic.
#[derive(Debug, Default)]
struct TopicStats {
    /// In our mesh since.
    mesh_since: Option<Instant>,
    first_deliveries: f64,
    mesh_deliveries: f64,
    mesh_failure_penalty: f64,
    invalid_deliveries: f64,
}

#[derive(Debug, Default)]
struct PeerStats {
    /// `None` while connected; when disconnected, until when it is kept.
    expires: Option<Instant>,
    ip: Option<IpAddr>,
    topics: HashMap<String, TopicStats>,
    behaviour_penalty: f64,
    application: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Validating,
    Valid,
    Invalid,
    Ignored,
}

/// A message's deliveries: who sent it first, and who sent copies.
#[derive(Debug)]
struct Delivery {
    topic: String,
    status: Status,
    first_from: PeerId,
    /// When it was found valid (copies within the window after count).
    validated: Option<Instant>,
    /// Peers that sent copies (the first sender excluded).
    copies: HashSet<PeerId>,
}

/// The scores of the peers we know (nothing, with scoring off).
#[derive(Debug)]
pub(crate) struct PeerScore {
    /// `None`: scoring is off.
    params: Option<ScoreParams>,
    thresholds: Thresholds,
    peers: HashMap<PeerId, PeerStats>,
    /// Connected peers per IP (for P6).
    ips: HashMap<IpAddr, HashSet<PeerId>>,
    deliveries: HashMap<MessageId, Delivery>,
    /// Delivery records, oldest first, for expiry.
    delivery_order: VecDeque<(Instant, MessageId)>,
    delivery_ttl: Duration,
    last_decay: Option<Instant>,
    /// Disconnected peers whose scores are kept.
    kept: usize,
}

impl PeerScore {
    pub(crate) fn new(scoring: Option<(ScoreParams, Thresholds)>, delivery_ttl: Duration) -> Self {
        let (params, thresholds) = match scoring {
            Some((params, thresholds)) => (Some(params), thresholds),
            None => (None, Thresholds::default()),
        };
        Self {
            params,
            thresholds,
            peers: HashMap::new(),
            ips: HashMap::new(),
            deliveries: HashMap::new(),
            delivery_order: VecDeque::new(),
            delivery_ttl,
            last_decay: None,
            kept: 0,
        }
    }

    /// The thresholds scores are compared with.
    pub(crate) fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    fn topic_params(&self, topic: &str) -> Option<&TopicScoreParams> {
        let params = self.params.as_ref()?;
        params.topics.get(topic).or(params.default_topic.as_ref())
    }

    /// The score of `peer` now; 0 for a peer never seen, or scoring off.
    pub(crate) fn score(&self, peer: PeerId, now: Instant) -> f64 {
        let (Some(params), Some(stats)) = (&self.params, self.peers.get(&peer)) else { return 0.0 };
        let mut topics = 0.0;
        for (topic, t) in &stats.topics {
            let Some(p) = self.topic_params(topic) else { continue };
            let mut topic_score = 0.0;
            if let Some(since) = t.mesh_since {
                let quanta = now.saturating_duration_since(since).as_secs_f64() / p.time_in_mesh_quantum.as_secs_f64();
                topic_score += quanta.min(p.time_in_mesh_cap) * p.time_in_mesh_weight;
                if now.saturating_duration_since(since) >= p.mesh_message_deliveries_activation
                    && t.mesh_deliveries < p.mesh_message_deliveries_threshold
                {
                    let deficit = p.mesh_message_deliveries_threshold - t.mesh_deliveries;
                    topic_score += deficit * deficit * p.mesh_message_deliveries_weight;
                }
            }
            topic_score += t.first_deliveries * p.first_message_deliveries_weight;
            topic_score += t.mesh_failure_penalty * p.mesh_failure_penalty_weight;
            topic_score += t.invalid_deliveries * t.invalid_deliveries * p.invalid_message_deliveries_weight;
            topics += topic_score * p.topic_weight;
        }
        let mut score = topics.min(params.topic_score_cap);
        score += stats.application * params.app_specific_weight;
        score += self.colocation(params, stats) * params.ip_colocation_factor_weight;
        let excess = stats.behaviour_penalty - params.behaviour_penalty_threshold;
        if excess > 0.0 {
            score += excess * excess * params.behaviour_penalty_weight;
        }
        score
    }

    /// P6: the squared surplus of peers on this peer's IP.
    fn colocation(&self, params: &ScoreParams, stats: &PeerStats) -> f64 {
        let Some(ip) = stats.ip else { return 0.0 };
        if params.ip_colocation_factor_whitelist.iter().any(|range| range.contains(ip)) {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)] // peer counts are far below 2^52
        let count = self.ips.get(&ip).map_or(0, HashSet::len) as f64;
        let surplus = count - params.ip_colocation_factor_threshold;
        if surplus > 0.0 { surplus * surplus } else { 0.0 }
    }

    /// A peer connected from `ip`: its kept score, if any, is its score again.
    pub(crate) fn add_peer(&mut self, peer: PeerId, ip: Option<IpAddr>) {
        if self.params.is_none() {
            return;
        }
        let stats = self.peers.entry(peer).or_default();
        if stats.expires.take().is_some() {
            self.kept -= 1;
        }
        stats.ip = ip;
        if let Some(ip) = ip {
            self.ips.entry(ip).or_default().insert(peer);
        }
    }

    /// A peer left: its mesh memberships end (with their P3b penalty). A
    /// negative score is kept for `retain_score`, so that reconnecting
    /// does not clear it (at most [`MAX_KEPT`] of them); any other is
    /// forgotten.
    pub(crate) fn remove_peer(&mut self, peer: PeerId, now: Instant) {
        let topics: Vec<String> = self.peers.get(&peer).map(|s| s.topics.keys().cloned().collect()).unwrap_or_default();
        for topic in topics {
            self.prune(peer, &topic, now);
        }
        let Some(ip) = self.peers.get(&peer).map(|stats| stats.ip) else { return };
        let keep = self.score(peer, now) < 0.0 && self.kept < MAX_KEPT;
        if let Some(ip) = ip
            && let Some(peers) = self.ips.get_mut(&ip)
        {
            peers.remove(&peer);
            if peers.is_empty() {
                self.ips.remove(&ip);
            }
        }
        let retain = self.params.as_ref().map_or(Duration::ZERO, |params| params.retain_score);
        if keep && let Some(stats) = self.peers.get_mut(&peer) {
            stats.expires = Some(now + retain);
            self.kept += 1;
        } else {
            self.peers.remove(&peer);
        }
    }

    fn topic_stats(&mut self, peer: PeerId, topic: &str) -> Option<&mut TopicStats> {
        self.topic_params(topic)?;
        Some(self.peers.get_mut(&peer)?.topics.entry(topic.to_owned()).or_default())
    }

    pub(crate) fn graft(&mut self, peer: PeerId, topic: &str, now: Instant) {
        if let Some(stats) = self.topic_stats(peer, topic) {
            stats.mesh_since = Some(now);
            stats.mesh_deliveries = 0.0;
        }
    }

    /// `peer` left our mesh of `topic`: a P3 deficit becomes a P3b penalty.
    pub(crate) fn prune(&mut self, peer: PeerId, topic: &str, now: Instant) {
        let Some(p) = self.topic_params(topic).cloned() else { return };
        let Some(stats) = self.peers.get_mut(&peer).and_then(|s| s.topics.get_mut(topic)) else { return };
        let Some(since) = stats.mesh_since.take() else { return };
        let active = now.saturating_duration_since(since) >= p.mesh_message_deliveries_activation;
        if active && stats.mesh_deliveries < p.mesh_message_deliveries_threshold {
            let deficit = p.mesh_message_deliveries_threshold - stats.mesh_deliveries;
            stats.mesh_failure_penalty += deficit * deficit;
        }
    }

    /// The first copy of a message, from `from`, before validation.
    pub(crate) fn validating(&mut self, from: PeerId, id: &MessageId, topic: &str, now: Instant) {
        if self.params.is_none() {
            return;
        }
        if self.deliveries.len() >= MAX_DELIVERIES
            && let Some((_, oldest)) = self.delivery_order.pop_front()
        {
            self.deliveries.remove(&oldest);
        }
        let delivery = Delivery {
            topic: topic.to_owned(),
            status: Status::Validating,
            first_from: from,
            validated: None,
            copies: HashSet::new(),
        };
        self.deliveries.insert(id.clone(), delivery);
        self.delivery_order.push_back((now, id.clone()));
    }

    /// A copy of a message already seen.
    pub(crate) fn duplicate(&mut self, from: PeerId, id: &MessageId, now: Instant) {
        let Some(delivery) = self.deliveries.get_mut(id) else { return };
        if delivery.first_from == from || !delivery.copies.insert(from) {
            return;
        }
        let (status, validated, topic) = (delivery.status, delivery.validated, delivery.topic.clone());
        match status {
            // Counted when the verdict comes.
            Status::Validating | Status::Ignored => {}
            Status::Valid => {
                let window = self.topic_params(&topic).map(|p| p.mesh_message_deliveries_window);
                let late = validated.zip(window).is_none_or(|(at, window)| now.saturating_duration_since(at) > window);
                if !late {
                    self.mesh_delivery(from, &topic);
                }
            }
            Status::Invalid => self.invalid(from, &topic),
        }
    }

    /// The application accepted a message: its first sender earns P2 (and
    /// P3), the copies that came while it was validated earn P3.
    pub(crate) fn accepted(&mut self, id: &MessageId, now: Instant) {
        let Some(delivery) = self.deliveries.get_mut(id) else { return };
        delivery.status = Status::Valid;
        delivery.validated = Some(now);
        let (first, topic, copies) = (delivery.first_from, delivery.topic.clone(), delivery.copies.clone());
        let cap = self.topic_params(&topic).map_or(0.0, |p| p.first_message_deliveries_cap);
        if let Some(stats) = self.topic_stats(first, &topic) {
            stats.first_deliveries = (stats.first_deliveries + 1.0).min(cap);
        }
        self.mesh_delivery(first, &topic);
        for peer in copies {
            self.mesh_delivery(peer, &topic);
        }
    }

    /// The application rejected a message (or its signature is wrong):
    /// every peer that sent it is penalised.
    pub(crate) fn rejected(&mut self, id: &MessageId) {
        let Some(delivery) = self.deliveries.get_mut(id) else { return };
        delivery.status = Status::Invalid;
        let (first, topic, copies) = (delivery.first_from, delivery.topic.clone(), delivery.copies.clone());
        for peer in std::iter::once(first).chain(copies) {
            self.invalid(peer, &topic);
        }
    }

    /// The application ignored a message: nobody is penalised.
    pub(crate) fn ignored(&mut self, id: &MessageId) {
        if let Some(delivery) = self.deliveries.get_mut(id) {
            delivery.status = Status::Ignored;
        }
    }

    /// `peer` sent an invalid message in `topic` (P4).
    pub(crate) fn invalid(&mut self, peer: PeerId, topic: &str) {
        if let Some(stats) = self.topic_stats(peer, topic) {
            stats.invalid_deliveries += 1.0;
        }
    }

    fn mesh_delivery(&mut self, peer: PeerId, topic: &str) {
        let cap = self.topic_params(topic).map_or(0.0, |p| p.mesh_message_deliveries_cap);
        if let Some(stats) = self.topic_stats(peer, topic)
            && stats.mesh_since.is_some()
        {
            stats.mesh_deliveries = (stats.mesh_deliveries + 1.0).min(cap);
        }
    }

    /// P7: `peer` misbehaved `count` times.
    pub(crate) fn penalize(&mut self, peer: PeerId, count: f64) {
        if let Some(stats) = self.peers.get_mut(&peer) {
            stats.behaviour_penalty += count;
        }
    }

    /// P5: the application's score of `peer`.
    pub(crate) fn set_application_score(&mut self, peer: PeerId, score: f64) -> bool {
        let Some(stats) = self.peers.get_mut(&peer) else { return false };
        stats.application = score;
        true
    }

    /// Decays the counters (once per elapsed decay interval) and drops
    /// expired peers and delivery records.
    pub(crate) fn refresh(&mut self, now: Instant) {
        let Some(interval) = self.params.as_ref().map(|params| params.decay_interval) else { return };
        let last = *self.last_decay.get_or_insert(now);
        let elapsed = now.saturating_duration_since(last);
        if elapsed >= interval {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole intervals, bounded
            let ticks = (elapsed.as_secs_f64() / interval.as_secs_f64()).floor().min(1e6) as i32;
            self.decay(ticks);
            self.last_decay = Some(last + interval * u32::try_from(ticks).unwrap_or(u32::MAX));
        }
        let before = self.peers.len();
        self.peers.retain(|_, stats| stats.expires.is_none_or(|expires| expires > now));
        self.kept -= before - self.peers.len();
        while let Some((at, id)) = self.delivery_order.front() {
            if now.saturating_duration_since(*at) <= self.delivery_ttl {
                break;
            }
            self.deliveries.remove(id);
            self.delivery_order.pop_front();
        }
    }

    fn decay(&mut self, ticks: i32) {
        let Some(params) = &self.params else { return };
        let floor = params.decay_to_zero;
        let decayed = |value: f64, decay: f64| {
            let value = value * decay.powi(ticks);
            if value.abs() < floor { 0.0 } else { value }
        };
        let behaviour_decay = params.behaviour_penalty_decay;
        for stats in self.peers.values_mut() {
            stats.behaviour_penalty = decayed(stats.behaviour_penalty, behaviour_decay);
            for (topic, t) in &mut stats.topics {
                let Some(p) = params.topics.get(topic).or(params.default_topic.as_ref()) else { continue };
                t.first_deliveries = decayed(t.first_deliveries, p.first_message_deliveries_decay);
                t.mesh_deliveries = decayed(t.mesh_deliveries, p.mesh_message_deliveries_decay);
                t.mesh_failure_penalty = decayed(t.mesh_failure_penalty, p.mesh_failure_penalty_decay);
                t.invalid_deliveries = decayed(t.invalid_deliveries, p.invalid_message_deliveries_decay);
            }
        }
    }

    /// Whether anything kept per peer mentions `peer` (its stats, its
    /// IP); delivery records are per message and expire on their own.
    #[cfg(test)]
    pub(crate) fn mentions(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer) || self.ips.values().any(|peers| peers.contains(&peer))
    }

    /// Whether `peer`'s score is kept while it is disconnected.
    #[cfg(test)]
    pub(crate) fn is_kept(&self, peer: PeerId) -> bool {
        self.peers.get(&peer).is_some_and(|stats| stats.expires.is_some())
    }
}

#[cfg(test)]
mod tests;
