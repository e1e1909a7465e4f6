//! The error type of `strata-host`.
//!
//! The layers' own errors are kept as the source (`std::error::Error`
//! trait objects), so a caller can still downcast to, say,
//! `strata_noise::Error::PeerIdMismatch`.

use std::time::Duration;

use strata_core::{Multiaddr, PeerId};

/// A boxed error of one of the layers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the host can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No transport of this host serves the address.
    #[error("no transport can serve {0}")]
    UnsupportedAddress(Multiaddr),

    /// A dial failed (the reason inside, shared with `Event::DialFailed`).
    #[error("dial failed: {0}")]
    Dial(#[source] std::sync::Arc<Error>),

    /// The transport failed to dial, listen or accept.
    #[error("transport error: {0}")]
    Transport(#[source] BoxError),

    /// The security handshake failed (a wrong `/p2p/` peer id among the
    /// reasons: downcast the source to the security layer's error).
    #[error("security upgrade failed: {0}")]
    Security(#[source] BoxError),

    /// The muxer failed, or a stream on it.
    #[error("muxer error: {0}")]
    Muxer(#[source] BoxError),

    /// multistream-select failed: the remote supports none of the
    /// protocols, or misbehaved.
    #[error("protocol negotiation failed: {0}")]
    Negotiation(#[source] strata_core::Error),

    /// A step took longer than its configured limit.
    #[error("{0} timed out after {1:?}")]
    Timeout(&'static str, Duration),

    /// There is no connection to this peer.
    #[error("not connected to {0}")]
    NotConnected(PeerId),

    /// The connection limit is reached.
    #[error("the host already has its maximum of {0} connections")]
    ConnectionLimit(usize),

    /// The peer has as many connections as allowed
    /// ([`crate::Config::with_max_connections_per_peer`]).
    #[error("{0} already has its maximum of {1} connections")]
    PeerConnectionLimit(PeerId, usize),

    /// The inbound share of the connection limit is reached.
    #[error("the host already has its maximum of {0} inbound connections")]
    InboundLimit(usize),

    /// The peer is on the host's deny list.
    #[error("{0} is denied")]
    Denied(PeerId),

    /// The host is shut down.
    #[error("the host is shut down")]
    ShutDown,
}

impl Error {
    pub(crate) fn transport(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Transport(Box::new(error))
    }

    /// An error of a connection source: kept as it is when it is already
    /// the host's (the [`crate::Upgrader`]'s), else a transport error.
    pub(crate) fn source(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        let boxed: BoxError = Box::new(error);
        match boxed.downcast::<Self>() {
            Ok(error) => *error,
            Err(other) => Self::Transport(other),
        }
    }

    pub(crate) fn security(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Security(Box::new(error))
    }

    pub(crate) fn muxer(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Muxer(Box::new(error))
    }

    pub(crate) fn negotiation(error: strata_core::Error) -> Self {
        Self::Negotiation(error)
    }
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
