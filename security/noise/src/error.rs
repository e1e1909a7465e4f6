//! The error type of `strata-noise`.
//!
//! Handshake failures are typed (a caller can tell an impostor from a slow
//! peer); once the handshake is done, the encrypted stream reports failures
//! as `std::io::Error`, as every byte stream does: `InvalidData` for a frame
//! that does not decrypt, `UnexpectedEof` for a connection cut inside one.

use std::time::Duration;

use strata_core::PeerId;

/// What a Noise handshake can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying stream failed or closed during the handshake.
    #[error("i/o error during the Noise handshake: {0}")]
    Io(#[from] std::io::Error),

    /// The handshake did not finish within the configured time.
    #[error("the Noise handshake did not finish within {0:?}")]
    Timeout(Duration),

    /// The Noise protocol itself failed: a handshake message that does not
    /// decrypt or is malformed.
    #[error("noise protocol error: {0}")]
    Noise(#[from] snow::Error),

    /// The remote's handshake payload is not a valid
    /// `NoiseHandshakePayload`, or lacks its identity key or signature.
    #[error("invalid handshake payload: {0}")]
    InvalidPayload(&'static str),

    /// The remote's identity key could not be decoded, or is of a type
    /// strata does not support.
    #[error("invalid identity key: {0}")]
    IdentityKey(#[source] strata_core::Error),

    /// The remote's identity key did not sign its Noise static key: it does
    /// not own the identity it claims.
    #[error("the identity signature over the Noise static key is invalid")]
    BadSignature,

    /// The remote proved an identity other than the one dialed.
    #[error("expected peer {expected}, but the remote is {actual}")]
    PeerIdMismatch {
        /// The peer id the dial asked for.
        expected: PeerId,
        /// The peer id the remote proved.
        actual: PeerId,
    },
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
