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
    #[error("the Noise handshake did not finish within {after:?}")]
    Timeout {
        /// The configured limit.
        after: Duration,
        /// The timer's report (what a host recognises a timeout by).
        source: tokio::time::error::Elapsed,
    },

    /// The Noise protocol itself failed: a handshake message that does not
    /// decrypt or is malformed.
    #[error("noise protocol error: {0}")]
    Noise(#[from] snow::Error),

    /// The remote's handshake payload is not a valid
    /// `NoiseHandshakePayload`, or lacks its identity key or signature.
    #[error("invalid handshake payload: {0}")]
    InvalidPayload(&'static str),

    /// The remote's identity key could not be decoded: truncated or
    /// malformed DER, a point off its curve, an RSA key out of bounds, an
    /// unknown key type. The source says which.
    #[error("invalid identity key: {0}")]
    IdentityKey(#[source] strata_core::Error),

    /// The remote's identity key did not sign its Noise static key: it does
    /// not own the identity it claims.
    #[error("the identity signature of {peer} over the Noise static key is invalid")]
    BadSignature {
        /// The peer id the (unproven) identity key names.
        peer: PeerId,
    },

    /// The remote proved an identity other than the one dialed (core's
    /// type, the same over every transport).
    #[error("the remote is not the peer dialed")]
    PeerIdMismatch(#[source] strata_core::PeerIdMismatch),
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
