//! One `DCUtR` exchange, either side, as a state machine: messages, dial
//! outcomes and the current time in; actions and the next deadline out.
//! No I/O and no clock of its own, so it is tested with a fake clock.
//!
//! Spec: `libp2p-relay-DCUtR.md`, "The Protocol", steps 1 to 6. The
//! initiator is B, the peer that **accepted** the relayed connection:
//!
//! ```text
//! initiator (B)                                   responder (A)
//! OpenStream, Send CONNECT(ours) ── t0 ──────────▶ (ours empty: Done NoLocalAddresses)
//!            ◀──────────────────────── CONNECT(theirs) ── Send
//! rtt = now − t0; Send SYNC ────────────────────▶ Dial(theirs, as Dialer: A is the client)
//! wait rtt/2 (none if every address is QUIC), Dial(theirs, as Listener: B is the server)
//! a dial succeeds ─▶ Done(Ok)                      a dial succeeds ─▶ Done(Ok)
//! all fail ─▶ new attempt (≤ max_attempts)         all fail ─▶ Done(DialsFailed)
//! ```
//!
//! The driver ([`crate::Dcutr`]) does what [`Exchange::poll_action`] says,
//! reads a message while [`Exchange::awaits_message`], sleeps until
//! [`Exchange::deadline`] and then calls [`Exchange::on_timeout`]. Each
//! retry is a whole new exchange of `CONNECT` and `SYNC` on a new stream
//! (the spec's FAQ: a bad first RTT must not spoil the retries; go-libp2p
//! `holepuncher.go` opens a new stream per attempt). As in go-libp2p, only
//! failed dials are retried: a protocol error, a refusal or a timeout of
//! the exchange ends the hole punch at once.

use std::{
    collections::VecDeque,
    net::IpAddr,
    time::{Duration, Instant},
};

use strata_core::{Endpoint, Multiaddr};

use crate::{Config, HolePunch, Type};

/// Which side of the exchange this node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// B in the spec: accepted the relayed connection, opens the stream,
    /// measures the RTT, sends `SYNC`; on the direct connection, the server.
    Initiator,
    /// A in the spec: dialed through the relay, answers; on the direct
    /// connection, the client.
    Responder,
}

/// Why a hole punch failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// We have no address to offer (no confirmed external address, no
    /// public listen address): nothing to punch towards.
    NoLocalAddresses,
    /// The remote sent no address we could decode that is not relayed.
    NoRemoteAddresses,
    /// The remote's addresses are all of transports or IP families we
    /// cannot dial.
    NoCommonTransport,
    /// Every dial failed or timed out, on every attempt.
    DialsFailed,
    /// The remote does not serve `/libp2p/dcutr` (negotiation refused).
    Refused,
    /// The remote broke the protocol: a malformed or oversized message, or
    /// the wrong type.
    Protocol,
    /// The stream was reset or closed before the exchange ended.
    StreamClosed,
    /// The remote did not answer within the exchange timeout.
    Timeout,
    /// The relayed connection closed during the exchange.
    RelayClosed,
}

impl Reason {
    /// A short label (for logs and metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoLocalAddresses => "no_local_addresses",
            Self::NoRemoteAddresses => "no_remote_addresses",
            Self::NoCommonTransport => "no_common_transport",
            Self::DialsFailed => "dials_failed",
            Self::Refused => "refused",
            Self::Protocol => "protocol",
            Self::StreamClosed => "stream_closed",
            Self::Timeout => "timeout",
            Self::RelayClosed => "relay_closed",
        }
    }
}

/// A hole punch that produced a direct connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Success {
    /// The remote address of the direct connection.
    pub addr: Multiaddr,
    /// How many attempts it took (1 to [`Config::max_attempts`]).
    pub attempts: u32,
    /// From the start of the first attempt to the direct connection.
    pub elapsed: Duration,
}

/// A hole punch that did not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Why.
    pub reason: Reason,
    /// How many attempts were made (0 when none could start).
    pub attempts: u32,
    /// From the start to the failure.
    pub elapsed: Duration,
}

/// How a hole punch ended.
pub type Outcome = Result<Success, Failure>;

/// What the driver must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a new `/libp2p/dcutr` stream on the relayed connection
    /// (initiator, at the start of each attempt). If that fails, call
    /// [`Exchange::on_stream_error`].
    OpenStream,
    /// Write this message on the stream.
    Send(HolePunch),
    /// Dial every one of `addrs` (at once), in `role`, and report the
    /// first success or the failure of all of them with
    /// [`Exchange::on_dial_outcome`].
    Dial {
        /// The remote's usable addresses.
        addrs: Vec<Multiaddr>,
        /// The role to take on the new connection (spec: A is the client,
        /// B the server).
        role: Endpoint,
    },
    /// The exchange is over.
    Done(Outcome),
}

