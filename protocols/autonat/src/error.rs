//! `autonat::Error`: what an exchange of the client or the server can fail
//! with, one enum for the crate.

use std::time::Duration;

use crate::{DecodeError, ResponseStatus};

/// What reading a message, or an exchange with a peer, can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed, ended, or announced a frame above the bound
    /// ([`crate::codec::MAX_MESSAGE_SIZE`], [`crate::codec::MAX_DIAL_BACK_SIZE`]).
    #[error("reading or writing a frame: {0}")]
    Frame(#[from] strata_core::Error),
    /// The frame is not a valid message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Opening a stream or dialing failed.
    #[error("host: {0}")]
    Host(#[from] strata_host::Error),
    /// The other side sent a valid message of the wrong kind.
    #[error("unexpected message: wanted {wanted}")]
    Unexpected {
        /// The message that was due.
        wanted: &'static str,
    },
    /// The server refused the request.
    #[error("the server refused: {0:?}")]
    Refused(ResponseStatus),
    /// A response names an address index outside the request.
    #[error("address index {index} outside a request of {len} addresses")]
    AddrIndex {
        /// The index given.
        index: u32,
        /// How many addresses the request had.
        len: usize,
    },
    /// The server asked for more dial data than the client pays.
    #[error("the server asked for {asked} bytes of dial data, more than the {max} we send")]
    DialDataTooLarge {
        /// How many bytes it asked for.
        asked: u64,
        /// The most we send.
        max: u64,
    },
    /// The client sent too little dial data per message, or something else.
    #[error("dial data message of {0} bytes is too small")]
    DialDataTooSmall(usize),
    /// The server reported a successful dial back, but no dial back with
    /// the request's nonce arrived.
    #[error("the server reported a dial back that never arrived with our nonce")]
    NoDialBack,
    /// The server's dialer host is the host itself: the dial back would
    /// reuse the client's connection.
    #[error("the dialer host must be another host than the server's (a fresh identity)")]
    SameHost,
    /// The server's stream timeout leaves no room for the dial and the
    /// dial back ([`crate::ServerConfig::with_stream_timeout`]).
    #[error(
        "the stream timeout {stream:?} must exceed the dial timeout {dial:?} plus the dial-back timeout {dial_back:?}"
    )]
    Timeouts {
        /// The whole request's timeout.
        stream: Duration,
        /// The dial's.
        dial: Duration,
        /// The dial-back stream's.
        dial_back: Duration,
    },
    /// An exchange took longer than its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
