//! How a peer reads the streams we open to it, judged from what it shows:
//! a sans-IO state machine (evidence and the time in, a [`StreamStyle`]
//! out), tested with a fake clock. The writer's task drives it.
//!
//! ```text
//! inbound readers ── stream_ended(rpcs, others_open) / stream_carried_two ──▶ ┐
//! the writer      ── ours_dropped ───────────────────────────────────────▶ StyleJudge ──▶ style()
//!                 ── agent_due(now)? look identify's agent up: agent(…, now) ┘
//! ```
//!
//! The rules, first match wins:
//!
//! 1. a peer that has sent two RPCs on one stream of its own keeps streams
//!    open and reads them so: long-lived, whatever else happened;
//! 2. identify's agent version: `rust-libp2p/…` means one stream per RPC,
//!    any other agent means long-lived;
//! 3. otherwise, a peer that closed a stream of its own after one RPC
//!    while it had no other stream open to us (rust-libp2p does that for
//!    every RPC), or that closed our long-lived stream while the
//!    connection stayed up, gets one stream per RPC;
//! 4. with none of that, the style is unknown (one long-lived stream, as
//!    the spec says, with what follows its first RPC kept for resending).
//!
//! Rule 1, the agent rule and "no other stream open" keep js-libp2p on its
//! one stream: js closes its own stream after one RPC when it replaces it
//! (a second connection, a repeated identify), with the new one already
//! open, and closes ours when it drops the peer. The earlier rule (any
//! stream that ended after one RPC) took that for rust-libp2p and switched
//! to a stream per RPC, which js resets while its first inbound stream is
//! open: every RPC then cost a negotiation and was lost.
//!
//! The agent is known only once identify has run, which may be after the
//! first RPCs: while unknown it is looked up again every
//! [`AGENT_RECHECK`], never more often (the lookup takes the host's lock).

use std::time::{Duration, Instant};

/// How often a peer's agent version is looked up while it is unknown.
pub const AGENT_RECHECK: Duration = Duration::from_millis(500);

/// How a peer reads the streams we open to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStyle {
    /// Nothing known yet: one long-lived stream, as the spec says.
    Unknown,
    /// One long-lived stream (go, js, py, strata).
    LongLived,
    /// A new stream for every RPC (rust-libp2p's floodsub).
    PerRpc,
}

/// What a peer has shown of how it uses streams, and the style it implies.
#[derive(Debug, Default)]
pub struct StyleJudge {
    /// One of its streams ended after exactly one RPC while no other of
    /// its streams was open.
    one_rpc_alone: bool,
    /// One of its streams carried two RPCs or more.
    multi_rpc_stream: bool,
    /// It closed our long-lived stream on a live connection.
    dropped_ours: bool,
    /// Its agent version, once identify told it (it does not change).
    agent: Option<String>,
    /// When the agent was last looked up.
    agent_checked: Option<Instant>,
}

impl StyleJudge {
    /// One of the peer's streams to us ended gracefully after carrying
    /// `rpcs` RPCs, with `others_open` other streams of it still open.
    pub fn stream_ended(&mut self, rpcs: usize, others_open: usize) {
        if rpcs == 1 && others_open == 0 {
            self.one_rpc_alone = true;
        }
    }

    /// One of the peer's streams to us carried its second RPC.
    pub fn stream_carried_two(&mut self) {
        self.multi_rpc_stream = true;
    }

    /// The peer closed our long-lived stream while the connection stayed up.
    pub fn ours_dropped(&mut self) {
        self.dropped_ours = true;
    }

    /// Whether the agent should be looked up at `now`: it is unknown and
    /// was not looked up within [`AGENT_RECHECK`].
    pub fn agent_due(&self, now: Instant) -> bool {
        self.agent.is_none() && self.agent_checked.is_none_or(|at| now.saturating_duration_since(at) >= AGENT_RECHECK)
    }

    /// The agent as looked up at `now` (`None`: identify has not told it yet).
    pub fn agent(&mut self, agent: Option<String>, now: Instant) {
        self.agent_checked = Some(now);
        if agent.is_some() {
            self.agent = agent;
        }
    }