#[derive(Debug)]
enum Phase {
    /// Initiator: `CONNECT` sent at `sent`, its answer due.
    AwaitConnect {
        sent: Instant,
    },
    /// Responder: the initiator's `CONNECT` due.
    AwaitFirstConnect,
    /// Responder: our `CONNECT` sent, `SYNC` due.
    AwaitSync {
        addrs: Vec<Multiaddr>,
    },
    /// Initiator: `SYNC` sent; dial at the deadline (RTT/2 later).
    Syncing {
        addrs: Vec<Multiaddr>,
    },
    /// Dials under way.
    Dialing,
    Done,
}

/// One hole punch, from either side.
#[derive(Debug)]
pub struct Exchange {
    role: Role,
    ours: Vec<Multiaddr>,
    max_attempts: u32,
    stream_timeout: Duration,
    dial_timeout: Duration,
    started: Instant,
    attempts: u32,
    phase: Phase,
    deadline: Option<Instant>,
    actions: VecDeque<Action>,
}

impl Exchange {
    /// An initiator offering `ours` (already filtered: no relayed
    /// addresses). Its first actions open a stream and send `CONNECT`, or
    /// end it at once when `ours` is empty.
    pub fn initiator(ours: Vec<Multiaddr>, config: &Config, now: Instant) -> Self {
        let mut exchange = Self::new(Role::Initiator, ours, config, now);
        if exchange.ours.is_empty() {
            exchange.fail(Reason::NoLocalAddresses, now);
        } else {
            exchange.begin_attempt(now);
        }
        exchange
    }

    /// A responder to an inbound stream, offering `ours`. Ends at once
    /// when `ours` is empty (go-libp2p refuses the same way: there is no
    /// point in a hole punch nobody can aim at).
    pub fn responder(ours: Vec<Multiaddr>, config: &Config, now: Instant) -> Self {
        let mut exchange = Self::new(Role::Responder, ours, config, now);
        exchange.attempts = 1;
        if exchange.ours.is_empty() {
            exchange.fail(Reason::NoLocalAddresses, now);
        } else {
            exchange.phase = Phase::AwaitFirstConnect;
            exchange.deadline = Some(now + exchange.stream_timeout);
        }
        exchange
    }

