//! What QUIC dials, listens and connections can fail with.
//!
//! The causes a host tells apart on every transport are kept as types it
//! knows: a wrong peer is core's [`PeerIdMismatch`] (the source of
//! [`Error::PeerIdMismatch`]), a handshake past its time has tokio's
//! `Elapsed` as its source.

use std::{io, time::Duration};

use strata_core::{Multiaddr, PeerIdMismatch};

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
    /// Our TLS configuration could not be made (rustls or quinn refused
    /// it: the source says why).
    #[error("TLS setup failed: {0}")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// There is no tokio runtime to run the endpoint on.
    #[error("no async runtime to run QUIC on")]
    NoRuntime,
    /// Our certificate could not be made, or the peer's does not
    /// authenticate it.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// quinn refused to start the connection.
    #[error("cannot connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or closed.
    #[error("connection failed: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The handshake took too long (nothing answered, or too slowly).
    #[error("QUIC handshake timed out after {after:?}")]
    Timeout {
        /// The configured limit.
        after: Duration,
        /// The timer's report.
        source: tokio::time::error::Elapsed,
    },
    /// The remote proved another identity than the one dialed.
    #[error("the remote is not the peer dialed")]
    PeerIdMismatch(#[source] PeerIdMismatch),
    /// A hole punch found no listener of the address's family to send
    /// its packets from (`QuicTransport`'s `hole_punch`): listen first.
    #[error("no QUIC listener to hole punch {0} from")]
    NotListening(Multiaddr),
    /// The listener's endpoint was closed.
    #[error("the QUIC endpoint is closed")]
    Closed,
}

impl Error {
    pub(crate) fn tls(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Tls(Box::new(error))
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        io::Error::other(error)
    }
}
