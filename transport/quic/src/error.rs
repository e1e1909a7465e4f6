//! What QUIC dials, listens and connections can fail with.

use std::{io, time::Duration};

use strata_core::{Multiaddr, PeerId};

use crate::tls::certificate::CertificateError;

/// A QUIC error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not an `/ip4|ip6/<a>/udp/<p>/quic-v1` address.
    #[error("not a QUIC address: {0}")]
    Unsupported(Multiaddr),
    /// Binding the UDP socket failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: Multiaddr,
        /// Why.
        source: io::Error,
    },
    /// Our TLS certificate or configuration could not be made.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The peer's certificate does not authenticate it.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// quinn refused to start the connection.
    #[error("cannot connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or closed.
    #[error("connection failed: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The handshake took too long.
    #[error("QUIC handshake timed out after {0:?}")]
    Timeout(Duration),
    /// The remote proved another identity than the one dialed.
    #[error("dialed {expected}, reached {actual}")]
    PeerIdMismatch {
        /// Who we dialed.
        expected: PeerId,
        /// Who answered.
        actual: PeerId,
    },
    /// The listener's endpoint was closed.
    #[error("the QUIC endpoint is closed")]
    Closed,
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        io::Error::other(error)
    }
}
