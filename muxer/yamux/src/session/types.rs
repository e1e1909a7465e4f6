//! The words of a yamux session: which side we are, its limits, what it
//! reports, and how its calls fail.

use crate::frame::GoAway;

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
    /// The most one stream's receive window grows to.
    pub max_stream_window: u32,
    /// The most all receive windows of the session add up to once grown
    /// (each stream starts at 256 KiB whatever this says).
    pub max_connection_window: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_streams: 256,
            max_ack_backlog: 256,
            max_frame_len: 16 * 1024,
            max_stream_window: 16 << 20,
            max_connection_window: 64 << 20,
        }
    }
}

/// What the session reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The remote opened a stream (accept it with [`Session::accept`](super::Session::accept)).
    Inbound(u32),
    /// Data arrived on a stream.
    Readable(u32),
    /// More of a stream's send window is free.
    Writable(u32),
    /// The remote half-closed a stream.
    RemoteClosed(u32),
    /// A stream was reset by the remote.
    Reset(u32),
    /// The answer to one of our pings.
    Pong(u32),
    /// The remote ends the session.
    GoAway(Option<GoAway>),
}

/// Why the session failed (a go-away with the protocol-error code is
/// queued for the remote).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The remote opened a stream with our parity, id 0, or an id in use.
    #[error("the remote opened stream {0}, which it may not")]
    BadStreamId(u32),
    /// The remote sent more than the window we granted.
    #[error("the remote sent {len} bytes on stream {stream} past a window of {window}")]
    WindowExceeded {
        /// The stream.
        stream: u32,
        /// The bytes sent.
        len: usize,
        /// The window left.
        window: u32,
    },
    /// A window update overflowed the window.
    #[error("a window update overflowed stream {0}'s window")]
    WindowOverflow(u32),
}

/// Why an application call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// No such stream (never opened, or closed and forgotten).
    #[error("no such stream")]
    Unknown,
    /// The stream was reset.
    #[error("the stream was reset")]
    Reset,
    /// We closed it for writing.
    #[error("write after close")]
    Closed,
    /// Too many streams.
    #[error("too many streams")]
    TooMany,
    /// Too many of our streams not acknowledged yet: wait for an ACK.
    #[error("too many streams not acknowledged by the remote yet")]
    AckBacklog,
    /// The session has ended.
    #[error("the session has ended")]
    SessionEnded,
}
