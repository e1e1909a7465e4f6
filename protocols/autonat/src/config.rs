//! `autonat::ServerConfig` and `autonat::ClientConfig`: every bound and
//! timeout of the two sides, with go-libp2p's defaults where it has one.

use std::time::Duration;

/// Configuration of [`crate::Server`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) global_per_minute: usize,
    pub(crate) peer_per_minute: usize,
    pub(crate) dial_data_per_minute: usize,
    pub(crate) max_concurrent: usize,
    pub(crate) dial_data_min: u64,
    pub(crate) dial_data_max: u64,
    pub(crate) max_addrs_inspected: usize,
    pub(crate) stream_timeout: Duration,
    pub(crate) dial_timeout: Duration,
    pub(crate) dial_back_timeout: Duration,
    pub(crate) allow_private_addrs: bool,
    pub(crate) serve_always: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            global_per_minute: 60,
            peer_per_minute: 12,
            dial_data_per_minute: 12,
            max_concurrent: 16,
            dial_data_min: 30_000,
            dial_data_max: 100_000,
            max_addrs_inspected: 50,
            stream_timeout: Duration::from_secs(30),
            dial_timeout: Duration::from_secs(10),
            dial_back_timeout: Duration::from_secs(5),
            allow_private_addrs: false,
            serve_always: false,
        }
    }
}

impl ServerConfig {
    /// Requests served per minute, from all peers together (a sliding
    /// window). Default: 60 (go-libp2p). More are answered
    /// `E_REQUEST_REJECTED`.
    #[must_use]
    pub fn with_global_rate(mut self, per_minute: usize) -> Self {
        self.global_per_minute = per_minute;
        self
    }

    /// Requests served per minute from one peer. Default: 12 (go-libp2p).
    /// More are answered `E_REQUEST_REJECTED`.
    #[must_use]
    pub fn with_peer_rate(mut self, per_minute: usize) -> Self {
        self.peer_per_minute = per_minute;
        self
    }

    /// Requests per minute that need dial data (an address of another IP
    /// than the requester's), from all peers. Default: 12 (go-libp2p).
    /// More are answered `E_REQUEST_REJECTED`.
    #[must_use]
    pub fn with_dial_data_rate(mut self, per_minute: usize) -> Self {
        self.dial_data_per_minute = per_minute;
        self
    }

    /// Requests in progress at once (each makes at most one dial back).
    /// Default: 16. One peer has at most one in progress. More are
    /// answered `E_REQUEST_REJECTED`.
    #[must_use]
    pub fn with_max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = max;
        self
    }

    /// How many bytes of dial data are asked for: a random number in
    /// `min..=max`. Default: 30 000 to 100 000, the spec's and
    /// go-libp2p's range. `max` is raised to `min` if below it.
    #[must_use]
    pub fn with_dial_data(mut self, min: u64, max: u64) -> Self {
        self.dial_data_min = min;
        self.dial_data_max = max.max(min);
        self
    }

    /// How long a whole request may take, dial data and dial back
    /// included. Default: 30 s, room for the dial (10 s) and the dial back
    /// (5 s) after a slow request and its dial data (go-libp2p's 15 s
    /// leaves none). A request past it is dropped. It must exceed the
    /// dial timeout plus the dial-back timeout: [`crate::Server::attach`]
    /// refuses a config where it does not ([`crate::Error::Timeouts`]).
    #[must_use]
    pub fn with_stream_timeout(mut self, timeout: Duration) -> Self {
        self.stream_timeout = timeout;
        self
    }

    /// How long the dial back's connection may take. Default: 10 s
    /// (go-libp2p); past it the dial is `E_DIAL_ERROR`.
    #[must_use]
    pub fn with_dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }

    /// How long the dial-back stream (nonce out, answer in) may take.
    /// Default: 5 s (go-libp2p); past it the dial is `E_DIAL_BACK_ERROR`.
    #[must_use]
    pub fn with_dial_back_timeout(mut self, timeout: Duration) -> Self {
        self.dial_back_timeout = timeout;
        self
    }

    /// **Tests and labs only.** Dials back loopback and private addresses
    /// too. Default: no (the spec: "The Server SHOULD NOT dial any private
    /// address"); on the internet this would let anyone make the server
    /// probe its own LAN.
    #[must_use]
    pub fn with_private_addrs(mut self, allow: bool) -> Self {
        self.allow_private_addrs = allow;
        self
    }

    /// **Tests and labs only.** Serves even when the host is not publicly
    /// reachable itself. Default: no, the server answers
    /// `E_REQUEST_REJECTED` until the host has an external address or a
    /// public listen address (a server behind a NAT would tell its clients
    /// they are unreachable because of its own NAT).
    #[must_use]
    pub fn with_serve_always(mut self, always: bool) -> Self {
        self.serve_always = always;
        self
    }
}

