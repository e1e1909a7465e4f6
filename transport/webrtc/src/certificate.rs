//! The node's DTLS certificate, its fingerprint, and the Noise prologue
//! built from fingerprints.
//!
//! Spec: `libp2p-webrtc-direct.md`, "Addressing" and "Connection
//! Security". The certificate is self-signed and proves nothing by
//! itself; its SHA-256 fingerprint, as a multihash, goes into the address
//! (`/certhash/u<base64url(0x12 0x20 <32 bytes>)>`), so a dialer knows which
//! certificate to expect in the DTLS handshake. The peer's libp2p identity
//! is then proven by the Noise handshake, whose prologue binds both
//! fingerprints:
//!
//! ```text
//! "libp2p-webrtc-noise:" ‖ multihash(client fingerprint) ‖ multihash(server fingerprint)
//! ```
//!
//! One certificate per transport: [`Certificate::generate`] makes one
//! (ECDSA P-256, what browsers use), [`Certificate::from_der`] takes one a
//! node kept, so its addresses survive a restart, and
//! [`Certificate::load_or_generate`] keeps one in a PEM file.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The multihash code of SHA-256.
const SHA2_256: u8 = 0x12;

/// What the Noise prologue starts with.
const PROLOGUE_PREFIX: &[u8] = b"libp2p-webrtc-noise:";

/// A DTLS certificate with its private key (DER: the certificate, and the
/// key in PKCS#8).
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Certificate").field("fingerprint", &self.fingerprint()).finish_non_exhaustive()
    }
}

impl Certificate {
    /// A new self-signed ECDSA P-256 certificate.
    pub fn generate() -> Result<Self> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(Error::certificate)?;
        let params = rcgen::CertificateParams::new(vec!["strata".to_owned()]).map_err(Error::certificate)?;
        let cert = params.self_signed(&key).map_err(Error::certificate)?;
        Ok(Self { der: cert.der().to_vec(), key_der: key.serialize_der() })
    }

    /// A certificate kept from before: its DER and its key's PKCS#8 DER (as
    /// [`der`](Self::der) and [`key_der`](Self::key_der) gave them). The key
    /// must be ECDSA P-256 or P-384.
    pub fn from_der(der: Vec<u8>, key_der: Vec<u8>) -> Result<Self> {
        let key = rcgen::KeyPair::try_from(key_der.as_slice()).map_err(Error::certificate)?;
        let ecdsa = [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ECDSA_P384_SHA384];
        if !ecdsa.iter().any(|alg| key.is_compatible(alg)) {
            return Err(Error::Certificate("the key is not ECDSA P-256 or P-384".into()));
        }
        if der.is_empty() {
            return Err(Error::Certificate("empty certificate".into()));
        }
        Ok(Self { der, key_der })
    }

    /// The certificate kept in the file at `path` (PEM: a `CERTIFICATE`
    /// and a `PRIVATE KEY` block), or a new one written there (readable by
    /// its owner only) when there is no such file: a node that keeps the
    /// file keeps its `/certhash` addresses across restarts.
    pub fn load_or_generate(path: impl AsRef<std::path::Path>) -> Result<Self> {
        use std::io::Write as _;
        let path = path.as_ref();
        let invalid = |reason: String| Error::Certificate(format!("{}: {reason}", path.display()));
        match std::fs::read(path) {
            Ok(bytes) => {
                let blocks = pem::parse_many(&bytes).map_err(|error| invalid(error.to_string()))?;
                let block = |tag: &str| blocks.iter().find(|b| b.tag() == tag).map(|b| b.contents().to_vec());
                let (Some(der), Some(key_der)) = (block("CERTIFICATE"), block("PRIVATE KEY")) else {
                    return Err(invalid("no CERTIFICATE and PRIVATE KEY blocks".into()));
                };
                Self::from_der(der, key_der).map_err(|error| invalid(error.to_string()))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let made = Self::generate()?;
                let text = pem::encode_many(&[
                    pem::Pem::new("CERTIFICATE", made.der.clone()),
                    pem::Pem::new("PRIVATE KEY", made.key_der.clone()),
                ]);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path)?;
                file.write_all(text.as_bytes())?;
                file.sync_all()?;
                Ok(made)
            }
            Err(error) => Err(Error::Io(error)),
        }
    }

    /// The certificate, DER-encoded.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The private key, PKCS#8 DER. Secret: store it as such.
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The SHA-256 fingerprint of the certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.der)
    }

    pub(crate) fn to_dtls(&self) -> str0m::config::DtlsCert {
        str0m::config::DtlsCert { certificate: self.der.clone(), private_key: self.key_der.clone() }
    }
}

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// A fingerprint from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The multihash (`0x12 0x20 <digest>`): the value of `/certhash`.
    pub fn to_multihash(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(34);
        out.extend_from_slice(&[SHA2_256, 32]);
        out.extend_from_slice(&self.0);
        out
    }

    /// Reads a `/certhash` multihash; only SHA-256 is supported (the spec's
    /// "MUST").
    pub fn from_multihash(multihash: &[u8]) -> Result<Self> {
        match multihash {
            [SHA2_256, 32, digest @ ..] => {
                let digest: [u8; 32] = digest.try_into().map_err(|_| Error::UnsupportedCerthash)?;
                Ok(Self(digest))
            }
            _ => Err(Error::UnsupportedCerthash),
        }
    }

    pub(crate) fn to_str0m(self) -> str0m::config::Fingerprint {
        str0m::config::Fingerprint { hash_func: "sha-256".to_owned(), bytes: self.0.to_vec() }
    }

    pub(crate) fn from_str0m(fingerprint: &str0m::config::Fingerprint) -> Option<Self> {
        if !fingerprint.hash_func.eq_ignore_ascii_case("sha-256") {
            return None;
        }
        Some(Self(fingerprint.bytes.as_slice().try_into().ok()?))
    }
}

