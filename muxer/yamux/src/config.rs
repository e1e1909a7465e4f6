//! `yamux::Config`: every limit of a yamux connection, with its default
//! and what happens when it is reached.

use std::time::Duration;

use crate::session::SessionConfig;

/// Configuration of the yamux muxer.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub(crate) session: SessionConfig,
}

impl Config {
    strata_core::connection_config_setters!(session.connection);

    /// How many streams (opened by either side) may be open at once.
    /// Default: 256. Past it, a stream the remote opens is reset at once,
    /// and `open_stream` fails with [`crate::Error::TooManyStreams`].
    #[must_use]
    pub fn with_max_streams(mut self, max: usize) -> Self {
        self.session.max_streams = max;
        self
    }

    /// How many of our streams the remote may leave unacknowledged (the
    /// spec's ACK backlog). Default: 256. Past it, `open_stream` waits for
    /// an acknowledgement.
    #[must_use]
    pub fn with_max_ack_backlog(mut self, max: usize) -> Self {
        self.session.max_ack_backlog = max.max(1);
        self
    }

    /// The most one stream's receive window grows to with the measured
    /// bandwidth-delay product. Default: 16 MiB; at least the initial
    /// 256 KiB (which is also how much a stalled reader can cost).
    #[must_use]
    pub fn with_max_stream_window(mut self, bytes: u32) -> Self {
        self.session.max_stream_window = bytes.max(crate::INITIAL_WINDOW);
        self
    }

    /// The most all receive windows of a connection add up to once grown,
    /// and the most its streams may hold unread before the connection
    /// stops reading its socket (back-pressure on the remote). Default:
    /// 64 MiB.
    #[must_use]
    pub fn with_max_connection_window(mut self, bytes: u64) -> Self {
        self.session.max_connection_window = bytes;
        self
    }

    /// The largest data frame sent: larger writes are split, so streams
    /// writing at once share the connection in turns. Default: 16 KiB.
    #[must_use]
    pub fn with_split_send_size(mut self, bytes: usize) -> Self {
        self.session.max_frame_len = bytes.clamp(1, self.session.max_received_frame_len);
        self
    }

    /// The largest frame accepted from the remote (a data frame also
    /// cannot exceed the window it was given). Default: 16 MiB. A larger
    /// one ends the connection.
    #[must_use]
    pub fn with_max_frame_len(mut self, bytes: usize) -> Self {
        self.session.max_received_frame_len = bytes.max(1);
        self
    }

    /// Pings the remote every `interval` (measuring the round trip that
    /// window growth uses); a ping still unanswered at the next one ends
    /// the connection. Default: off (one ping at the start measures the
    /// round trip).
    #[must_use]
    pub fn with_keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.session.keep_alive = interval;
        self
    }
}
