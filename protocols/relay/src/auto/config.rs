//! `AutoRelayConfig`: how many reservations auto-relay keeps, how many
//! candidates it remembers, how long a failing relay waits, and when it
//! acts at all.

use std::time::Duration;

/// Configuration of [`crate::AutoRelay`].
#[derive(Clone, Debug)]
pub struct AutoRelayConfig {
    pub(crate) wanted: usize,
    pub(crate) max_candidates: usize,
    pub(crate) backoff: Duration,
    pub(crate) enabled: bool,
    pub(crate) always: bool,
    pub(crate) allow_private_relays: bool,
    pub(crate) attempt_timeout: Duration,
    pub(crate) event_capacity: usize,
}

impl Default for AutoRelayConfig {
    fn default() -> Self {
        Self {
            wanted: 2,
            max_candidates: 32,
            backoff: Duration::from_mins(1),
            enabled: true,
            always: false,
            allow_private_relays: false,
            attempt_timeout: Duration::from_mins(1),
            event_capacity: 64,
        }
    }
}

impl AutoRelayConfig {
    /// How many reservations to keep, on distinct relays, while the node is
    /// private. Default: 2 (one relay lost leaves the node reachable while
    /// another is found).
    #[must_use]
    pub fn with_reservations(mut self, wanted: usize) -> Self {
        self.wanted = wanted;
        self
    }

    /// How many candidate relays to remember. Default: 32. One more evicts
    /// the oldest that holds no reservation (not connected ones first); if
    /// every one holds a reservation, the new one is ignored.
    #[must_use]
    pub fn with_max_candidates(mut self, max: usize) -> Self {
        self.max_candidates = max.max(1);
        self
    }

    /// How long a relay that refused, failed or dropped a reservation waits
    /// before it is tried again. Default: 1 minute.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Whether auto-relay acts from the start. Default: `true`. Disabled,
    /// it holds no reservation; [`crate::AutoRelay::set_enabled`] turns it
    /// on and off.
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Keep the reservations whatever the reachability verdict (as if
    /// always private). Default: `false`: reservations are made only once
    /// the node is found private ([`crate::Reachability::Private`]). For a
    /// node known to be behind a NAT, or one without `AutoNAT` (an example
    /// that should be reachable through relays at once).
    #[must_use]
    pub fn with_always(mut self, always: bool) -> Self {
        self.always = always;
        self
    }

    /// Whether relays with only loopback or private addresses may be used.
    /// Default: `false`: such a relay is useless to peers outside its
    /// network. Tests on 127.0.0.1 and LAN labs turn it on.
    #[must_use]
    pub fn with_private_relays(mut self, allow: bool) -> Self {
        self.allow_private_relays = allow;
        self
    }

    /// How long one reservation attempt (dialing the relay, then reserving)
    /// may take. Default: 1 minute. Then it counts as failed and the relay
    /// backs off.
    #[must_use]
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// How many [`crate::AutoRelayEvent`]s wait for a slow subscriber
    /// before it misses the oldest. Default: 64.
    #[must_use]
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }
}