    /// The style the evidence implies (see the module documentation).
    pub fn style(&self) -> StreamStyle {
        if self.multi_rpc_stream {
            return StreamStyle::LongLived;
        }
        match self.agent.as_deref() {
            Some(agent) if agent.starts_with("rust-libp2p/") => StreamStyle::PerRpc,
            Some(_) => StreamStyle::LongLived,
            None if self.one_rpc_alone || self.dropped_ours => StreamStyle::PerRpc,
            None => StreamStyle::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::unnecessary_wraps)] // what identify gives
    fn rust_libp2p() -> Option<String> {
        Some("rust-libp2p/0.57.0".into())
    }

    #[test]
    fn a_peer_that_keeps_its_stream_is_long_lived_whatever_else() {
        let mut judge = StyleJudge::default();
        judge.stream_ended(1, 0);
        judge.ours_dropped();
        judge.agent(rust_libp2p(), Instant::now());
        assert_eq!(judge.style(), StreamStyle::PerRpc);
        judge.stream_carried_two();
        assert_eq!(judge.style(), StreamStyle::LongLived);
    }

    #[test]
    fn agents_decide_before_stream_evidence() {
        let now = Instant::now();
        let mut rust = StyleJudge::default();
        rust.agent(rust_libp2p(), now);
        assert_eq!(rust.style(), StreamStyle::PerRpc);
        // js-libp2p closes ours when it drops the peer: still long-lived.
        let mut js = StyleJudge::default();
        js.stream_ended(1, 0);
        js.ours_dropped();
        js.agent(Some("js-libp2p/2.10.0 UserAgent=v20".into()), now);
        assert_eq!(js.style(), StreamStyle::LongLived);
    }

    #[test]
    fn without_an_agent_streams_of_one_rpc_mean_per_rpc() {
        let mut judge = StyleJudge::default();
        assert_eq!(judge.style(), StreamStyle::Unknown);
        judge.stream_ended(1, 0);
        assert_eq!(judge.style(), StreamStyle::PerRpc);
        let mut dropped = StyleJudge::default();
        dropped.ours_dropped();
        assert_eq!(dropped.style(), StreamStyle::PerRpc);
    }

    #[test]
    fn a_stream_replaced_while_another_is_open_is_no_evidence() {
        // js-libp2p closes its old stream after one RPC once its new one
        // is open: not the one-stream-per-RPC reader.
        let mut judge = StyleJudge::default();
        judge.stream_ended(1, 1);
        judge.stream_ended(3, 0);
        judge.stream_ended(0, 0);
        assert_eq!(judge.style(), StreamStyle::Unknown);
    }

    #[test]
    fn the_agent_is_looked_up_at_most_every_recheck_until_known() {
        let start = Instant::now();
        let mut judge = StyleJudge::default();
        assert!(judge.agent_due(start), "never looked up");
        judge.agent(None, start);
        assert!(!judge.agent_due(start));
        assert!(!judge.agent_due(start + Duration::from_millis(499)));
        let later = start + AGENT_RECHECK;
        assert!(judge.agent_due(later));
        judge.agent(None, later);
        assert!(!judge.agent_due(later + Duration::from_millis(100)));
        judge.agent(rust_libp2p(), later + AGENT_RECHECK);
        assert!(!judge.agent_due(later + AGENT_RECHECK * 100), "known: never again");
        judge.agent(None, later + AGENT_RECHECK * 200);
        assert_eq!(judge.style(), StreamStyle::PerRpc, "a known agent is kept");
    }

    #[test]
    fn identify_arriving_late_turns_an_unknown_peer_long_lived() {
        let start = Instant::now();
        let mut judge = StyleJudge::default();
        judge.agent(None, start);
        assert_eq!(judge.style(), StreamStyle::Unknown);
        judge.agent(Some("go-libp2p/0.41".into()), start + AGENT_RECHECK);
        judge.stream_ended(1, 0);
        assert_eq!(judge.style(), StreamStyle::LongLived, "the agent outranks one short stream");
    }
}
