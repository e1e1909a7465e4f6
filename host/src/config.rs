//! `host::Config`: every limit and timeout of a host, with its default and
//! what happens when it is reached.

use std::time::Duration;

/// Configuration of a [`crate::Host`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) upgrade_timeout: Duration,
    pub(crate) negotiation_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_pending_upgrades: usize,
    pub(crate) max_pending_dials: usize,
    pub(crate) event_capacity: usize,
    pub(crate) lifecycle_capacity: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) max_peers: usize,
    pub(crate) max_addrs_per_peer: usize,
    pub(crate) peer_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            upgrade_timeout: Duration::from_secs(10),
            negotiation_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_pending_upgrades: 64,
            max_pending_dials: 64,
            event_capacity: 1024,
            lifecycle_capacity: 256,
            shutdown_timeout: Duration::from_secs(5),
            max_peers: 10_000,
            max_addrs_per_peer: 32,
            peer_ttl: Duration::from_hours(1),
        }
    }
}

impl Config {
    /// How long a new connection may take from the first byte to a
    /// multiplexed, authenticated connection (security and muxer
    /// negotiation, handshake, muxer setup). Default: 10 s. Past it the
    /// connection is dropped (a silent peer costs no more than this).
    #[must_use]
    pub fn with_upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade_timeout = timeout;
        self
    }

    /// How long protocol negotiation on a new stream may take. Default:
    /// 10 s. Past it the stream is dropped.
    #[must_use]
    pub fn with_negotiation_timeout(mut self, timeout: Duration) -> Self {
        self.negotiation_timeout = timeout;
        self
    }

    /// How many connections may be established at once. Default: 1024.
    /// Past it, a dial fails with [`crate::Error::ConnectionLimit`] and an
    /// inbound connection is closed once upgraded.
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How many inbound connections may be in their upgrade at once.
    /// Default: 64. Past it, newly accepted connections are closed at once
    /// (a flood of half-open handshakes cannot tie up the host).
    #[must_use]
    pub fn with_max_pending_upgrades(mut self, max: usize) -> Self {
        self.max_pending_upgrades = max.max(1);
        self
    }

    /// How many dials may be in progress at once. Default: 64. Past it, a
    /// dial waits for a slot.
    #[must_use]
    pub fn with_max_pending_dials(mut self, max: usize) -> Self {
        self.max_pending_dials = max.max(1);
        self
    }

    /// How many events wait for the slowest subscriber. Default: 1024. A
    /// subscriber further behind misses the oldest events and is told how
    /// many (`RecvError::Lagged`).
    #[must_use]
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// How many connection events wait in each protocol's
    /// [`crate::Lifecycle`] before the host waits for it (back-pressure,
    /// never loss). Default: 256.
    #[must_use]
    pub fn with_lifecycle_capacity(mut self, capacity: usize) -> Self {
        self.lifecycle_capacity = capacity.max(1);
        self
    }

    /// How long `shutdown` waits for connections to close and tasks to end.
    /// Default: 5 s. Past it, the remaining tasks are cancelled.
    #[must_use]
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How many peers the peer store remembers. Default: 10 000. When
    /// full, the disconnected peer seen longest ago is forgotten; connected
    /// peers are never evicted.
    #[must_use]
    pub fn with_max_peers(mut self, max: usize) -> Self {
        self.max_peers = max.max(1);
        self
    }

    /// How many addresses the peer store keeps per peer (the newest).
    /// Default: 32.
    #[must_use]
    pub fn with_max_addrs_per_peer(mut self, max: usize) -> Self {
        self.max_addrs_per_peer = max.max(1);
        self
    }

    /// How long the peer store remembers a peer after its last connection
    /// closed. Default: 1 hour.
    #[must_use]
    pub fn with_peer_ttl(mut self, ttl: Duration) -> Self {
        self.peer_ttl = ttl;
        self
    }
}
