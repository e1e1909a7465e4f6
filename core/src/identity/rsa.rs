//! RSA keys (`libp2p-peer-ids.md`, "RSA"): the identities of the older IPFS
//! network, six of the seven default bootstrap nodes among them.
//!
//! `Data` of a public key is its DER `SubjectPublicKeyInfo` (PKIX):
//!
//! ```text
//! SEQUENCE {
//!   SEQUENCE { OID rsaEncryption (1.2.840.113549.1.1.1), NULL }
//!   BIT STRING { RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER } }
//! }
//! ```
//!
//! A private key is a PKCS#1 `RSAPrivateKey` (DER). A signature is
//! RSASSA-PKCS1-v1_5 with SHA-256, as long as the modulus.
//!
//! Bounds, checked on the bytes before any arithmetic: a public key's
//! modulus has 2,048 to 8,192 bits (a 16,384-bit key costs a verifier
//! ~64× the work of a 4,096-bit one, and no libp2p implementation makes
//! one), and its encoding is at most [`MAX_SPKI_LEN`] bytes. ring does the
//! arithmetic; it signs with keys of 2,048 to 4,096 bits and cannot
//! generate RSA keys, so an RSA identity is always loaded (PKCS#8 or the
//! libp2p protobuf), never made. ring keeps its own copy of the private
//! key, which it does not wipe; the DER we keep is wiped when dropped.

use std::sync::Arc;

use ring::{
    rand::SystemRandom,
    signature::{self, RsaKeyPair},
};
use zeroize::Zeroizing;

use crate::{Error, Result, der};

/// The smallest modulus accepted, in bits.
pub const MIN_BITS: usize = 2048;
/// The largest modulus accepted, in bits.
pub const MAX_BITS: usize = 8192;
/// The longest public key encoding accepted: an 8,192-bit modulus with a
/// public exponent of up to 4 bytes, and its DER headers.
pub(super) const MAX_SPKI_LEN: usize = 1100;

/// The OID rsaEncryption (1.2.840.113549.1.1.1), value bytes.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// An RSA public key: its `SubjectPublicKeyInfo`, checked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct PublicKey {
    spki: Arc<[u8]>,
}

impl PublicKey {
    pub(super) fn decode(data: &[u8]) -> Result<Self> {
        if data.len() > MAX_SPKI_LEN {
            return Err(Error::InvalidKey("RSA public key is larger than 8192 bits"));
        }
        let body = der::read_all(data, der::SEQUENCE)?;
        let (algorithm, rest) = der::read(body, der::SEQUENCE)?;
        let (oid, parameters) = der::read(algorithm, der::OBJECT_IDENTIFIER)?;
        if oid != RSA_ENCRYPTION || parameters != [der::NULL, 0] {
            return Err(Error::InvalidKey("not an rsaEncryption SubjectPublicKeyInfo"));
        }
        let (pkcs1, rest) = der::read_bit_string(rest)?;
        if !rest.is_empty() {
            return Err(Error::Der("bytes after the public key"));
        }
        let (n, e) = pkcs1_components(pkcs1)?;
        let bits = n.len() * 8 - n[0].leading_zeros() as usize;
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::InvalidKey("RSA modulus is not 2048 to 8192 bits"));
        }
        if n.last().is_none_or(|last| last & 1 == 0) {
            return Err(Error::InvalidKey("RSA modulus is even"));
        }
        if e.len() > 4 || e.last().is_none_or(|last| last & 1 == 0) || e == [1] {
            return Err(Error::InvalidKey("RSA public exponent is not an odd number of at most 32 bits"));
        }
        Ok(Self { spki: data.into() })
    }

    fn from_pkcs1(pkcs1: &[u8]) -> Self {
        let mut bits = Vec::with_capacity(pkcs1.len() + 1);
        bits.push(0);
        bits.extend_from_slice(pkcs1);
        let mut body = der::encode(
            der::SEQUENCE,
            &[&der::encode(der::OBJECT_IDENTIFIER, &RSA_ENCRYPTION)[..], &[der::NULL, 0]].concat(),
        );
        der::write(der::BIT_STRING, &bits, &mut body);
        Self { spki: der::encode(der::SEQUENCE, &body).into() }
    }

    pub(super) fn data(&self) -> &[u8] {
        &self.spki
    }

    /// The `RSAPublicKey` inside (already checked by `decode`).
    fn pkcs1(&self) -> &[u8] {
        der::read_all(&self.spki, der::SEQUENCE)
            .and_then(|body| der::read(body, der::SEQUENCE))
            .and_then(|(_, rest)| der::read_bit_string(rest))
            .map_or(&[], |(pkcs1, _)| pkcs1)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, self.pkcs1())
            .verify(message, signature)
            .is_ok()
    }
}

/// `n` and `e` of a PKCS#1 `RSAPublicKey`, as unsigned magnitudes.
fn pkcs1_components(pkcs1: &[u8]) -> Result<(&[u8], &[u8])> {
    let body = der::read_all(pkcs1, der::SEQUENCE)?;
    let (n, rest) = der::read_unsigned(body)?;
    let (e, rest) = der::read_unsigned(rest)?;
    if !rest.is_empty() {
        return Err(Error::Der("bytes after the public exponent"));
    }
    Ok((n, e))
}

/// An RSA key pair: ring's signing key and the PKCS#1 DER it came from.
#[derive(Clone)]
pub(super) struct Keypair {
    signing: Arc<RsaKeyPair>,
    pkcs1: Arc<Zeroizing<Vec<u8>>>,
}

impl Keypair {
    /// A PKCS#1 `RSAPrivateKey` (what the libp2p protobuf holds).
    pub(super) fn decode(pkcs1: &[u8]) -> Result<Self> {
        let signing = RsaKeyPair::from_der(pkcs1)
            .map_err(|_| Error::InvalidKey("not an RSA private key ring can use (PKCS#1, 2048 to 4096 bits)"))?;
        Ok(Self { signing: Arc::new(signing), pkcs1: Arc::new(Zeroizing::new(pkcs1.to_vec())) })
    }

    /// A PKCS#8 `PrivateKeyInfo` around an RSA key.
    pub(super) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        let body = der::read_all(pkcs8, der::SEQUENCE)?;
        let (_, rest) = der::read_unsigned(body)?;
        let (algorithm, _) = der::read(rest, der::SEQUENCE)?;
        if der::read(algorithm, der::OBJECT_IDENTIFIER)?.0 != RSA_ENCRYPTION {
            return Err(Error::InvalidKey("PKCS#8 key is not an RSA key"));
        }
        Self::decode(der::pkcs8_private_key(pkcs8)?)
    }

    pub(super) fn public(&self) -> PublicKey {
        PublicKey::from_pkcs1(self.signing.public().as_ref())
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256.
    ///
    /// # Panics
    ///
    /// If ring fails to sign with a key it accepted, which it documents
    /// only for a wrong buffer length (ours is the modulus length) or a
    /// failing random source (for blinding).
    pub(super) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.signing.public().modulus_len()];
        #[allow(clippy::expect_used)] // see the doc comment
        self.signing
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .expect("RSA signing failed");
        signature
    }

    /// The PKCS#1 `RSAPrivateKey`.
    pub(super) fn encode(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.pkcs1.to_vec())
    }
}
