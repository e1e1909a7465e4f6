//! `dcutr::Config`: every bound and timer of the service, with its default
//! and what happens when it is reached.

use std::time::Duration;

/// The service's settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// How many attempts (each a `CONNECT`/`SYNC` exchange and a round of
    /// dials) the initiator makes before giving up with
    /// [`crate::Reason::DialsFailed`]. Default 3: the spec's "retry twice".
    pub max_attempts: u32,
    /// How long one exchange may wait for the remote's message before
    /// failing with [`crate::Reason::Timeout`]. Default 15 s (go-libp2p
    /// allows a minute, `StreamTimeout`; a relayed round trip takes well
    /// under a second).
    pub stream_timeout: Duration,
    /// How long the dials of one attempt may take before the attempt
    /// counts as failed. Default 5 s (go-libp2p's `dialTimeout`).
    pub dial_timeout: Duration,
    /// How long the relayed connection lives on once a direct connection
    /// is up (the spec's "grace period"), so that streams on it can end;
    /// `None` keeps it (as rust-libp2p does). Default 5 s.
    pub close_relayed_after: Option<Duration>,
    /// Whether private and loopback addresses are offered and kept (labs,
    /// tests on one machine). Default `false`: only confirmed external
    /// addresses and public listen addresses are offered, as go-libp2p
    /// does.
    pub allow_private_addrs: bool,
    /// How long either side waits for an address of its own to offer when
    /// a hole punch begins before it knows any (the connection to the
    /// relay is new, and the observed address that identify brings over
    /// it is not in yet). Polled every 100 ms; when it passes with none,
    /// the hole punch ends with [`crate::Reason::NoLocalAddresses`].
    /// Default 3 s (well within the initiator's `stream_timeout`).
    pub local_addrs_wait: Duration,
    /// The most hole punches under way at once (both roles). Beyond it, a
    /// new relayed connection is not punched and an inbound stream is
    /// reset. Default 32.
    pub max_concurrent: usize,
    /// The depth of the [`crate::Event`] broadcast; a slower subscriber
    /// misses the oldest events. Default 64.
    pub event_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            stream_timeout: Duration::from_secs(15),
            dial_timeout: Duration::from_secs(5),
            close_relayed_after: Some(Duration::from_secs(5)),
            allow_private_addrs: false,
            local_addrs_wait: Duration::from_secs(3),
            max_concurrent: 32,
            event_capacity: 64,
        }
    }
}

impl Config {
    /// Sets [`Config::max_attempts`] (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`Config::stream_timeout`].
    #[must_use]
    pub fn with_stream_timeout(mut self, timeout: Duration) -> Self {
        self.stream_timeout = timeout;
        self
    }

    /// Sets [`Config::dial_timeout`].
    #[must_use]
    pub fn with_dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }

    /// Sets [`Config::close_relayed_after`].
    #[must_use]
    pub fn with_close_relayed_after(mut self, grace: Option<Duration>) -> Self {
        self.close_relayed_after = grace;
        self
    }

    /// Sets [`Config::allow_private_addrs`].
    #[must_use]
    pub fn with_private_addrs(mut self, allow: bool) -> Self {
        self.allow_private_addrs = allow;
        self
    }

    /// Sets [`Config::local_addrs_wait`].
    #[must_use]
    pub fn with_local_addrs_wait(mut self, wait: Duration) -> Self {
        self.local_addrs_wait = wait;
        self
    }

    /// Sets [`Config::max_concurrent`].
    #[must_use]
    pub fn with_max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = max;
        self
    }
}
