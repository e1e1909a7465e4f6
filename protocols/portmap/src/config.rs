//! `portmap::Config`: where to find the gateway, the lease, and every
//! bound of the mapper, each with its default.

use std::{net::SocketAddr, time::Duration};

/// How the mapper finds the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discovery {
    /// SSDP: an `M-SEARCH` to the multicast group `239.255.255.250:1900`
    /// (what a home LAN needs).
    Ssdp,
    /// The `M-SEARCH` sent straight to this address (the gateway's IP and
    /// SSDP port, `192.168.1.1:1900`): for LANs where multicast does not
    /// pass, and for the lab.
    Gateway(SocketAddr),
}

/// The port mapper's settings. Every bound says what happens when it is
/// reached.
#[derive(Clone, Debug)]
#[must_use]
pub struct Config {
    pub(crate) discovery: Discovery,
    pub(crate) lease: Duration,
    pub(crate) retry: Duration,
    pub(crate) search_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) removal_timeout: Duration,
    pub(crate) max_mappings: usize,
    pub(crate) description: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            discovery: Discovery::Ssdp,
            lease: Duration::from_hours(1),
            retry: Duration::from_mins(1),
            search_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            removal_timeout: Duration::from_secs(3),
            max_mappings: 8,
            description: "strata".to_owned(),
        }
    }
}

impl Config {
    /// How the gateway is found. Default: [`Discovery::Ssdp`].
    pub fn with_discovery(mut self, discovery: Discovery) -> Self {
        self.discovery = discovery;
        self
    }

    /// The lease asked for each mapping; the mapper renews it at half.
    /// Default: one hour. Clamped to 2 s ..= 7 days (`IGDv2` allows no
    /// infinite lease and at most 604 800 s).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(Duration::from_secs(2), Duration::from_hours(168));
        self
    }

    /// How long after a failure (no gateway, a refusal) the mapper tries
    /// again. Default: 60 s.
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// How long the SSDP search waits for a gateway. Default: 5 s; then
    /// [`crate::Event::Failed`] and a retry later.
    pub fn with_search_timeout(mut self, timeout: Duration) -> Self {
        self.search_timeout = timeout;
        self
    }

    /// How long one request to the gateway (external IP, add, remove) may
    /// take. Default: 5 s; then the request counts as failed.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long removing every mapping at shutdown may take in all.
    /// Default: 3 s; mappings not removed by then expire with their lease.
    pub fn with_removal_timeout(mut self, timeout: Duration) -> Self {
        self.removal_timeout = timeout;
        self
    }

    /// The most mappings at once. Default: 8; listen addresses past it are
    /// not mapped ([`crate::Event::Failed`] says so once each).
    pub fn with_max_mappings(mut self, max: usize) -> Self {
        self.max_mappings = max;
        self
    }

    /// The description the gateway shows for each mapping. Default:
    /// `strata`.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}