/// The Noise prologue: the prefix, then the client's (the dialer's, the
/// Noise responder's) and the server's (the listener's, the Noise
/// initiator's) fingerprints as multihashes.
pub fn noise_prologue(client: Fingerprint, server: Fingerprint) -> Vec<u8> {
    [PROLOGUE_PREFIX, &client.to_multihash(), &server.to_multihash()].concat()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fingerprint(text: &str) -> Fingerprint {
        Fingerprint::from_bytes(hex::decode(text).unwrap().try_into().unwrap())
    }

    /// The spec's test vector ("Noise prologue", both sides SHA-256).
    #[test]
    fn the_spec_prologue_vector() {
        let client = fingerprint("3e79af40d6059617a0d83b83a52ce73b0c1f37a72c6043ad2969e2351bdca870");
        let server = fingerprint("30fc9f469c207419dfdd0aab5f27a86c973c94e40548db9375cca2e915973b99");
        assert_eq!(
            hex::encode(noise_prologue(client, server)),
            "6c69627032702d7765627274632d6e6f6973653a12203e79af40d6059617a0d83b83a52ce73b0c1f37a72c6043ad2969e2351bdca870122030fc9f469c207419dfdd0aab5f27a86c973c94e40548db9375cca2e915973b99"
        );
    }

    #[test]
    fn certificates_round_trip_through_der_and_multihash() {
        let cert = Certificate::generate().unwrap();
        let kept = Certificate::from_der(cert.der().to_vec(), cert.key_der().to_vec()).unwrap();
        assert_eq!(kept.fingerprint(), cert.fingerprint());
        let multihash = cert.fingerprint().to_multihash();
        assert_eq!(&multihash[..2], &[0x12, 0x20]);
        assert_eq!(Fingerprint::from_multihash(&multihash).unwrap(), cert.fingerprint());
        assert!(Fingerprint::from_multihash(&[0x13, 0x20]).is_err());
        assert!(Fingerprint::from_multihash(&multihash[..20]).is_err());
        assert!(Certificate::from_der(cert.der().to_vec(), vec![1, 2, 3]).is_err());
        assert!(!format!("{cert:?}").contains("key_der"));
    }
}
