//! The error type of `strata-websocket`: one variant per thing a caller
//! can act on.

use std::{path::PathBuf, time::Duration};

use strata_core::Multiaddr;

/// What a transport below the WebSocket (TCP) failed with, as it is.
pub type InnerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What dialing, listening or accepting can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address is not a WebSocket address over one the inner transport
    /// serves (`…/tcp/<port>/ws`, `…/tcp/<port>/tls/ws`, `…/wss`). Try
    /// another transport.
    #[error("{0} is not an address the WebSocket transport serves")]
    UnsupportedAddress(Multiaddr),

    /// Listening on `/tls/ws` needs a certificate
    /// ([`crate::Config::with_tls_pem`]).
    #[error("cannot listen on {0}: no TLS certificate configured (websocket::Config::with_tls_pem)")]
    NoCertificate(Multiaddr),

    /// The transport below (TCP) failed to dial or bind; its error is the
    /// source.
    #[error("{addr}: {source}")]
    Inner {
        /// The WebSocket address.
        addr: Multiaddr,
        /// The inner transport's error.
        source: InnerError,
    },

    /// The TLS handshake of a `/tls/ws` dial failed: the server's
    /// certificate was not valid for the address's name (or `/sni`), not
    /// signed by a trusted root, or the handshake broke off.
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        /// The address dialed.
        addr: Multiaddr,
        /// rustls' error, wrapped in an I/O error by tokio-rustls (its
        /// source is the `rustls::Error`, such as
        /// `InvalidCertificate(UnknownIssuer)`).
        source: std::io::Error,
    },

    /// The address's TLS server name (its DNS name, `/sni`, or IP) is not
    /// one TLS can send.
    #[error("{name:?} is not a TLS server name")]
    ServerName {
        /// The name.
        name: String,
    },

    /// The HTTP upgrade to a WebSocket failed: the server answered
    /// something other than `101 Switching Protocols`, or the connection
    /// broke off.
    #[error("WebSocket upgrade with {addr} failed: {source}")]
    Upgrade {
        /// The address dialed.
        addr: Multiaddr,
        /// tungstenite's error.
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },

    /// The TLS handshake and HTTP upgrade took longer than
    /// [`crate::Config::with_handshake_timeout`].
    #[error("WebSocket handshake with {addr} timed out after {timeout:?}")]
    HandshakeTimeout {
        /// The address dialed.
        addr: Multiaddr,
        /// The configured limit.
        timeout: Duration,
        /// The timer's report (what a host recognises a timeout by).
        source: tokio::time::error::Elapsed,
    },

    /// Accepting the next connection failed in the transport below.
    #[error("accepting a connection failed: {0}")]
    Accept(#[source] InnerError),

    /// A PEM file could not be read, or holds no certificate or key.
    #[error("reading {path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: rustls::pki_types::pem::Error,
    },

    /// rustls refused a certificate, key or root.
    #[error("TLS configuration: {0}")]
    Certificate(#[source] rustls::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
