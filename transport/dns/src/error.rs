//! The error type of `strata-dns`, and its `Result` alias.
//!
//! A lookup fails for a reason a user can act on: the name does not exist,
//! has no record of the kind asked for, or the server did not answer in
//! time. A resolution fails when its links lead nowhere: too deep, in a
//! loop, past the lookup budget, or to no address for the peer dialed.

use std::time::Duration;

use strata_core::Multiaddr;

/// What resolving can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name does not exist (the server answered NXDOMAIN).
    #[error("{name}: no such domain")]
    NoSuchDomain {
        /// The name looked up (`_dnsaddr.…` for a `/dnsaddr`).
        name: String,
    },

    /// The name exists but has no record of this type.
    #[error("{name}: no {record} record")]
    NoRecords {
        /// The name looked up.
        name: String,
        /// `"TXT"`, `"A"` or `"AAAA"`.
        record: &'static str,
    },

    /// No answer came within the configured timeout.
    #[error("{name}: no answer within {after:?}")]
    Timeout {
        /// The name looked up.
        name: String,
        /// The configured timeout ([`crate::Config::with_timeout`]).
        after: Duration,
    },

    /// A DNS lookup failed otherwise (the server refused, failed, or sent
    /// something malformed; the network failed).
    #[error("{name}: lookup failed: {source}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// What the DNS client reported.
        #[source]
        source: hickory_resolver::net::NetError,
    },

    /// The operating system's resolver failed (no configured server).
    #[error("{name}: {source}")]
    System {
        /// The name looked up.
        name: String,
        /// What the system reported.
        #[source]
        source: std::io::Error,
    },

    /// The DNS client could not be set up: without a configured server,
    /// the system's configuration (`/etc/resolv.conf`) could not be read
    /// (give a server with [`crate::Config::with_nameserver`]).
    #[error("setting up the DNS client: {0}")]
    Setup(#[source] hickory_resolver::net::NetError),

    /// The name in the multiaddr is not a valid DNS name.
    #[error("{name:?} is not a valid DNS name")]
    InvalidName {
        /// The name as written.
        name: String,
    },

    /// `/dnsaddr` links nest deeper than [`crate::Config::with_max_depth`].
    #[error("{addr}: /dnsaddr links nest deeper than {max}")]
    TooDeep {
        /// The link that was not followed.
        addr: Multiaddr,
        /// The configured depth.
        max: usize,
    },

    /// `/dnsaddr` links lead back to a name already looked up.
    #[error("{addr}: /dnsaddr links form a loop")]
    Loop {
        /// The link that closes the loop.
        addr: Multiaddr,
    },

    /// The resolution needed more lookups than
    /// [`crate::Config::with_max_lookups`] before finding an address.
    #[error("{addr}: more than {max} DNS lookups")]
    TooManyLookups {
        /// The address being resolved when the budget ran out.
        addr: Multiaddr,
        /// The configured budget.
        max: usize,
    },

    /// The records hold no address for what was dialed: none ends in its
    /// `/p2p/<id>` (or whatever followed the `/dnsaddr/<domain>`), or none
    /// of the family `/dns4` or `/dns6` asks for.
    #[error("{addr}: no matching address")]
    NoAddresses {
        /// The address being resolved.
        addr: Multiaddr,
    },
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
