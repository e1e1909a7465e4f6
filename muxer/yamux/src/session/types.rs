//! The words of a yamux session: which side we are, and its limits.

use std::time::Duration;

use strata_core::muxer::ConnectionConfig;

/// Which side of the connection we are: it decides stream id parity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We dialed: our streams have odd ids.
    Client,
    /// We accepted: our streams have even ids.
    Server,
}

/// Limits of a session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Streams open at once (both directions); past it, the remote's new
    /// streams are reset and ours refused.
    pub max_streams: usize,
    /// Our streams the remote has not acknowledged yet (the spec's ACK
    /// backlog, 256); past it, opening waits.
    pub max_ack_backlog: usize,
    /// The largest data frame we send.
    pub max_frame_len: usize,
    /// The largest frame we accept (a larger one ends the session).
    pub max_received_frame_len: usize,
    /// The most one stream's receive window grows to.
    pub max_stream_window: u32,
    /// The most all receive windows of the session add up to once grown
    /// (each stream starts at 256 KiB whatever this says).
    pub max_connection_window: u64,
    /// The keep-alive ping interval, if any.
    pub keep_alive: Option<Duration>,
    /// The limits every muxer shares (outbound queue, stall and close
    /// timeouts, the node's memory budget).
    pub connection: ConnectionConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_streams: 256,
            max_ack_backlog: 256,
            max_frame_len: 16 * 1024,
            max_stream_window: 16 << 20,
            max_connection_window: 64 << 20,
            max_received_frame_len: 16 << 20,
            keep_alive: None,
            connection: ConnectionConfig::default(),
        }
    }
}
