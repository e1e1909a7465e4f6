//! `kad::Config`: the mode, the spec's parameters (k, α), the limits and
//! time-outs, the stores' bounds and lifetimes, and the record validator.

use std::{fmt, sync::Arc, time::Duration};

use crate::{
    proto::Record,
    query::QueryParams,
    store::{StoreLimits, Ttls},
};

/// Server mode answers queries and is announced (identify lists the
/// protocol); client mode only asks (spec "Client and server mode").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers queries; enters others' routing tables.
    Server,
    /// Only asks; never in a routing table.
    Client,
}

/// Checks records before they are stored or returned, and picks the best
/// of several (spec "Entry validation").
pub trait RecordValidator: Send + Sync + 'static {
    /// Whether the record may be stored or believed.
    fn validate(&self, record: &Record) -> bool;
    /// The index of the best of `values` (all valid) for `key`. Default:
    /// the first.
    fn select(&self, _key: &[u8], _values: &[Vec<u8>]) -> usize {
        0
    }
}

/// Configuration of [`crate::Kad`].
#[derive(Clone)]
pub struct Config {
    pub(crate) mode: Mode,
    pub(crate) query: QueryParams,
    pub(crate) query_timeout: Duration,
    pub(crate) max_message_len: usize,
    pub(crate) quorum: usize,
    pub(crate) limits: StoreLimits,
    pub(crate) ttls: Ttls,
    pub(crate) bootstrap_interval: Option<Duration>,
    pub(crate) validator: Option<Arc<dyn RecordValidator>>,
    pub(crate) max_inbound_streams: usize,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("query", &self.query)
            .field("quorum", &self.quorum)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    /// Server mode; k = 20, α = 3, at most 200 requests and 60 s per
    /// lookup, 10 s per request; messages up to 128 KiB; quorum 1; the
    /// store's default limits and lifetimes; bootstrap every 10 minutes
    /// (the spec's default); every record valid.
    fn default() -> Self {
        Self {
            mode: Mode::Server,
            query: QueryParams { alpha: 3, k: 20, max_requests: 200, request_timeout: Duration::from_secs(10) },
            query_timeout: Duration::from_mins(1),
            max_message_len: 128 * 1024,
            quorum: 1,
            limits: StoreLimits::default(),
            ttls: Ttls::default(),
            bootstrap_interval: Some(Duration::from_mins(10)),
            validator: None,
            max_inbound_streams: 64,
        }
    }
}

impl Config {
    /// Server or client mode. Default: server.
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The replication parameter k (bucket size, peers a lookup ends on).
    /// Default: 20.
    #[must_use]
    pub fn with_k(mut self, k: usize) -> Self {
        self.query.k = k.max(1);
        self
    }

    /// Requests in flight per lookup (α). Default: 3.
    #[must_use]
    pub fn with_alpha(mut self, alpha: usize) -> Self {
        self.query.alpha = alpha.max(1);
        self
    }

    /// How long one request, and one whole lookup, may take. Defaults:
    /// 10 s and 60 s.
    #[must_use]
    pub fn with_timeouts(mut self, request: Duration, query: Duration) -> Self {
        self.query.request_timeout = request;
        self.query_timeout = query;
        self
    }

    /// How many answers with a record a `get_value` waits for. Default: 1.
    #[must_use]
    pub fn with_quorum(mut self, quorum: usize) -> Self {
        self.quorum = quorum.max(1);
        self
    }

    /// The store's bounds. Default: [`StoreLimits::default`].
    #[must_use]
    pub fn with_store_limits(mut self, limits: StoreLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Record and provider lifetimes and republish intervals. Default:
    /// [`Ttls::default`].
    #[must_use]
    pub fn with_ttls(mut self, ttls: Ttls) -> Self {
        self.ttls = ttls;
        self
    }

    /// How often the routing table is refreshed (a self-lookup and a
    /// lookup per bucket), or `None` for never. Default: 10 minutes.
    #[must_use]
    pub fn with_bootstrap_interval(mut self, interval: Option<Duration>) -> Self {
        self.bootstrap_interval = interval;
        self
    }

    /// The record validator. Default: none (every record is valid, the
    /// first answer wins).
    #[must_use]
    pub fn with_validator(mut self, validator: impl RecordValidator) -> Self {
        self.validator = Some(Arc::new(validator));
        self
    }
}
