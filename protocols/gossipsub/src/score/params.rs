//! The scoring parameters and thresholds of `libp2p-gossipsub-v1.1.md`
//! "Peer Scoring": the weights of P1–P7, their decays and caps, and the
//! five thresholds the router acts on.
//!
//! ```text
//! score(p) = TopicCap( Σ_t w_t · (w1·P1 + w2·P2 + w3·P3 + w3b·P3b + w4·P4) )
//!            + w5·P5 + w6·P6 + w7·P7
//! ```
//!
//! The defaults ([`ScoreParams::default`], [`Thresholds::default`]) are
//! for a small network (2–10 nodes, one or a few topics, quiet at times):
//! every topic is scored with [`TopicScoreParams::default`], which
//! rewards time in the mesh (P1) and first deliveries (P2), punishes
//! invalid messages hard (P4: three rejected messages put a peer under
//! the graylist threshold) and leaves the mesh-delivery-rate terms (P3,
//! P3b) off, because a quiet topic would otherwise punish every honest
//! mesh peer. IP colocation (P6) counts from the fourth peer on one IP,
//! loopback excepted (a test network on one machine is not a sybil
//! attack). Networks with known traffic should set P3 from it, as the
//! spec's "Guidelines for Tuning the Scoring Function" describe.

use std::{collections::HashMap, time::Duration};

use strata_host::IpRange;

/// The parameters of one topic's part of the score (spec "Topic
/// Parameter Calculation"). Weights of penalties are negative.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicScoreParams {
    /// The weight of the topic in the score.
    pub topic_weight: f64,
    /// P1, time in the mesh: its weight (positive).
    pub time_in_mesh_weight: f64,
    /// P1: the unit of time in the mesh.
    pub time_in_mesh_quantum: Duration,
    /// P1: the most quanta counted.
    pub time_in_mesh_cap: f64,
    /// P2, first message deliveries: its weight (positive).
    pub first_message_deliveries_weight: f64,
    /// P2: its decay per decay interval.
    pub first_message_deliveries_decay: f64,
    /// P2: its cap.
    pub first_message_deliveries_cap: f64,
    /// P3, mesh message delivery rate: its weight (negative; 0 turns P3 off).
    pub mesh_message_deliveries_weight: f64,
    /// P3: its decay per decay interval.
    pub mesh_message_deliveries_decay: f64,
    /// P3: its cap.
    pub mesh_message_deliveries_cap: f64,
    /// P3: below this many deliveries a mesh peer is penalised (the
    /// deficit squared).
    pub mesh_message_deliveries_threshold: f64,
    /// P3: how late after the first copy a mesh peer's copy still counts.
    pub mesh_message_deliveries_window: Duration,
    /// P3: how long a peer is in the mesh before P3 applies.
    pub mesh_message_deliveries_activation: Duration,
    /// P3b, mesh failure penalty (the P3 deficit when pruned): its weight
    /// (negative).
    pub mesh_failure_penalty_weight: f64,
    /// P3b: its decay per decay interval.
    pub mesh_failure_penalty_decay: f64,
    /// P4, invalid messages (squared): its weight (negative).
    pub invalid_message_deliveries_weight: f64,
    /// P4: its decay per decay interval.
    pub invalid_message_deliveries_decay: f64,
}

impl Default for TopicScoreParams {
    /// For a small network: P1 up to +1 after 100 s in the mesh, P2 up to
    /// +10, P3 and P3b off, P4 −10 per invalid message squared (decaying
    /// to nothing in about an hour).
    fn default() -> Self {
        let interval = Duration::from_secs(1);
        Self {
            topic_weight: 1.0,
            time_in_mesh_weight: 0.01,
            time_in_mesh_quantum: Duration::from_secs(1),
            time_in_mesh_cap: 100.0,
            first_message_deliveries_weight: 1.0,
            first_message_deliveries_decay: decay_to_zero_in(Duration::from_mins(10), interval),
            first_message_deliveries_cap: 10.0,
            mesh_message_deliveries_weight: 0.0,
            mesh_message_deliveries_decay: decay_to_zero_in(Duration::from_mins(1), interval),
            mesh_message_deliveries_cap: 100.0,
            mesh_message_deliveries_threshold: 1.0,
            mesh_message_deliveries_window: Duration::from_millis(10),
            mesh_message_deliveries_activation: Duration::from_secs(5),
            mesh_failure_penalty_weight: 0.0,
            mesh_failure_penalty_decay: decay_to_zero_in(Duration::from_mins(1), interval),
            invalid_message_deliveries_weight: -10.0,
            invalid_message_deliveries_decay: decay_to_zero_in(Duration::from_hours(1), interval),
        }
    }
}