    fn new(role: Role, ours: Vec<Multiaddr>, config: &Config, now: Instant) -> Self {
        Self {
            role,
            ours,
            max_attempts: config.max_attempts.max(1),
            stream_timeout: config.stream_timeout,
            dial_timeout: config.dial_timeout,
            started: now,
            attempts: 0,
            phase: Phase::Done,
            deadline: None,
            actions: VecDeque::new(),
        }
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call [`Exchange::on_timeout`], if anything is pending.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether a message from the remote is due (the driver reads one).
    pub fn awaits_message(&self) -> bool {
        matches!(self.phase, Phase::AwaitConnect { .. } | Phase::AwaitFirstConnect | Phase::AwaitSync { .. })
    }

    /// Whether the exchange is over.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// A message from the remote. `can_dial` says whether this node has a
    /// transport for an address.
    pub fn on_message(&mut self, message: HolePunch, now: Instant, can_dial: impl Fn(&Multiaddr) -> bool) {
        match (std::mem::replace(&mut self.phase, Phase::Done), message.kind) {
            (Phase::AwaitConnect { sent }, Type::Connect) => match usable_addrs(&self.ours, message.addrs, can_dial) {
                Ok(addrs) => {
                    let rtt = now.saturating_duration_since(sent);
                    tracing::debug!(?rtt, ?addrs, "CONNECT answered; SYNC, then dial in RTT/2");
                    self.actions.push_back(Action::Send(HolePunch::sync()));
                    // RTT/2 times two TCP SYNs to meet. Our QUIC punch
                    // packets only open our own NAT for the remote's
                    // Initial, sent when the SYNC arrives: they go at
                    // once. Waiting would lose that Initial whenever the
                    // direct path is shorter than half the relayed RTT
                    // (it mostly is), and QUIC resends it only after 1 s.
                    let at = if addrs.iter().all(is_quic) { now } else { now + rtt / 2 };
                    self.phase = Phase::Syncing { addrs };
                    self.deadline = Some(at);
                }
                Err(reason) => self.fail(reason, now),
            },
            (Phase::AwaitFirstConnect, Type::Connect) => match usable_addrs(&self.ours, message.addrs, can_dial) {
                Ok(addrs) => {
                    self.actions.push_back(Action::Send(HolePunch::connect(self.ours.clone())));
                    self.phase = Phase::AwaitSync { addrs };
                }
                Err(reason) => self.fail(reason, now),
            },
            (Phase::AwaitSync { addrs }, Type::Sync) => {
                self.dial(addrs, Endpoint::Dialer, now);
            }
            (Phase::Done, _) => {}
            (phase, kind) => {
                tracing::debug!(?kind, ?phase, "unexpected DCUtR message");
                self.fail(Reason::Protocol, now);
            }
        }
    }

    /// The deadline passed.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|deadline| now < deadline) {
            return;
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Syncing { addrs, .. } => self.dial(addrs, Endpoint::Listener, now),
            Phase::Dialing => self.dials_failed(now),
            Phase::Done => {}
            Phase::AwaitConnect { .. } | Phase::AwaitFirstConnect | Phase::AwaitSync { .. } => {
                self.fail(Reason::Timeout, now);
            }
        }
    }

    /// The stream failed (refused, reset, closed, or a malformed message).
    /// Ignored once the dials are under way: the stream has done its job.
    pub fn on_stream_error(&mut self, reason: Reason, now: Instant) {
        if !matches!(self.phase, Phase::Dialing | Phase::Done) {
            self.fail(reason, now);
        }
    }

    /// The outcome of an [`Action::Dial`]: the remote address of the
    /// direct connection, or `None` when every dial failed. A direct
    /// connection that appeared otherwise (the remote's dial landed
    /// first) is a success too.
    pub fn on_dial_outcome(&mut self, outcome: Option<Multiaddr>, now: Instant) {
        if !matches!(self.phase, Phase::Dialing) {
            return;
        }
        match outcome {
            Some(addr) => {
                let success = Success { addr, attempts: self.attempts, elapsed: now - self.started };
                self.finish(Ok(success));
            }
            None => self.dials_failed(now),
        }
    }

    /// The relayed connection closed: unless the dials are under way, the
    /// exchange cannot go on.
    pub fn on_relay_closed(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Dialing | Phase::Done) {
            self.fail(Reason::RelayClosed, now);
        }
    }

    fn begin_attempt(&mut self, now: Instant) {
        self.attempts += 1;
        self.actions.push_back(Action::OpenStream);
        self.actions.push_back(Action::Send(HolePunch::connect(self.ours.clone())));
        self.phase = Phase::AwaitConnect { sent: now };
        self.deadline = Some(now + self.stream_timeout);
    }

    fn dial(&mut self, addrs: Vec<Multiaddr>, role: Endpoint, now: Instant) {
        self.actions.push_back(Action::Dial { addrs, role });
        self.phase = Phase::Dialing;
        self.deadline = Some(now + self.dial_timeout);
    }

    fn dials_failed(&mut self, now: Instant) {
        if self.role == Role::Initiator && self.attempts < self.max_attempts {
            tracing::debug!(attempt = self.attempts, "hole punch dials failed; trying again");
            self.begin_attempt(now);
        } else {
            self.fail(Reason::DialsFailed, now);
        }
    }

    fn fail(&mut self, reason: Reason, now: Instant) {
        let failure = Failure { reason, attempts: self.attempts, elapsed: now - self.started };
        self.finish(Err(failure));
    }

    fn finish(&mut self, outcome: Outcome) {
        self.phase = Phase::Done;
        self.deadline = None;
        self.actions.push_back(Action::Done(outcome));
    }
}

/// The remote's addresses worth dialing: not relayed, of a transport we
/// dial (`can_dial`), and of an IP family we have among `ours` (when both
/// sides have IP addresses). Fails with [`Reason::NoRemoteAddresses`] when
/// nothing but relayed addresses (or nothing) came, with
/// [`Reason::NoCommonTransport`] when what came is not for us.
pub fn usable_addrs(
    ours: &[Multiaddr],
    theirs: Vec<Multiaddr>,
    can_dial: impl Fn(&Multiaddr) -> bool,
) -> Result<Vec<Multiaddr>, Reason> {
    let direct: Vec<Multiaddr> = theirs.into_iter().filter(|addr| !strata_host::is_relayed(addr)).collect();
    if direct.is_empty() {
        return Err(Reason::NoRemoteAddresses);
    }
    let families: Vec<bool> = ours.iter().filter_map(Multiaddr::ip).map(|ip| ip.is_ipv4()).collect();
    let family_ok = |ip: Option<IpAddr>| match ip {
        Some(ip) => families.is_empty() || families.contains(&ip.is_ipv4()),
        None => true,
    };
    let usable: Vec<Multiaddr> = direct.into_iter().filter(|addr| can_dial(addr) && family_ok(addr.ip())).collect();
    if usable.is_empty() { Err(Reason::NoCommonTransport) } else { Ok(usable) }
}

/// Whether `addr` is a QUIC address (which the initiator punches, as the
/// QUIC server, instead of dialing).
pub(crate) fn is_quic(addr: &Multiaddr) -> bool {
    addr.iter().any(|component| matches!(component, strata_core::multiaddr::Component::QuicV1))
}

#[cfg(test)]
mod tests;
