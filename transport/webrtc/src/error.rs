//! What WebRTC-direct dials, listens and connections can fail with.
//!
//! A wrong peer is core's [`PeerIdMismatch`] (the source of
//! [`Error::PeerIdMismatch`]), as on every transport.

use std::{io, time::Duration};

use strata_core::{Multiaddr, PeerIdMismatch};

use crate::{message::FrameError, noise::NoiseError};

/// A WebRTC-direct error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not an `/ip4|ip6/<a>/udp/<p>/webrtc-direct` address.
    #[error("not a WebRTC-direct address: {0}")]
    Unsupported(Multiaddr),
    /// A dial address without a `/certhash`.
    #[error("a WebRTC-direct dial needs /certhash: {0}")]
    NoCerthash(Multiaddr),
    /// A `/certhash` that is not a SHA-256 multihash.
    #[error("only SHA-256 certhashes are supported")]
    UnsupportedCerthash,
    /// The certificate could not be made or read.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The server's DTLS certificate is not the one in the address.
    #[error("the server's certificate does not match the address's certhash")]
    CerthashMismatch,
    /// Binding or using the UDP socket failed.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// str0m refused an input or failed (ICE, DTLS or SCTP).
    #[error("webrtc: {0}")]
    Rtc(#[from] str0m::RtcError),
    /// An address str0m refuses as an ICE candidate.
    #[error("ICE candidate: {0}")]
    Candidate(#[from] str0m::error::IceError),
    /// The Noise handshake failed.
    #[error("noise handshake: {0}")]
    Noise(#[source] NoiseError),
    /// The peer broke the data channel framing.
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// The handshake took too long.
    #[error("WebRTC-direct handshake timed out after {0:?}")]
    Timeout(Duration),
    /// The remote proved another identity than the one dialed.
    #[error("the remote is not the peer dialed")]
    PeerIdMismatch(#[source] PeerIdMismatch),
    /// The connection (or the listener) is closed.
    #[error("the connection is closed")]
    Closed,
    /// The connection has as many channels open as it may.
    #[error("too many data channels ({0})")]
    TooManyChannels(usize),
}

impl Error {
    pub(crate) fn certificate(error: impl std::fmt::Display) -> Self {
        Self::Certificate(error.to_string())
    }
}

impl From<NoiseError> for Error {
    fn from(error: NoiseError) -> Self {
        match error {
            NoiseError::PeerIdMismatch(mismatch) => Self::PeerIdMismatch(mismatch),
            other => Self::Noise(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        io::Error::other(error)
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
