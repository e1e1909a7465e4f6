//! The libp2p TLS 1.3 handshake (`libp2p-tls.md`) as rustls
//! configurations for QUIC.
//!
//! ```text
//! identity ─▶ certificate.rs: self-signed P-256 certificate + SignedKey extension (extension.rs)
//! rustls ClientConfig / ServerConfig: TLS 1.3 only, ALPN "libp2p", our certificate,
//!                                     verifier.rs on the peer's (the server requires one)
//! after the handshake: the peer's certificate ─▶ certificate::verify ─▶ PeerId
//! ```

pub mod certificate;
pub mod extension;
mod verifier;

use std::sync::{Arc, Mutex};

use rustls::{
    client::ResolvesClientCert,
    crypto::CryptoProvider,
    pki_types::CertificateDer,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use strata_core::{Keypair, PeerId, PeerIdMismatch};

use self::{certificate::CertificateError, verifier::Libp2pVerifier};

/// The one application protocol libp2p TLS offers and accepts.
pub const ALPN: &[u8] = b"libp2p";

/// A node's TLS material: its certificate with its key, and the crypto
/// provider.
#[derive(Debug)]
pub(crate) struct Tls {
    provider: Arc<CryptoProvider>,
    ours: Arc<OurCertificate>,
}

/// Our certificate, handed to rustls as is. (rustls's own loaders check a
/// certificate with webpki, which refuses libp2p's critical extension.)
#[derive(Debug)]
struct OurCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for OurCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

impl ResolvesClientCert for OurCertificate {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl Tls {
    /// A certificate for `identity` (one per node: the spec allows reuse).
    pub(crate) fn new(identity: &Keypair) -> Result<Self, CertificateError> {
        let local = certificate::generate(identity)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = provider
            .key_provider
            .load_private_key(local.key)
            .map_err(|error| CertificateError::Generate(error.to_string()))?;
        let ours = Arc::new(OurCertificate(Arc::new(CertifiedKey::new(vec![local.certificate], key))));
        Ok(Self { provider, ours })
    }

    /// The dialer's configuration; with `expected`, a listener proving
    /// another identity fails the handshake, and `mismatch` says who it was.
    pub(crate) fn client(
        &self,
        expected: Option<PeerId>,
        mismatch: Arc<Mutex<Option<PeerIdMismatch>>>,
    ) -> Result<rustls::ClientConfig, rustls::Error> {
        let verifier = Arc::new(Libp2pVerifier::new(Arc::clone(&self.provider), expected, mismatch));
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::clone(&self.ours) as Arc<dyn ResolvesClientCert>);
        config.alpn_protocols = vec![ALPN.to_vec()];
        // The spec: a client of this version sends no server name.
        config.enable_sni = false;
        Ok(config)
    }

    /// The listener's configuration: a client certificate is required.
    pub(crate) fn server(&self) -> Result<rustls::ServerConfig, rustls::Error> {
        let verifier = Arc::new(Libp2pVerifier::new(Arc::clone(&self.provider), None, Arc::default()));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::clone(&self.ours) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }
}

/// The peer id a finished handshake authenticated, from the peer's
/// certificate (quinn's `peer_identity`), which the handshake verified.
pub(crate) fn peer_of(identity: Option<Box<dyn std::any::Any>>) -> Result<PeerId, CertificateError> {
    let certificates = identity
        .and_then(|identity| identity.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or_else(|| CertificateError::Parse("no peer certificate".to_owned()))?;
    let [certificate] = certificates.as_slice() else {
        return Err(CertificateError::Parse("not exactly one peer certificate".to_owned()));
    };
    // rustls accepted it only after `certificate::verify` (verifier.rs).
    Ok(certificate::accepted(certificate)?.peer_id())
}
