//! The errors of `strata-mplex`: [`Error`] is the shape every muxer shares
//! ([`strata_core::muxer::Error`]), with mplex's own [`ProtocolError`]
//! kinds.
//!
//! A stream, being a byte stream, reports its failures as `std::io::Error`
//! (`ConnectionReset` for a reset stream, `ConnectionAborted` for a stream
//! whose connection ended, `BrokenPipe` for a write after close).

use crate::frame::FrameError;

/// How the remote broke the protocol (the connection ends).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame that does not decode (or is too large).
    #[error("mplex frame error: {0}")]
    Frame(#[from] FrameError),
    /// The remote opened a stream number it already has open.
    #[error("the remote opened stream {0} twice")]
    OpenedTwice(u64),
}

/// What an mplex connection can fail with.
pub type Error = strata_core::muxer::Error<ProtocolError>;

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
