//! Keys: a node's Ed25519 key pair, and the libp2p key encoding.
//!
//! Spec: `libp2p-peer-ids.md`, "Keys" and "Ed25519". A key travels (in a
//! Noise handshake payload, an identify message, a signed pubsub message) as
//! a small protobuf:
//!
//! ```text
//! message PublicKey  { required KeyType Type = 1; required bytes Data = 2; }
//! message PrivateKey { required KeyType Type = 1; required bytes Data = 2; }
//! ```
//!
//! The spec demands a deterministic encoding (minimal varints, fields in
//! tag order, all fields present, no others), because a peer id is the hash
//! of these exact bytes. We encode that way, and on decoding we re-encode
//! and insist on the same bytes: a key has one encoding, never two.
//!
//! For Ed25519, `Data` holds the 32-byte public key; for a private key it
//! holds `secret ‖ public` (64 bytes), or the legacy `secret ‖ public ‖
//! public` (96 bytes), whose two copies of the public key must agree. Other
//! key types (RSA, Secp256k1, ECDSA) are recognised and refused with
//! [`Error::UnsupportedKeyType`].

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use prost::Message as _;
use zeroize::Zeroizing;

use crate::{Error, PeerId, Result};

/// The key types of the libp2p key protobuf (`KeyType` enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum KeyType {
    /// RSA (not supported by strata).
    Rsa = 0,
    /// Ed25519, the one type strata implements and every libp2p node must.
    Ed25519 = 1,
    /// Secp256k1 (not supported by strata).
    Secp256k1 = 2,
    /// ECDSA (not supported by strata).
    Ecdsa = 3,
}

/// The protobuf messages of the spec. `PrivateKey` has the same shape.
#[derive(Clone, PartialEq, prost::Message)]
struct KeyProto {
    #[prost(enumeration = "KeyType", required, tag = "1")]
    key_type: i32,
    #[prost(bytes = "vec", required, tag = "2")]
    data: Vec<u8>,
}

/// Decodes a key protobuf of any key type, insisting on the canonical
/// encoding; returns the type and the `Data` bytes.
pub(crate) fn decode_key_proto(bytes: &[u8]) -> Result<(KeyType, Zeroizing<Vec<u8>>)> {
    let proto = KeyProto::decode(bytes).map_err(|_| Error::InvalidKey("malformed protobuf"))?;
    let key_type = KeyType::try_from(proto.key_type).map_err(|_| Error::InvalidKey("unknown key type"))?;
    if Zeroizing::new(proto.encode_to_vec()).as_slice() != bytes {
        return Err(Error::InvalidKey("not the canonical protobuf encoding"));
    }
    Ok((key_type, Zeroizing::new(proto.data)))
}

/// Decodes a key protobuf that must hold an Ed25519 key; returns `Data`.
fn decode_ed25519_proto(bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    match decode_key_proto(bytes)? {
        (KeyType::Ed25519, data) => Ok(data),
        (other, _) => Err(Error::UnsupportedKeyType(other)),
    }
}

fn encode_proto(data: &[u8]) -> Vec<u8> {
    KeyProto { key_type: KeyType::Ed25519 as i32, data: data.to_vec() }.encode_to_vec()
}

/// A node's public key: verifies its signatures and names it (via
/// [`PeerId`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key's type (always Ed25519 for now).
    pub fn key_type(&self) -> KeyType {
        KeyType::Ed25519
    }

    /// Whether `signature` is this key's valid signature of `message`.
    ///
    /// Uses strict Ed25519 verification (RFC 8032 with the malleability and
    /// weak-key checks), as rust-libp2p does.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &signature).is_ok()
    }

    /// The key's libp2p protobuf encoding, as sent on the wire.
    pub fn encode_protobuf(&self) -> Vec<u8> {
        encode_proto(self.0.as_bytes())
    }

    /// Decodes a key from its libp2p protobuf encoding.
    pub fn decode_protobuf(bytes: &[u8]) -> Result<Self> {
        let data = decode_ed25519_proto(bytes)?;
        Self::from_ed25519_bytes(&data)
    }

    /// The key from its raw 32 Ed25519 bytes.
    pub fn from_ed25519_bytes(bytes: &[u8]) -> Result<Self> {
        let bytes: &[u8; 32] = bytes.try_into().map_err(|_| Error::InvalidKey("Ed25519 public key is not 32 bytes"))?;
        VerifyingKey::from_bytes(bytes).map(Self).map_err(|_| Error::InvalidKey("not an Ed25519 curve point"))
    }

    /// The raw 32 Ed25519 bytes of the key.
    pub fn to_ed25519_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The peer id this key names.
    pub fn to_peer_id(&self) -> PeerId {
        PeerId::from_public_key(self)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(Ed25519, {})", data_encoding::HEXLOWER.encode(self.0.as_bytes()))
    }
}

