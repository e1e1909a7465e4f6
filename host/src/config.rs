//! `host::Config`: every limit and timeout of a host, with its default and
//! what happens when it is reached.

use std::time::Duration;

/// Configuration of a [`crate::Host`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) upgrade_timeout: Duration,
    pub(crate) first_step_timeout: Duration,
    pub(crate) negotiation_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_pending_upgrades: usize,
    pub(crate) max_pending_upgrades_per_ip: usize,
    pub(crate) max_pending_upgrades_per_subnet: usize,
    pub(crate) accept_rate_per_ip: f64,
    pub(crate) max_connections_per_peer: usize,
    pub(crate) max_inbound_connections: usize,
    pub(crate) max_pending_dials: usize,
    pub(crate) event_capacity: usize,
    pub(crate) lifecycle_capacity: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) max_peers: usize,
    pub(crate) max_addrs_per_peer: usize,
    pub(crate) max_peer_store_bytes: usize,
    pub(crate) peer_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            upgrade_timeout: Duration::from_secs(10),
            first_step_timeout: Duration::from_secs(3),
            negotiation_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_pending_upgrades: 256,
            max_pending_upgrades_per_ip: 16,
            max_pending_upgrades_per_subnet: 64,
            accept_rate_per_ip: crate::admission::DEFAULT_ACCEPT_RATE,
            max_connections_per_peer: 8,
            max_inbound_connections: 768,
            max_pending_dials: 64,
            event_capacity: 1024,
            lifecycle_capacity: 256,
            shutdown_timeout: Duration::from_secs(5),
            max_peers: 10_000,
            max_addrs_per_peer: 32,
            max_peer_store_bytes: 32 << 20,
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

    /// How long an inbound connection may take to agree on a security
    /// protocol, its first step. Default: 3 s. Past it the connection is
    /// dropped: a silent or byte-a-second socket frees its handshake slot
    /// early instead of holding it for the whole upgrade timeout.
    #[must_use]
    pub fn with_first_step_timeout(mut self, timeout: Duration) -> Self {
        self.first_step_timeout = timeout;
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

    /// How many inbound connections may be in their upgrade at once, in
    /// all. Default: 256. Past it, newly accepted connections are closed at
    /// once. Each address and subnet also has its own, smaller share
    /// ([`Config::with_max_pending_upgrades_per_ip`]), so one source of
    /// half-open handshakes cannot take every slot.
    #[must_use]
    pub fn with_max_pending_upgrades(mut self, max: usize) -> Self {
        self.max_pending_upgrades = max.max(1);
        self
    }

    /// How many inbound upgrades one IP address, and one subnet (/24 for
    /// IPv4, /64 for IPv6), may have in progress. Defaults: 16 and 64.
    /// Past it, a new socket from there is closed before any handshake.
    #[must_use]
    pub fn with_max_pending_upgrades_per_ip(mut self, per_ip: usize, per_subnet: usize) -> Self {
        self.max_pending_upgrades_per_ip = per_ip.max(1);
        self.max_pending_upgrades_per_subnet = per_subnet.max(1);
        self
    }

    /// How many connections per second one IP address may open to us,
    /// sustained (bursts of twice as many are let through). Default: 50.
    /// Past it, sockets from there are closed before any handshake.
    #[must_use]
    pub fn with_accept_rate_per_ip(mut self, per_second: u32) -> Self {
        self.accept_rate_per_ip = f64::from(per_second.max(1));
        self
    }

    /// How many connections one peer may have established at once, both
    /// directions. Default: 8. Past it, a new one is closed once
    /// authenticated ([`crate::Error::PeerConnectionLimit`]).
    #[must_use]
    pub fn with_max_connections_per_peer(mut self, max: usize) -> Self {
        self.max_connections_per_peer = max.max(1);
        self
    }

    /// How many of the connections may be inbound. Default: 768 (of
    /// 1024), so that inbound connections cannot take the room our own
    /// dials need. Past it, an inbound connection is closed once
    /// authenticated.
    #[must_use]
    pub fn with_max_inbound_connections(mut self, max: usize) -> Self {
        self.max_inbound_connections = max;
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

    /// How much memory the peer store may use for what peers tell of
    /// themselves (addresses, protocols, versions). Default: 32 MiB. Past
    /// it, the disconnected peers seen longest ago are forgotten first.
    #[must_use]
    pub fn with_max_peer_store_bytes(mut self, bytes: usize) -> Self {
        self.max_peer_store_bytes = bytes;
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
