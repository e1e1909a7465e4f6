//! ECDSA keys on NIST P-256 (`libp2p-peer-ids.md`, "ECDSA").
//!
//! `Data` of a public key is its DER `SubjectPublicKeyInfo` (RFC 5480):
//!
//! ```text
//! 30 59                                   SEQUENCE
//!    30 13                                  SEQUENCE (AlgorithmIdentifier)
//!       06 07 2a8648ce3d0201                  id-ecPublicKey
//!       06 08 2a8648ce3d030107                prime256v1
//!    03 42 00 04 ‖ x (32) ‖ y (32)          BIT STRING: the uncompressed point
//! ```
//!
//! That layout is fixed (91 bytes), so we write it and accept exactly it.
//! A private key is a SEC1 `ECPrivateKey` (RFC 5915; the spec's text says
//! "PKIX" but its test vector, go-libp2p's `MarshalECPrivateKey` and
//! rust-libp2p's `to_sec1_der` are all SEC1):
//!
//! ```text
//! SEQUENCE { version 1, privateKey OCTET STRING (32),
//!            [0] prime256v1 OPTIONAL, [1] BIT STRING (the point) OPTIONAL }
//! ```
//!
//! We write both optional fields, as they do, and need the public key when
//! reading (ring builds a signing key from the pair, never from the scalar
//! alone). Signatures are ECDSA over SHA-256, DER-encoded.
//!
//! The arithmetic is ring's (already in the tree for TLS). A public key is
//! checked to be a point of the curve when decoded, by one ECDH agreement
//! with it: ring offers no other point check, and a bad key should fail
//! with its own error, not as a bad signature later. Key generation and
//! signing draw from the operating system (ring takes no other random
//! source), so a process seeded with [`crate::random::seed_insecurely`]
//! still makes new ECDSA keys each run.

use std::sync::Arc;

use ring::{
    agreement,
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, KeyPair as _},
};
use zeroize::Zeroizing;

use crate::{Error, Result, der};

/// The 26 bytes of a P-256 `SubjectPublicKeyInfo` before the point.
const SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// The OID prime256v1 (1.2.840.10045.3.1.7), value bytes.
const PRIME256V1: [u8; 8] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// An uncompressed point: `04 ‖ x ‖ y`.
const POINT_LEN: usize = 65;

/// A P-256 public key: its `SubjectPublicKeyInfo`, checked.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct PublicKey {
    spki: [u8; SPKI_PREFIX.len() + POINT_LEN],
}

impl PublicKey {
    fn from_point(point: &[u8]) -> Result<Self> {
        if point.len() != POINT_LEN || point[0] != 0x04 {
            return Err(Error::InvalidKey("ECDSA public key is not an uncompressed P-256 point"));
        }
        let mut spki = [0u8; SPKI_PREFIX.len() + POINT_LEN];
        spki[..SPKI_PREFIX.len()].copy_from_slice(&SPKI_PREFIX);
        spki[SPKI_PREFIX.len()..].copy_from_slice(point);
        Ok(Self { spki })
    }

    pub(super) fn decode(data: &[u8]) -> Result<Self> {
        let point = data
            .strip_prefix(&SPKI_PREFIX[..])
            .ok_or(Error::InvalidKey("ECDSA public key is not a P-256 SubjectPublicKeyInfo"))?;
        let key = Self::from_point(point)?;
        if !is_on_curve(point) {
            return Err(Error::InvalidKey("not a P-256 curve point"));
        }
        Ok(key)
    }

    pub(super) fn data(&self) -> &[u8] {
        &self.spki
    }

    fn point(&self) -> &[u8] {
        &self.spki[SPKI_PREFIX.len()..]
    }

    /// A DER signature over SHA-256 of `message`.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, self.point())
            .verify(message, signature)
            .is_ok()
    }
}

/// Whether ring takes `point` as a P-256 public key (it checks the point
/// is on the curve and not the identity before any agreement).
fn is_on_curve(point: &[u8]) -> bool {
    let Ok(ours) = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &SystemRandom::new()) else {
        return false;
    };
    agreement::agree_ephemeral(ours, &agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, point), |_| ()).is_ok()
}

