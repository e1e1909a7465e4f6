//! `muxer::ConnectionConfig`: the limits every muxed connection has, the
//! same for every muxer, and [`connection_config_setters!`](crate::connection_config_setters),
//! which gives a muxer's `Config` their setters (one text, one meaning).

use std::time::Duration;

use crate::MemoryBudget;

/// The limits the driver and every session share. Each muxer's `Config`
/// holds one and offers its setters.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    /// Encoded bytes that may wait for the socket before writers wait.
    pub max_outbound_queue: usize,
    /// How long closing may take to flush what is queued.
    pub close_timeout: Duration,
    /// How long a peer may leave unread the frames it provoked.
    pub stall_timeout: Duration,
    /// The node-wide budget of unread bytes, if any.
    pub memory_budget: Option<MemoryBudget>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_outbound_queue: 256 * 1024,
            close_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(10),
            memory_budget: None,
        }
    }
}

/// The setters of a [`ConnectionConfig`] held at `$($field).+` of a
/// muxer's `Config`: expand it inside the `Config`'s `impl` block.
#[macro_export]
macro_rules! connection_config_setters {
    ($($field:ident).+) => {
        /// How many encoded bytes may wait for the socket before writers
        /// wait. Default: 256 KiB. This is where the connection pushes back
        /// on local writers, and the most the frames a remote provoked may
        /// take before reading from it pauses.
        #[must_use]
        pub fn with_max_outbound_queue(mut self, bytes: usize) -> Self {
            self.$($field).+.max_outbound_queue = bytes.max(1);
            self
        }

        /// How long closing may take to flush what is queued. Default: 5 s.
        /// Past it the socket is dropped with frames unsent (a remote that
        /// stopped reading cannot hold a closing connection open).
        #[must_use]
        pub fn with_close_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.$($field).+.close_timeout = timeout;
            self
        }

        /// How long a peer may leave unread the frames it made us owe it
        /// (answers to its pings, resets of streams it opened past the
        /// limit) while reading from it is paused for them. Default: 10 s.
        /// Past it the connection fails with `Error::Stalled`: a peer that
        /// forces unbounded queuing loses it.
        #[must_use]
        pub fn with_stall_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.$($field).+.stall_timeout = timeout;
            self
        }

        /// A node-wide budget that every connection made with this config
        /// shares (clones of a `strata_core::MemoryBudget` share it): each
        /// adds what its streams hold unread, and a connection stops reading
        /// its socket while the node is over budget, until applications
        /// read. Default: none (each connection is still bounded alone).
        #[must_use]
        pub fn with_memory_budget(mut self, budget: $crate::MemoryBudget) -> Self {
            self.$($field).+.memory_budget = Some(budget);
            self
        }
    };
}
