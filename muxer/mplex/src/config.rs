//! `mplex::Config`: every limit of an mplex connection, with its default
//! and what happens when it is reached.

use std::time::Duration;

use crate::frame::MAX_FRAME_LEN;

/// What to do when a stream's reader falls behind and its receive buffer
/// is full. mplex has no flow control (spec, "Implementation notes"), so
/// one of the two must happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Stop reading the connection until the slow stream's reader catches
    /// up. No data is lost, and TCP pushes back on the sender; every other
    /// stream of the connection waits meanwhile (head-of-line blocking).
    Block,
    /// Reset the slow stream (both sides see the reset), and keep the
    /// connection's other streams flowing.
    ResetStream,
}

/// Configuration of the mplex muxer.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) max_streams: usize,
    pub(crate) max_buffer: usize,
    pub(crate) max_connection_buffer: usize,
    pub(crate) memory_budget: Option<strata_core::MemoryBudget>,
    pub(crate) overflow: Overflow,
    pub(crate) split_send_size: usize,
    pub(crate) max_outbound_queue: usize,
    pub(crate) max_frame_len: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) stall_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_streams: 256,
            max_buffer: 1 << 20,
            max_connection_buffer: 8 << 20,
            memory_budget: None,
            overflow: Overflow::Block,
            split_send_size: 64 * 1024,
            max_outbound_queue: 256 * 1024,
            max_frame_len: MAX_FRAME_LEN,
            close_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// How many streams (opened by either side) may be open at once.
    /// Default: 256. Past it, a stream the remote opens is reset at once,
    /// and `open_stream` fails with [`crate::Error::TooManyStreams`].
    #[must_use]
    pub fn with_max_streams(mut self, max: usize) -> Self {
        self.max_streams = max;
        self
    }

    /// How many received bytes all streams of the connection together may
    /// hold unread. Default: 8 MiB. Past it, the connection stops reading
    /// its socket until the application reads (back-pressure on the
    /// remote): a peer cannot pin more than this much of our memory with
    /// unread data, however many streams it opens.
    #[must_use]
    pub fn with_max_connection_buffer(mut self, bytes: usize) -> Self {
        self.max_connection_buffer = bytes.max(1);
        self
    }

    /// A node-wide budget that every connection made with this config
    /// shares (clones of a [`strata_core::MemoryBudget`] share it): each
    /// adds what it buffers unread, and a connection stops reading its
    /// socket while the node is over budget, until applications read.
    /// Default: none (each connection is still bounded by
    /// [`Config::with_max_connection_buffer`]).
    #[must_use]
    pub fn with_memory_budget(mut self, budget: strata_core::MemoryBudget) -> Self {
        self.memory_budget = Some(budget);
        self
    }

    /// How long a peer may leave unread the frames it made us owe it
    /// (resets of streams it opened past the limit or overflowed) while
    /// reading from it is paused for them. Default: 10 s. Past it the
    /// connection fails: a peer that forces unbounded queuing loses it.
    #[must_use]
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// How many received bytes one stream may hold unread. Default: 1 MiB.
    /// Past it, the [`Overflow`] policy applies.
    #[must_use]
    pub fn with_max_buffer(mut self, bytes: usize) -> Self {
        self.max_buffer = bytes.max(1);
        self
    }

    /// What happens when a stream's receive buffer is full. Default:
    /// [`Overflow::Block`].
    #[must_use]
    pub fn with_overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The largest data frame sent: larger writes are split. Default:
    /// 64 KiB, so that streams writing at once share the connection in turns
    /// of that size; at most 1 MiB (the spec's limit).
    #[must_use]
    pub fn with_split_send_size(mut self, bytes: usize) -> Self {
        self.split_send_size = bytes.clamp(1, MAX_FRAME_LEN);
        self
    }

    /// How many encoded bytes may wait for the socket before writers wait.
    /// Default: 256 KiB. This is where the connection pushes back on local
    /// writers.
    #[must_use]
    pub fn with_max_outbound_queue(mut self, bytes: usize) -> Self {
        self.max_outbound_queue = bytes.max(1);
        self
    }

    /// The largest data frame accepted from the remote. Default: 1 MiB (the
    /// spec's limit). A larger frame is a protocol violation and ends the
    /// connection.
    #[must_use]
    pub fn with_max_frame_len(mut self, bytes: usize) -> Self {
        self.max_frame_len = bytes.min(MAX_FRAME_LEN);
        self
    }

    /// How long closing may take to flush what is queued. Default: 5 s. Past
    /// it the socket is dropped with frames unsent (a remote that stopped
    /// reading cannot hold a closing connection open).
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}
