//! rustls, taught libp2p's rules for certificates.
//!
//! libp2p TLS has no certificate authorities: a peer's certificate is
//! trusted when it proves an identity (`certificate.rs`). These verifiers
//! plug that check into rustls on both sides, for TLS 1.3 only:
//!
//! - the dialer checks the listener's certificate, and, when it dialed a
//!   `/p2p/<id>` address, that it names that peer (before it sends its own
//!   certificate: a wrong listener learns nothing of us);
//! - the listener *requires* a client certificate and checks it.
//!
//! The handshake's own signature (TLS 1.3 `CertificateVerify`) is checked
//! with the certificate's key through rustls's ring provider.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use rustls::{
    DigitallySignedStruct, DistinguishedName, Error, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{CryptoProvider, verify_tls13_signature_with_raw_key},
    pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime},
    server::danger::{ClientCertVerified, ClientCertVerifier},
};
use strata_core::{PeerId, PeerIdMismatch};

use crate::tls::certificate::{self, CertificateError};

/// Checks a peer's certificate for rustls (both sides).
#[derive(Debug)]
pub(crate) struct Libp2pVerifier {
    provider: Arc<CryptoProvider>,
    /// The dialer's expectation, if it dialed a `/p2p/<id>` address.
    expected: Option<PeerId>,
    /// Who answered instead, when that refused the handshake: rustls
    /// hands the dial only a TLS alert, so the dial reads it from here.
    mismatch: Arc<Mutex<Option<PeerIdMismatch>>>,
}

impl Libp2pVerifier {
    pub(crate) fn new(
        provider: Arc<CryptoProvider>,
        expected: Option<PeerId>,
        mismatch: Arc<Mutex<Option<PeerIdMismatch>>>,
    ) -> Self {
        Self { provider, expected, mismatch }
    }

    /// The checks every certificate passes: one certificate, libp2p's rules,
    /// and the expected peer.
    fn check(&self, end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> Result<(), Error> {
        if !intermediates.is_empty() {
            return Err(Error::General("libp2p: more than one certificate".to_owned()));
        }
        let peer = certificate::verify(end_entity, SystemTime::now()).map_err(rustls_error)?;
        if let Some(expected) = self.expected
            && peer.peer_id() != expected
        {
            tracing::debug!(%expected, actual = %peer.peer_id(), "quic: unexpected peer");
            let mismatch = PeerIdMismatch { expected, actual: peer.peer_id() };
            *self.mismatch.lock().unwrap_or_else(PoisonError::into_inner) = Some(mismatch);
            return Err(Error::General(format!("libp2p: expected peer {expected}, found {}", peer.peer_id())));
        }
        Ok(())
    }

    /// Checks the TLS 1.3 handshake signature with the certificate's key.
    fn signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        // `check` verified this certificate earlier in the handshake.
        let peer = certificate::accepted(cert).map_err(rustls_error)?;
        let spki = SubjectPublicKeyInfoDer::from(peer.spki.as_slice());
        verify_tls13_signature_with_raw_key(message, &spki, dss, &self.provider.signature_verification_algorithms)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn rustls_error(error: CertificateError) -> Error {
    tracing::debug!(%error, "quic: peer certificate refused");
    Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(Arc::new(error))))
}

fn no_tls12() -> Error {
    Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered)
}

impl ServerCertVerifier for Libp2pVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.check(end_entity, intermediates).map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for Libp2pVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.check(end_entity, intermediates).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}