/// A node's identity: an Ed25519 key pair. Signs; its public half names the
/// node.
///
/// The secret is wiped from memory when the key pair is dropped, and never
/// shown by `Debug`.
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// A fresh key pair from the operating system's random source (see
    /// [`crate::random`]).
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes, which on the
    /// platforms tokio supports means the system is broken.
    pub fn generate_ed25519() -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        #[allow(clippy::expect_used)] // no key without randomness; see the doc comment
        crate::random::fill(secret.as_mut()).expect("the OS random source failed");
        Self::ed25519_from_secret(*secret)
    }

    /// The key pair whose Ed25519 secret key is these 32 bytes.
    pub fn ed25519_from_secret(secret: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&secret))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The peer id of the public half.
    pub fn peer_id(&self) -> PeerId {
        self.public().to_peer_id()
    }

    /// Signs `message` (a 64-byte Ed25519 signature).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_bytes().to_vec()
    }

    /// The libp2p `PrivateKey` protobuf: how a node saves its identity.
    /// `Data` is `secret ‖ public`. Keep the result secret.
    pub fn to_protobuf_encoding(&self) -> Zeroizing<Vec<u8>> {
        let mut data = Zeroizing::new(Vec::with_capacity(64));
        data.extend_from_slice(self.0.as_bytes());
        data.extend_from_slice(self.0.verifying_key().as_bytes());
        Zeroizing::new(encode_proto(&data))
    }

    /// The identity saved in `path` (a libp2p `PrivateKey` protobuf), or a
    /// new one saved there if the file does not exist: how a node keeps its
    /// peer id across restarts. A new file is created owner-only (mode
    /// 0600 on Unix) and never overwritten; an unreadable or invalid file
    /// is an error.
    pub fn load_or_generate(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        use std::io::Write as _;
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(bytes) => Self::from_protobuf_encoding(&bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let keypair = Self::generate_ed25519();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path)?;
                file.write_all(&keypair.to_protobuf_encoding())?;
                file.sync_all()?;
                Ok(keypair)
            }
            Err(error) => Err(error),
        }
    }

    /// Loads a key pair from a libp2p `PrivateKey` protobuf, in its 64-byte
    /// or legacy 96-byte form, checking that the public key it carries is
    /// the one its secret key derives.
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<Self> {
        let data = decode_ed25519_proto(bytes)?;
        let (secret, public) = match data.len() {
            64 => (&data[..32], &data[32..]),
            96 if data[32..64] == data[64..] => (&data[..32], &data[32..64]),
            96 => return Err(Error::InvalidKey("legacy private key holds two different public keys")),
            _ => return Err(Error::InvalidKey("Ed25519 private key is neither 64 nor 96 bytes")),
        };
        let mut secret_bytes = Zeroizing::new([0u8; 32]);
        secret_bytes.copy_from_slice(secret);
        let keypair = Self::ed25519_from_secret(*secret_bytes);
        if keypair.0.verifying_key().as_bytes() != public {
            return Err(Error::InvalidKey("public key does not match the secret key"));
        }
        Ok(keypair)
    }
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair").field("public", &self.public()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let keypair = Keypair::generate_ed25519();
        let signature = keypair.sign(b"hello");
        assert!(keypair.public().verify(b"hello", &signature));
        assert!(!keypair.public().verify(b"hellO", &signature));
        assert!(!keypair.public().verify(b"hello", &signature[..63]));
        assert!(!Keypair::generate_ed25519().public().verify(b"hello", &signature));
    }

    #[test]
    fn private_key_round_trip_keeps_the_peer_id() {
        let keypair = Keypair::generate_ed25519();
        let loaded = Keypair::from_protobuf_encoding(&keypair.to_protobuf_encoding()).unwrap();
        assert_eq!(loaded.peer_id(), keypair.peer_id());
    }

    #[test]
    fn debug_hides_the_secret() {
        let keypair = Keypair::ed25519_from_secret([7; 32]);
        let text = format!("{keypair:?}");
        assert!(!text.contains(&data_encoding::HEXLOWER.encode(&[7; 32])));
        assert!(text.contains("PublicKey"));
    }
}
