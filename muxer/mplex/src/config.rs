//! `mplex::Config`: every limit of an mplex connection, with its default
//! and what happens when it is reached.

use strata_core::muxer::ConnectionConfig;

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
    pub(crate) overflow: Overflow,
    pub(crate) split_send_size: usize,
    pub(crate) max_frame_len: usize,
    pub(crate) connection: ConnectionConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_streams: 256,
            max_buffer: 1 << 20,
            max_connection_buffer: 8 << 20,
            overflow: Overflow::Block,
            split_send_size: 64 * 1024,
            max_frame_len: MAX_FRAME_LEN,
            connection: ConnectionConfig::default(),
        }
    }
}

impl Config {
    strata_core::connection_config_setters!(connection);

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

    /// The largest data frame accepted from the remote. Default: 1 MiB (the
    /// spec's limit). A larger frame is a protocol violation and ends the
    /// connection.
    #[must_use]
    pub fn with_max_frame_len(mut self, bytes: usize) -> Self {
        self.max_frame_len = bytes.min(MAX_FRAME_LEN);
        self
    }
}
