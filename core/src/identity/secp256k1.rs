//! Secp256k1 keys (`libp2p-peer-ids.md`, "Secp256k1"): the identities of
//! Ethereum's consensus clients.
//!
//! "The standard Bitcoin EC encoding": `Data` holds the public key as a
//! 33-byte compressed SEC1 point (`02`/`03` ‖ x) and the private key as its
//! raw 32-byte scalar. A signature is ECDSA over SHA-256 of the message,
//! DER-encoded, with a low `s` (BIP 62): what go-libp2p (decred's
//! secp256k1), rust-libp2p (libsecp256k1) and js-libp2p (noble) produce,
//! and the only form we accept.
//!
//! The arithmetic is `RustCrypto`'s `k256`: ring has no secp256k1.

use k256::ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer as _, signature::Verifier as _};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// A secp256k1 public key, kept with its compressed encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct PublicKey {
    key: VerifyingKey,
    compressed: [u8; 33],
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.compressed.hash(state);
    }
}

impl PublicKey {
    fn from_key(key: VerifyingKey) -> Self {
        let mut compressed = [0u8; 33];
        compressed.copy_from_slice(key.to_encoded_point(true).as_bytes());
        Self { key, compressed }
    }

    /// A compressed point (33 bytes), the one form every implementation
    /// writes and hashes into the peer id. (go-libp2p would also parse an
    /// uncompressed one; rust-libp2p refuses it, and so do we: a key has
    /// one encoding.)
    pub(super) fn decode(data: &[u8]) -> Result<Self> {
        if !matches!((data.len(), data.first()), (33, Some(2 | 3))) {
            return Err(Error::InvalidKey("secp256k1 public key is not a 33-byte compressed point"));
        }
        VerifyingKey::from_sec1_bytes(data)
            .map(Self::from_key)
            .map_err(|_| Error::InvalidKey("not a secp256k1 curve point"))
    }

    pub(super) fn data(&self) -> &[u8] {
        &self.compressed
    }

    /// A strict DER signature with a low `s` over SHA-256 of `message`.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = Signature::from_der(signature) else {
            return false;
        };
        // k256 refuses a high `s` itself; the explicit check documents it.
        signature.normalize_s().is_none() && self.key.verify(message, &signature).is_ok()
    }
}

/// A secp256k1 key pair (`k256` wipes the scalar when it is dropped).
#[derive(Clone)]
pub(super) struct Keypair(SigningKey);

impl Keypair {
    /// The key pair of a 32-byte big-endian scalar in `1..n`.
    pub(super) fn from_secret(secret: &[u8]) -> Result<Self> {
        if secret.len() != 32 {
            return Err(Error::InvalidKey("secp256k1 private key is not 32 bytes"));
        }
        SigningKey::from_slice(secret).map(Self).map_err(|_| Error::InvalidKey("secp256k1 private key is out of range"))
    }

    /// A fresh key pair from [`crate::random`]: 32 random bytes, drawn again
    /// in the (2^-128) case that they are not a valid scalar.
    pub(super) fn generate() -> Result<Self, crate::random::RandomError> {
        loop {
            let mut secret = Zeroizing::new([0u8; 32]);
            crate::random::fill(secret.as_mut())?;
            if let Ok(keypair) = Self::from_secret(secret.as_ref()) {
                return Ok(keypair);
            }
        }
    }

    pub(super) fn public(&self) -> PublicKey {
        PublicKey::from_key(*self.0.verifying_key())
    }

    /// ECDSA over SHA-256 (RFC 6979 nonces, low `s`), DER-encoded.
    pub(super) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = self.0.sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    /// The raw 32-byte scalar.
    pub(super) fn encode(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_bytes().to_vec())
    }
}
