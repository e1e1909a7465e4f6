//! The libp2p TLS certificate: made for a node, checked for a peer.
//!
//! Spec: `libp2p-tls.md`, "Peer Authentication". A node makes a
//! self-signed certificate with a fresh P-256 key (rcgen), and proves that
//! its identity owns it with the [`SignedKey`] extension. A peer's
//! certificate is accepted only when:
//!
//! 1. it is one well-formed X.509 certificate (x509-parser), valid now,
//!    without the deprecated unique ids;
//! 2. it carries the libp2p extension exactly once, and no *critical*
//!    extension strata does not understand;
//! 3. its self-signature verifies with its own key;
//! 4. the extension's identity key (any of libp2p's four key types)
//!    signed `"libp2p-tls-handshake:" ‖ the certificate's
//!    SubjectPublicKeyInfo`.
//!
//! The peer id comes from that identity key, exactly as with Noise.

use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use strata_core::{Keypair, PeerId, PublicKey};
use x509_parser::{certificate::X509Certificate, prelude::FromDer, time::ASN1Time};

use crate::tls::extension::{ExtensionError, OID, SIGNING_PREFIX, SignedKey};

/// The extension's OID in dotted form, as x509-parser writes it.
const OID_TEXT: &str = "1.3.6.1.4.1.53594.1.1";

/// Why a certificate does not authenticate a peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Not one DER X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    Parse(String),
    /// Not valid at this time.
    #[error("the certificate is not valid now")]
    Expired,
    /// It has `issuerUniqueID` or `subjectUniqueID`.
    #[error("the certificate has a deprecated unique id")]
    UniqueId,
    /// No libp2p extension, or two.
    #[error("the certificate carries {0} libp2p extensions, not one")]
    Extensions(usize),
    /// A critical extension strata does not know.
    #[error("the certificate has an unknown critical extension {0}")]
    UnknownCritical(String),
    /// The extension is not a `SignedKey`.
    #[error(transparent)]
    Extension(#[from] ExtensionError),
    /// The self-signature does not verify.
    #[error("the certificate's self-signature does not verify")]
    SelfSignature,
    /// The identity key is malformed (truncated DER, a point off its
    /// curve, an RSA key out of bounds, …).
    #[error("invalid identity key: {0}")]
    IdentityKey(#[source] strata_core::Error),
    /// The identity key did not sign the certificate's key.
    #[error("the identity key's signature over the certificate key does not verify")]
    IdentitySignature,
    /// Making our certificate failed.
    #[error("cannot make a certificate: {0}")]
    Generate(String),
}

/// Our certificate and its private key, for rustls.
#[derive(Debug)]
pub struct LocalCertificate {
    /// The certificate.
    pub certificate: CertificateDer<'static>,
    /// Its (throwaway) P-256 key.
    pub key: PrivateKeyDer<'static>,
}

/// A fresh self-signed certificate for `identity`.
pub fn generate(identity: &Keypair) -> Result<LocalCertificate, CertificateError> {
    let generate = |error: rcgen::Error| CertificateError::Generate(error.to_string());
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate)?;
    let signature = identity.sign(&[SIGNING_PREFIX, &key.public_key_der()].concat());
    let extension = SignedKey { public_key: identity.public().encode_protobuf(), signature }.encode();
    let mut extension = rcgen::CustomExtension::from_oid_content(&OID, extension);
    extension.set_criticality(true);
    let mut params = rcgen::CertificateParams::default();
    params.custom_extensions.push(extension);
    let certificate = params.self_signed(&key).map_err(generate)?;
    Ok(LocalCertificate {
        certificate: certificate.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

/// A peer's certificate once checked: who it is, and the key that signs
/// its side of the TLS handshake.
#[derive(Clone, Debug)]
pub struct PeerCertificate {
    /// The peer's identity key.
    pub identity: PublicKey,
    /// The certificate's `SubjectPublicKeyInfo` (DER).
    pub spki: Vec<u8>,
}

impl PeerCertificate {
    /// The peer id.
    pub fn peer_id(&self) -> PeerId {
        self.identity.to_peer_id()
    }
}

/// Checks a peer's certificate (steps 1 to 4 above) at `now`.
pub fn verify(der: &[u8], now: SystemTime) -> Result<PeerCertificate, CertificateError> {
    let (certificate, signed) = parse(der)?;
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let now = ASN1Time::from_timestamp(i64::try_from(seconds).unwrap_or(i64::MAX))
        .map_err(|error| CertificateError::Parse(error.to_string()))?;
    if !certificate.validity().is_valid_at(now) {
        return Err(CertificateError::Expired);
    }
    certificate.verify_signature(None).map_err(|_| CertificateError::SelfSignature)?;
    let peer = identity(&certificate, &signed)?;
    if !peer.identity.verify(&[SIGNING_PREFIX, &peer.spki].concat(), &signed.signature) {
        return Err(CertificateError::IdentitySignature);
    }
    Ok(peer)
}

/// The identity and key of a certificate [`verify`] has already accepted
/// (rustls asks twice per handshake, and the host once more after it):
/// the same reading without repeating the signature checks.
pub fn accepted(der: &[u8]) -> Result<PeerCertificate, CertificateError> {
    let (certificate, signed) = parse(der)?;
    identity(&certificate, &signed)
}

/// Step 1 without the clock, and step 2: the certificate and its extension.
fn parse(der: &[u8]) -> Result<(X509Certificate<'_>, SignedKey), CertificateError> {
    let (rest, certificate) =
        X509Certificate::from_der(der).map_err(|error| CertificateError::Parse(error.to_string()))?;
    if !rest.is_empty() {
        return Err(CertificateError::Parse("bytes after the certificate".to_owned()));
    }
    if certificate.issuer_uid.is_some() || certificate.subject_uid.is_some() {
        return Err(CertificateError::UniqueId);
    }
    let mut ours = Vec::new();
    for extension in certificate.extensions() {
        let oid = extension.oid.to_id_string();
        if oid == OID_TEXT {
            ours.push(extension.value);
        } else if extension.critical {
            return Err(CertificateError::UnknownCritical(oid));
        }
    }
    let [extension] = ours[..] else { return Err(CertificateError::Extensions(ours.len())) };
    let signed = SignedKey::decode(extension)?;
    Ok((certificate, signed))
}

/// The identity key the extension names, and the certificate's key.
fn identity(certificate: &X509Certificate<'_>, signed: &SignedKey) -> Result<PeerCertificate, CertificateError> {
    let identity = PublicKey::decode_protobuf(&signed.public_key).map_err(CertificateError::IdentityKey)?;
    Ok(PeerCertificate { identity, spki: certificate.public_key().raw.to_vec() })
}

#[cfg(test)]
mod tests;
