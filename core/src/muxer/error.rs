//! `muxer::Error`: what a muxed connection fails with, the same shape for
//! every muxer. Only the protocol violations differ, as the muxer's own
//! kind enum (`P`).
//!
//! A stream, being a byte stream, reports its failures as `io::Error`
//! (see [`super::StreamError`]).

use std::{io, sync::Arc, time::Duration};

/// What a muxed connection can fail with. See the module documentation.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error<P> {
    /// The socket failed (shared: every party waiting on the connection
    /// learns the same error).
    #[error("i/o error on the muxed connection: {0}")]
    Io(#[source] Arc<io::Error>),

    /// The remote broke a rule of the protocol.
    #[error("muxer protocol violation: {0}")]
    Protocol(#[source] P),

    /// The remote read none of the frames it made us owe it (answers to
    /// its pings, resets of streams it opened past the limit), for this long.
    #[error("the remote read none of the frames it made us owe it for {0:?}")]
    Stalled(Duration),

    /// The remote did not answer a keep-alive ping within the interval.
    #[error("the remote did not answer a keep-alive ping within {0:?}")]
    KeepAliveTimeout(Duration),

    /// Closing could not flush what was queued within the close timeout.
    #[error("closing timed out after {0:?} with frames unsent")]
    CloseTimeout(Duration),

    /// `open_stream` past the connection's stream limit.
    #[error("the connection already has its maximum of {0} streams")]
    TooManyStreams(usize),

    /// The connection is closed (by either side).
    #[error("the connection is closed")]
    Closed,
}

impl<P> From<io::Error> for Error<P> {
    fn from(error: io::Error) -> Self {
        Self::Io(Arc::new(error))
    }
}