/// The parameters of the whole score (spec "Peer Scoring": the topic
/// parameters, P5–P7, decay and retention).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreParams {
    /// Parameters of named topics.
    pub topics: HashMap<String, TopicScoreParams>,
    /// Parameters of every other topic; `None` leaves them unscored.
    pub default_topic: Option<TopicScoreParams>,
    /// The most the topics together may add (penalties are not capped).
    pub topic_score_cap: f64,
    /// P5, the application's score of a peer: its weight.
    pub app_specific_weight: f64,
    /// P6, IP colocation: its weight (negative).
    pub ip_colocation_factor_weight: f64,
    /// P6: how many peers one IP may have before the surplus (squared) counts.
    pub ip_colocation_factor_threshold: f64,
    /// P6: address ranges never counted (loopback by default).
    pub ip_colocation_factor_whitelist: Vec<IpRange>,
    /// P7, behaviour penalty (squared, above the threshold): its weight
    /// (negative). Counted: GRAFTs while backing off, unanswered IWANTs.
    pub behaviour_penalty_weight: f64,
    /// P7: the penalty count tolerated.
    pub behaviour_penalty_threshold: f64,
    /// P7: its decay per decay interval.
    pub behaviour_penalty_decay: f64,
    /// How often the counters decay.
    pub decay_interval: Duration,
    /// Below this a decayed counter becomes 0.
    pub decay_to_zero: f64,
    /// How long a disconnected peer's score is remembered (so that
    /// reconnecting does not wipe a penalty).
    pub retain_score: Duration,
}

impl Default for ScoreParams {
    /// See the module docs: every topic scored with the topic defaults, a
    /// positive cap of 50, P6 −10 from the fourth peer on a non-loopback
    /// IP, P7 −10 per squared penalty beyond 5, decay each second, scores
    /// kept for an hour after a disconnect.
    fn default() -> Self {
        let interval = Duration::from_secs(1);
        Self {
            topics: HashMap::new(),
            default_topic: Some(TopicScoreParams::default()),
            topic_score_cap: 50.0,
            app_specific_weight: 1.0,
            ip_colocation_factor_weight: -10.0,
            ip_colocation_factor_threshold: 3.0,
            ip_colocation_factor_whitelist: vec![
                IpRange::new([127, 0, 0, 0].into(), 8),
                IpRange::new(std::net::Ipv6Addr::LOCALHOST.into(), 128),
            ],
            behaviour_penalty_weight: -10.0,
            behaviour_penalty_threshold: 5.0,
            behaviour_penalty_decay: decay_to_zero_in(Duration::from_mins(10), interval),
            decay_interval: interval,
            decay_to_zero: 0.01,
            retain_score: Duration::from_hours(1),
        }
    }
}

/// The thresholds the router acts on (spec "Score Thresholds").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Below it a peer gets no gossip from us and its gossip is ignored.
    pub gossip: f64,
    /// Below it a peer is not sent the messages we publish.
    pub publish: f64,
    /// Below it every RPC of the peer is ignored.
    pub graylist: f64,
    /// At or above it the peers a PRUNE offers (peer exchange) are dialed.
    pub accept_px: f64,
    /// Below it, as the median score of a mesh, better peers are grafted
    /// (opportunistic grafting).
    pub opportunistic_graft: f64,
}