/// Configuration of [`crate::Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) confirmations: usize,
    pub(crate) min_observers: usize,
    pub(crate) retest_interval: Duration,
    pub(crate) expire_after: Duration,
    pub(crate) server_cooldown: Duration,
    pub(crate) max_candidates: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) max_addrs_per_request: usize,
    pub(crate) max_dial_data: u64,
    pub(crate) request_timeout: Duration,
    pub(crate) allow_private_addrs: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            confirmations: 2,
            min_observers: 2,
            retest_interval: Duration::from_mins(5),
            expire_after: Duration::from_mins(15),
            server_cooldown: Duration::from_mins(2),
            max_candidates: 16,
            max_in_flight: 2,
            max_addrs_per_request: 4,
            max_dial_data: 100_000,
            request_timeout: Duration::from_secs(35),
            allow_private_addrs: false,
        }
    }
}

impl ClientConfig {
    /// How many distinct servers must agree before an address changes
    /// verdict: `n` successful dial backs make it reachable, `n`
    /// `E_DIAL_ERROR`s make it unreachable (a result the other way resets
    /// the count). Default: 2, so that one lying server can neither
    /// confirm nor remove an address (the spec suggests "more than 3";
    /// go-libp2p needs a confidence of 2 to 3). At least 1.
    #[must_use]
    pub fn with_confirmations(mut self, n: usize) -> Self {
        self.confirmations = n.max(1);
        self
    }

    /// How many peers, each from its own IP group, must observe an address
    /// (identify's `observedAddr`) before it becomes a candidate. Default:
    /// 2, so that one peer cannot fill the candidates with addresses of
    /// its choosing (go-libp2p asks 4). An IP group is one IPv4 address,
    /// or one IPv6 /56 (go-libp2p's observer groups). At least 1; listen
    /// addresses and [`crate::Client::add_candidate`] need no observer.
    #[must_use]
    pub fn with_min_observers(mut self, n: usize) -> Self {
        self.min_observers = n.max(1);
        self
    }

    /// How often an address with a verdict is tested again. Default: 5 min.
    #[must_use]
    pub fn with_retest_interval(mut self, interval: Duration) -> Self {
        self.retest_interval = interval;
        self
    }

    /// How long a reachable address stays confirmed without a new
    /// successful test; then it is expired (removed from the host's
    /// external addresses) and tested as new. Default: 15 min. An observed
    /// address confirmed unreachable and not observed again for as long is
    /// forgotten.
    #[must_use]
    pub fn with_expire_after(mut self, after: Duration) -> Self {
        self.expire_after = after;
        self
    }

    /// The least time between two requests to the same server. Default:
    /// 2 min (go-libp2p's throttle), well inside a server's per-peer rate.
    #[must_use]
    pub fn with_server_cooldown(mut self, cooldown: Duration) -> Self {
        self.server_cooldown = cooldown;
        self
    }

    /// The most candidate addresses kept. Default: 16. A new one past it
    /// replaces the least recently seen observed address that is not
    /// confirmed reachable nor being tested, or is dropped when there is
    /// none. As many addresses seen by too few observers yet are kept
    /// aside (the oldest forgotten first).
    #[must_use]
    pub fn with_max_candidates(mut self, max: usize) -> Self {
        self.max_candidates = max;
        self
    }

    /// The most requests in flight at once. Default: 2.
    #[must_use]
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// The most addresses in one request (the first is the one to test,
    /// the others are fallbacks for a server that cannot dial it).
    /// Default: 4.
    #[must_use]
    pub fn with_max_addrs_per_request(mut self, max: usize) -> Self {
        self.max_addrs_per_request = max.max(1);
        self
    }

    /// The most dial data sent for one request. Default: 100 000 bytes,
    /// the top of the spec's range; a server asking more is refused (the
    /// stream is reset, as the spec says).
    #[must_use]
    pub fn with_max_dial_data(mut self, bytes: u64) -> Self {
        self.max_dial_data = bytes;
        self
    }

    /// How long one request may take, dial data and dial back included.
    /// Default: 35 s (a strata server takes up to 30).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// **Tests and labs only.** Tests loopback and private addresses too.
    /// Default: no (the spec: "Client SHOULD NOT send any private
    /// address").
    #[must_use]
    pub fn with_private_addrs(mut self, allow: bool) -> Self {
        self.allow_private_addrs = allow;
        self
    }
}
