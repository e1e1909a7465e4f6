//! Ed25519 keys (`libp2p-peer-ids.md`, "Ed25519"): the type every libp2p
//! node must support, and strata's default.
//!
//! `Data` holds the 32-byte public key; a private key is `secret ‖ public`
//! (64 bytes) or the legacy `secret ‖ public ‖ public` (96 bytes), whose two
//! copies of the public key must agree. Signatures are plain RFC 8032,
//! verified strictly (the malleability and weak-key checks), as
//! rust-libp2p does.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct PublicKey(VerifyingKey);

impl PublicKey {
    pub(super) fn decode(data: &[u8]) -> Result<Self> {
        let bytes: &[u8; 32] = data.try_into().map_err(|_| Error::InvalidKey("Ed25519 public key is not 32 bytes"))?;
        VerifyingKey::from_bytes(bytes).map(Self).map_err(|_| Error::InvalidKey("not an Ed25519 curve point"))
    }

    pub(super) fn data(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &signature).is_ok()
    }
}

/// An Ed25519 key pair (dalek wipes the secret when it is dropped).
#[derive(Clone)]
pub(super) struct Keypair(SigningKey);

impl Keypair {
    pub(super) fn from_secret(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    pub(super) fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub(super) fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_bytes().to_vec()
    }

    /// `secret ‖ public`.
    pub(super) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut data = Zeroizing::new(Vec::with_capacity(64));
        data.extend_from_slice(self.0.as_bytes());
        data.extend_from_slice(self.0.verifying_key().as_bytes());
        data
    }

    /// The 64-byte or legacy 96-byte form, checking that the public key it
    /// carries is the one its secret derives.
    pub(super) fn decode(data: &[u8]) -> Result<Self> {
        let (secret, public) = match data.len() {
            64 => (&data[..32], &data[32..]),
            96 if data[32..64] == data[64..] => (&data[..32], &data[32..64]),
            96 => return Err(Error::InvalidKey("legacy private key holds two different public keys")),
            _ => return Err(Error::InvalidKey("Ed25519 private key is neither 64 nor 96 bytes")),
        };
        let mut secret_bytes = Zeroizing::new([0u8; 32]);
        secret_bytes.copy_from_slice(secret);
        let keypair = Self::from_secret(&secret_bytes);
        if keypair.0.verifying_key().as_bytes() != public {
            return Err(Error::InvalidKey("public key does not match the secret key"));
        }
        Ok(keypair)
    }
}
