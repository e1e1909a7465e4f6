//! The error type of `strata-mplex`.
//!
//! Connection-level failures are typed; a stream, being a byte stream,
//! reports its failures as `std::io::Error` (`ConnectionReset` for a reset
//! stream, `ConnectionAborted` for a stream whose connection ended,
//! `BrokenPipe` for a write after close).

use crate::frame::FrameError;

/// What an mplex connection can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed.
    #[error("i/o error on the mplex connection: {0}")]
    Io(String),

    /// The remote sent something mplex does not allow.
    #[error("mplex protocol violation: {0}")]
    Protocol(String),

    /// `open_stream` past [`crate::Config::with_max_streams`].
    #[error("the connection already has its maximum of {0} streams")]
    TooManyStreams(usize),

    /// The connection is closed (by either side).
    #[error("the mplex connection is closed")]
    Closed,
}

impl From<FrameError> for Error {
    fn from(error: FrameError) -> Self {
        Self::Protocol(error.to_string())
    }
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
