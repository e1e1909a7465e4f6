//! The error type of `strata-tcp`: one variant per thing a caller can act
//! on.

use std::time::Duration;

use strata_core::Multiaddr;

/// What dialing, listening or accepting can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address is not one this transport serves: dial takes
    /// `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`, listen takes
    /// `/ip4|ip6/<ip>/tcp/<port>`, nothing more. Try another transport.
    #[error("{0} is not an address the TCP transport serves")]
    UnsupportedAddress(Multiaddr),

    /// The dial (DNS lookup included) took longer than the configured
    /// connect timeout.
    #[error("connecting to {addr} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The address dialed.
        addr: Multiaddr,
        /// The configured limit.
        timeout: Duration,
        /// The timer's report (what a host recognises a timeout by).
        source: tokio::time::error::Elapsed,
    },

    /// The remote refused the connection, or it failed otherwise. For a
    /// DNS name, the error of the last address tried.
    #[error("connecting to {addr} failed: {source}")]
    Connect {
        /// The address dialed.
        addr: Multiaddr,
        /// The socket error.
        source: std::io::Error,
    },

    /// A DNS name did not resolve.
    #[error("resolving {name} failed: {source}")]
    Resolve {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        source: std::io::Error,
    },

    /// A DNS name resolved, but to no address of the family the multiaddr
    /// asks for (`/dns4` wants IPv4, `/dns6` IPv6).
    #[error("{name} has no address of the family its multiaddr asks for")]
    NoAddress {
        /// The name looked up.
        name: String,
    },

    /// The listener could not be bound (port in use, address not local…).
    #[error("listening on {addr} failed: {source}")]
    Bind {
        /// The address asked for.
        addr: Multiaddr,
        /// The socket error.
        source: std::io::Error,
    },

    /// Accepting failed. Often transient (a connection reset before it was
    /// accepted, too many open files); the listener stays usable.
    #[error("accepting a connection failed: {0}")]
    Accept(std::io::Error),
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
