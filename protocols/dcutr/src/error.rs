//! `dcutr::Error`: what reading a message or attaching the service can
//! fail with, one enum for the crate.

use crate::DecodeError;

/// What reading or writing a message, or attaching, can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed, ended, or announced a frame above
    /// [`crate::codec::MAX_MESSAGE_SIZE`].
    #[error("reading or writing a frame: {0}")]
    Frame(#[from] strata_core::Error),
    /// The frame is not a valid message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The host refused (attaching the handler, opening a stream).
    #[error("host: {0}")]
    Host(#[from] strata_host::Error),
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