impl Default for Thresholds {
    /// −10, −50, −80, +10, +5: one invalid message stops gossip with a
    /// peer, three graylist it.
    fn default() -> Self {
        Self { gossip: -10.0, publish: -50.0, graylist: -80.0, accept_px: 10.0, opportunistic_graft: 5.0 }
    }
}

/// Parameters that contradict the spec's rules for them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid scoring parameter: {0}")]
pub struct InvalidParams(pub &'static str);

impl Thresholds {
    /// Checks the spec's order: `graylist ≤ publish ≤ gossip ≤ 0 ≤
    /// accept_px`, `opportunistic_graft ≥ 0`.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        if self.gossip > 0.0 {
            return Err(InvalidParams("the gossip threshold must be 0 or less"));
        }
        if self.publish > self.gossip {
            return Err(InvalidParams("the publish threshold must be at most the gossip threshold"));
        }
        if self.graylist > self.publish {
            return Err(InvalidParams("the graylist threshold must be at most the publish threshold"));
        }
        if self.accept_px < 0.0 || self.opportunistic_graft < 0.0 {
            return Err(InvalidParams("accept-PX and opportunistic-graft thresholds must be 0 or more"));
        }
        Ok(())
    }
}

impl ScoreParams {
    /// Checks signs, decays and intervals.
    pub fn validate(&self) -> Result<(), InvalidParams> {
        for topic in self.topics.values().chain(&self.default_topic) {
            topic.validate()?;
        }
        if self.topic_score_cap < 0.0 {
            return Err(InvalidParams("the topic score cap must be 0 or more"));
        }
        if self.ip_colocation_factor_weight > 0.0 || self.behaviour_penalty_weight > 0.0 {
            return Err(InvalidParams("P6 and P7 weights must be 0 or less"));
        }
        if self.ip_colocation_factor_threshold < 1.0 {
            return Err(InvalidParams("the IP colocation threshold must be at least 1"));
        }
        if !is_decay(self.behaviour_penalty_decay) {
            return Err(InvalidParams("the behaviour penalty decay must be in (0, 1)"));
        }
        if self.decay_interval < Duration::from_millis(10) {
            return Err(InvalidParams("the decay interval must be at least 10 ms"));
        }
        Ok(())
    }
}

impl TopicScoreParams {
    /// Checks the signs of the weights and that decays are in (0, 1).
    pub fn validate(&self) -> Result<(), InvalidParams> {
        if self.topic_weight < 0.0 {
            return Err(InvalidParams("a topic weight must be 0 or more"));
        }
        if self.time_in_mesh_weight < 0.0 || self.first_message_deliveries_weight < 0.0 {
            return Err(InvalidParams("P1 and P2 weights must be 0 or more"));
        }
        let penalties = [
            self.mesh_message_deliveries_weight,
            self.mesh_failure_penalty_weight,
            self.invalid_message_deliveries_weight,
        ];
        if penalties.iter().any(|weight| *weight > 0.0) {
            return Err(InvalidParams("P3, P3b and P4 weights must be 0 or less"));
        }
        let decays = [
            self.first_message_deliveries_decay,
            self.mesh_message_deliveries_decay,
            self.mesh_failure_penalty_decay,
            self.invalid_message_deliveries_decay,
        ];
        if !decays.into_iter().all(is_decay) {
            return Err(InvalidParams("decays must be in (0, 1)"));
        }
        if self.time_in_mesh_quantum.is_zero() {
            return Err(InvalidParams("the time-in-mesh quantum must not be zero"));
        }
        Ok(())
    }
}

fn is_decay(decay: f64) -> bool {
    decay > 0.0 && decay < 1.0
}

/// The per-interval decay that takes a counter of 1 to the decay-to-zero
/// floor (0.01) in `time` (the spec's helper, as go and rust-libp2p have
/// it).
pub fn decay_to_zero_in(time: Duration, interval: Duration) -> f64 {
    let ticks = time.as_secs_f64() / interval.as_secs_f64().max(f64::EPSILON);
    0.01f64.powf(1.0 / ticks.max(1.0))
}
