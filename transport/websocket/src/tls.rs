//! The rustls configurations of `/tls/ws`: a server's from its
//! certificate, a client's from root certificates. ring is the crypto
//! provider (the one quinn already brings), named explicitly so that no
//! process-wide default is needed.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Error, Result};

/// The ALPN a WebSocket runs under: HTTP/1.1's upgrade (RFC 6455). A
/// browser offering `h2` too gets `http/1.1`.
const ALPN_HTTP1: &[u8] = b"http/1.1";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Mozilla's root certificates (webpki-roots).
pub(crate) fn webpki_roots() -> rustls::RootCertStore {
    rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// A client configuration verifying servers against `roots`. (Fails only
/// if ring lacks rustls' default protocol versions, which it does not.)
pub(crate) fn client_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration presenting `chain` (leaf first) with `key`.
pub(crate) fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Certificate)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(Error::Certificate)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}