/// A P-256 key pair: ring's signing key and the SEC1 DER it came from.
///
/// The DER is wiped when dropped; ring keeps its own copy of the scalar,
/// which it does not wipe.
#[derive(Clone)]
pub(super) struct Keypair {
    signing: Arc<EcdsaKeyPair>,
    sec1: Arc<Zeroizing<Vec<u8>>>,
}

impl Keypair {
    /// A fresh key pair from the operating system.
    pub(super) fn generate() -> Result<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| Error::InvalidKey("the OS random source failed"))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        Self::decode(der::pkcs8_private_key(&pkcs8)?)
    }

    /// A SEC1 `ECPrivateKey` (DER) that names P-256 (or no curve) and
    /// carries its public key.
    pub(super) fn decode(sec1: &[u8]) -> Result<Self> {
        let body = der::read_all(sec1, der::SEQUENCE)?;
        let (version, rest) = der::read_unsigned(body)?;
        if version != [1] {
            return Err(Error::InvalidKey("ECPrivateKey version is not 1"));
        }
        let (scalar, mut rest) = der::read(rest, der::OCTET_STRING)?;
        if scalar.len() != 32 {
            return Err(Error::InvalidKey("ECDSA private key is not a 32-byte P-256 scalar"));
        }
        // The optional fields, each at most once and in order: [0] the
        // curve, [1] the public key.
        let mut point = None;
        let mut last_tag = 0;
        while !rest.is_empty() {
            let (tag, value, after) = der::read_any(rest)?;
            if tag <= last_tag {
                return Err(Error::Der("ECPrivateKey fields repeated or out of order"));
            }
            last_tag = tag;
            match tag {
                0xa0 => {
                    if der::read_all(value, der::OBJECT_IDENTIFIER)? != PRIME256V1 {
                        return Err(Error::InvalidKey("ECDSA private key is not on P-256"));
                    }
                }
                0xa1 => {
                    let (bits, tail) = der::read_bit_string(value)?;
                    if !tail.is_empty() {
                        return Err(Error::Der("bytes after the public key"));
                    }
                    point = Some(bits);
                }
                _ => return Err(Error::Der("unexpected field in ECPrivateKey")),
            }
            rest = after;
        }
        let point = point.ok_or(Error::InvalidKey("ECDSA private key without its public key"))?;
        let public = PublicKey::from_point(point)?;
        let signing = EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            scalar,
            point,
            &SystemRandom::new(),
        )
        .map_err(|_| Error::InvalidKey("ECDSA public key does not match the private key"))?;
        Ok(Self { signing: Arc::new(signing), sec1: Arc::new(encode_sec1(scalar, public.point())) })
    }

    pub(super) fn public(&self) -> PublicKey {
        let point = self.signing.public_key().as_ref();
        let mut spki = [0u8; SPKI_PREFIX.len() + POINT_LEN];
        spki[..SPKI_PREFIX.len()].copy_from_slice(&SPKI_PREFIX);
        spki[SPKI_PREFIX.len()..].copy_from_slice(point);
        PublicKey { spki }
    }

    /// ECDSA over SHA-256, DER-encoded.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes for the nonce.
    pub(super) fn sign(&self, message: &[u8]) -> Vec<u8> {
        #[allow(clippy::expect_used)] // no signature without randomness, as no key without it
        let signature = self.signing.sign(&SystemRandom::new(), message).expect("the OS random source failed");
        signature.as_ref().to_vec()
    }

    /// The SEC1 `ECPrivateKey`, with the curve and the public key.
    pub(super) fn encode(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.sec1.to_vec())
    }
}

/// `SEQUENCE { 1, OCTET STRING scalar, [0] prime256v1, [1] BIT STRING point }`.
fn encode_sec1(scalar: &[u8], point: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(128));
    der::write(der::INTEGER, &[1], &mut body);
    der::write(der::OCTET_STRING, scalar, &mut body);
    der::write(0xa0, &der::encode(der::OBJECT_IDENTIFIER, &PRIME256V1), &mut body);
    let mut bits = Vec::with_capacity(POINT_LEN + 1);
    bits.push(0);
    bits.extend_from_slice(point);
    der::write(0xa1, &der::encode(der::BIT_STRING, &bits), &mut body);
    let mut out = Zeroizing::new(Vec::with_capacity(body.len() + 2));
    der::write(der::SEQUENCE, &body, &mut out);
    out
}
