//! The error types of `strata-host`: [`Error`], and [`DialError`], what a
//! dial fails with, the same over every transport.
//!
//! The layers' own errors are kept as the source (`std::error::Error`
//! trait objects), so a caller can still downcast to, say,
//! `strata_tcp::Error`. A dial's failure is sorted into a [`DialError`]
//! by what its source chain holds, types every layer shares: core's
//! [`PeerIdMismatch`] (Noise and QUIC report a wrong peer with it), tokio's
//! `Elapsed` (every layer's timeout keeps it as its source) and
//! `std::io::Error`'s kind (`ConnectionRefused` from TCP and the memory
//! transport); failing those, by the step that failed.

use std::{io, sync::Arc, time::Duration};

use strata_core::{Multiaddr, PeerId, PeerIdMismatch};

/// A boxed error of one of the layers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the host can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No transport of this host serves the address.
    #[error("no transport can serve {0}")]
    UnsupportedAddress(Multiaddr),

    /// A dial failed (shared with `Event::DialFailed`).
    #[error(transparent)]
    Dial(Arc<DialError>),

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

/// Why a dial failed, the same over every transport: each kind with the
/// address tried and, where there is one, the layer's error as its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// No connection source of this host serves the address.
    #[error("no transport of this host serves {addr}")]
    UnsupportedAddress {
        /// The address tried.
        addr: Multiaddr,
    },
    /// The address's name could not be resolved (the resolver's error
    /// inside: downcast it, to `strata_dns::Error` for example).
    #[error("resolving {addr} failed: {source}")]
    Resolve {
        /// The address tried.
        addr: Multiaddr,
        /// What the resolver reported.
        source: BoxError,
    },
    /// Nothing listens there: the remote refused the connection.
    #[error("{addr} refused the connection: {source}")]
    Refused {
        /// The address tried.
        addr: Multiaddr,
        /// The transport's error.
        source: BoxError,
    },
    /// The remote could not be reached, or the connection broke (closed,
    /// reset) before it was secured and multiplexed.
    #[error("{addr} is unreachable: {source}")]
    Unreachable {
        /// The address tried.
        addr: Multiaddr,
        /// The transport's error.
        source: BoxError,
    },
    /// A step of the dial (connecting, a handshake, the whole upgrade)
    /// took longer than its limit.
    #[error("dialing {addr} timed out: {source}")]
    Timeout {
        /// The address tried.
        addr: Multiaddr,
        /// The step's error, naming its limit.
        source: BoxError,
    },
    /// The remote proved another identity than the `/p2p/<id>` dialed.
    #[error("dialed {expected} at {addr}, but the remote proved to be {actual}")]
    PeerIdMismatch {
        /// The address tried.
        addr: Multiaddr,
        /// The peer id dialed.
        expected: PeerId,
        /// The peer id the remote proved.
        actual: PeerId,
    },
    /// The security handshake failed otherwise (a bad signature, a
    /// malformed message, a certificate that proves nothing).
    #[error("securing the connection to {addr} failed: {source}")]
    Security {
        /// The address tried.
        addr: Multiaddr,
        /// The security layer's error.
        source: BoxError,
    },
    /// The remote agreed on no security protocol or muxer, or broke the
    /// negotiation, or the muxer failed to start.
    #[error("negotiating with {addr} failed: {source}")]
    Negotiation {
        /// The address tried.
        addr: Multiaddr,
        /// multistream-select's or the muxer's error.
        source: BoxError,
    },
    /// The connection was made, but this host's limits or deny list
    /// refused to keep it ([`Error::ConnectionLimit`],
    /// [`Error::PeerConnectionLimit`], [`Error::Denied`]).
    #[error("{addr}: {source}")]
    Limit {
        /// The address tried.
        addr: Multiaddr,
        /// Which limit.
        source: Box<Error>,
    },
}

impl DialError {
    /// The address tried.
    pub fn addr(&self) -> &Multiaddr {
        match self {
            Self::UnsupportedAddress { addr }
            | Self::Resolve { addr, .. }
            | Self::Refused { addr, .. }
            | Self::Unreachable { addr, .. }
            | Self::Timeout { addr, .. }
            | Self::PeerIdMismatch { addr, .. }
            | Self::Security { addr, .. }
            | Self::Negotiation { addr, .. }
            | Self::Limit { addr, .. } => addr,
        }
    }

    /// What `error`, met dialing `addr`, was: by the shared types in its
    /// source chain first (see the module docs), then by the step.
    pub(crate) fn classify(addr: Multiaddr, error: Error) -> Self {
        let (source, step): (BoxError, _) = match error {
            Error::UnsupportedAddress(_) => return Self::UnsupportedAddress { addr },
            Error::ConnectionLimit(_) | Error::PeerConnectionLimit(..) | Error::InboundLimit(_) | Error::Denied(_) => {
                return Self::Limit { addr, source: Box::new(error) };
            }
            Error::Timeout(..) => return Self::Timeout { addr, source: Box::new(error) },
            Error::Negotiation(source) => (Box::new(source), Step::Negotiation),
            Error::Muxer(source) => (source, Step::Negotiation),
            Error::Security(source) => (source, Step::Security),
            Error::Transport(source) => (source, Step::Transport),
            Error::Dial(_) | Error::ShutDown | Error::NotConnected(_) => (Box::new(error), Step::Transport),
        };
        let top: &(dyn std::error::Error + 'static) = &*source;
        let mut chain = std::iter::successors(Some(top), |layer| (*layer).source());
        let cause = chain.find_map(|layer| {
            if let Some(mismatch) = layer.downcast_ref::<PeerIdMismatch>() {
                return Some(Cause::Mismatch(*mismatch));
            }
            if layer.is::<tokio::time::error::Elapsed>() {
                return Some(Cause::Timeout);
            }
            match layer.downcast_ref::<io::Error>()?.kind() {
                io::ErrorKind::TimedOut => Some(Cause::Timeout),
                io::ErrorKind::ConnectionRefused => Some(Cause::Refused),
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::NotConnected => Some(Cause::Broken),
                _ => None,
            }
        });
        match (cause, step) {
            (Some(Cause::Mismatch(PeerIdMismatch { expected, actual })), _) => {
                Self::PeerIdMismatch { addr, expected, actual }
            }
            (Some(Cause::Timeout), _) => Self::Timeout { addr, source },
            (Some(Cause::Refused), _) => Self::Refused { addr, source },
            (Some(Cause::Broken), _) | (None, Step::Transport) => Self::Unreachable { addr, source },
            (None, Step::Security) => Self::Security { addr, source },
            (None, Step::Negotiation) => Self::Negotiation { addr, source },
        }
    }
}

/// The step of a dial that failed.
enum Step {
    Transport,
    Security,
    Negotiation,
}

/// What a layer's error chain says, in the types every layer shares.
enum Cause {
    Mismatch(PeerIdMismatch),
    Timeout,
    Refused,
    /// The connection closed or was reset under a step.
    Broken,
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
