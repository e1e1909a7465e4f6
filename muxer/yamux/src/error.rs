//! The error type of `strata-yamux`.
//!
//! Connection-level failures are typed; a stream, being a byte stream,
//! reports its failures as `std::io::Error` (`ConnectionReset` for a reset
//! stream, `ConnectionAborted` for a stream whose connection ended,
//! `BrokenPipe` for a write after close).

use crate::{FrameError, SessionError};

/// What a yamux connection can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed.
    #[error("i/o error on the yamux connection: {0}")]
    Io(String),

    /// The remote sent a frame that does not decode.
    #[error("yamux frame error: {0}")]
    Frame(#[from] FrameError),

    /// The remote broke a rule of the session.
    #[error("yamux protocol violation: {0}")]
    Protocol(#[from] SessionError),

    /// The remote did not answer a keep-alive ping in time.
    #[error("the remote did not answer a keep-alive ping within {0:?}")]
    KeepAliveTimeout(std::time::Duration),

    /// The remote read none of the frames it made us owe it, for this long.
    #[error("the remote read none of the frames it made us owe it for {0:?}")]
    Stalled(std::time::Duration),

    /// `open_stream` past [`crate::Config::with_max_streams`].
    #[error("the connection already has its maximum of {0} streams")]
    TooManyStreams(usize),

    /// The connection is closed (by either side).
    #[error("the yamux connection is closed")]
    Closed,
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
