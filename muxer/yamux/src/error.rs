//! The errors of `strata-yamux`: [`Error`] is the shape every muxer shares
//! ([`strata_core::muxer::Error`]), with yamux's own [`ProtocolError`]
//! kinds.
//!
//! A stream, being a byte stream, reports its failures as `std::io::Error`
//! (`ConnectionReset` for a reset stream, `ConnectionAborted` for a stream
//! whose connection ended, `BrokenPipe` for a write after close).

use crate::FrameError;

/// How the remote broke the protocol (a go-away with the protocol-error
/// code goes out before the connection ends).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame that does not decode.
    #[error("yamux frame error: {0}")]
    Frame(#[from] FrameError),
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

/// What a yamux connection can fail with.
pub type Error = strata_core::muxer::Error<ProtocolError>;

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
