//! `relay::Config`: the hop service's limits, each with go-libp2p's
//! default as a floor and what happens when it is reached.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Reservation" (TTL, the `Limit` a
//! relay applies to relayed connections) and "Connection Initiation" (the
//! refusals). The counts are enforced by [`crate::HopState`]; the time and
//! byte caps by the splice of each circuit.

use std::time::Duration;

/// Configuration of the hop service ([`crate::Relay`]).
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) reservation_ttl: Duration,
    pub(crate) max_reservations: usize,
    pub(crate) max_reservations_per_ip: usize,
    pub(crate) max_circuits: usize,
    pub(crate) max_circuits_per_peer: usize,
    pub(crate) circuit_duration: Duration,
    pub(crate) circuit_bytes: u64,
    pub(crate) handshake_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            reservation_ttl: Duration::from_hours(1),
            max_reservations: 128,
            max_reservations_per_ip: 8,
            max_circuits: 16,
            max_circuits_per_peer: 16,
            circuit_duration: Duration::from_mins(2),
            circuit_bytes: 128 * 1024,
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// How long a reservation lasts unless renewed. Default: 1 hour. A
    /// reservation also ends when its peer's last connection closes.
    #[must_use]
    pub fn with_reservation_ttl(mut self, ttl: Duration) -> Self {
        self.reservation_ttl = ttl;
        self
    }

    /// How many peers may hold a reservation at once. Default: 128. One
    /// more is refused with `RESERVATION_REFUSED`; a renewal always
    /// passes.
    #[must_use]
    pub fn with_max_reservations(mut self, max: usize) -> Self {
        self.max_reservations = max;
        self
    }

    /// How many reservations peers connected from one IP may hold. Default:
    /// 8. One more is refused with `RESERVATION_REFUSED`.
    #[must_use]
    pub fn with_max_reservations_per_ip(mut self, max: usize) -> Self {
        self.max_reservations_per_ip = max;
        self
    }

    /// How many circuits may be relayed at once. Default: 16. One more
    /// `CONNECT` is refused with `RESOURCE_LIMIT_EXCEEDED`.
    #[must_use]
    pub fn with_max_circuits(mut self, max: usize) -> Self {
        self.max_circuits = max;
        self
    }

    /// How many circuits one peer may take part in (as initiator or
    /// target) at once. Default: 16 (go-libp2p's `MaxCircuits`, which is
    /// per peer). One more is refused with `RESOURCE_LIMIT_EXCEEDED`.
    #[must_use]
    pub fn with_max_circuits_per_peer(mut self, max: usize) -> Self {
        self.max_circuits_per_peer = max;
        self
    }

    /// How long a circuit may stay open. Default: 2 minutes. Then both of
    /// its streams are reset. Announced as `Limit.duration` (whole seconds,
    /// rounded up).
    #[must_use]
    pub fn with_circuit_duration(mut self, duration: Duration) -> Self {
        self.circuit_duration = duration;
        self
    }

    /// How many bytes a circuit may carry in each direction. Default:
    /// 128 KiB. A byte past it resets both of its streams. Announced as
    /// `Limit.data`.
    #[must_use]
    pub fn with_circuit_bytes(mut self, bytes: u64) -> Self {
        self.circuit_bytes = bytes;
        self
    }

    /// How long a client has to send its hop request, and a target to
    /// answer the stop request. Default: 30 seconds. Then the stream is
    /// dropped (a `CONNECT` gets `CONNECTION_FAILED`).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The `Limit` announced to clients.
    pub(crate) fn limit(&self) -> crate::Limit {
        let secs = self.circuit_duration.as_secs() + u64::from(self.circuit_duration.subsec_nanos() > 0);
        crate::Limit { duration: Some(u32::try_from(secs).unwrap_or(u32::MAX)), data: Some(self.circuit_bytes) }
    }
}

/// Configuration of the client side ([`crate::Client`]).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) max_pending_circuits: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) min_renewal_delay: Duration,
    pub(crate) event_capacity: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_pending_circuits: 16,
            handshake_timeout: Duration::from_secs(30),
            min_renewal_delay: Duration::from_secs(5),
            event_capacity: 64,
        }
    }
}

impl ClientConfig {
    /// How many accepted circuits per relay may wait for the host to take
    /// them. Default: 16. One more is refused with
    /// `RESOURCE_LIMIT_EXCEEDED` on its stop stream.
    #[must_use]
    pub fn with_max_pending_circuits(mut self, max: usize) -> Self {
        self.max_pending_circuits = max.max(1);
        self
    }

    /// How long a reservation, a `CONNECT` or a stop exchange may take.
    /// Default: 30 seconds. Then it fails (a dial or listen with
    /// [`crate::Error::Timeout`]; a stop stream is dropped).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The shortest wait between two renewals of a reservation. Default:
    /// 5 seconds. A reservation is renewed when three quarters of its
    /// remaining time have passed; a failed renewal is tried again the same
    /// way, never sooner than this.
    #[must_use]
    pub fn with_min_renewal_delay(mut self, delay: Duration) -> Self {
        self.min_renewal_delay = delay;
        self
    }

    /// How many [`crate::ClientEvent`]s wait for a slow subscriber before
    /// it misses the oldest. Default: 64.
    #[must_use]
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }
}
