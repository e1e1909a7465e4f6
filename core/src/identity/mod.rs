//! Keys: a node's key pair of any of libp2p's four types, and the libp2p
//! key encoding.
//!
//! Spec: `libp2p-peer-ids.md`, "Keys". A key travels (in a Noise handshake
//! payload, a QUIC certificate, an identify message, a signed pubsub
//! message) as a small protobuf:
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
//! What `Data` holds and how each type signs, one module per type:
//!
//! | type | public `Data` | private `Data` | signature | module |
//! |---|---|---|---|---|
//! | Ed25519 | 32 bytes | secret ‖ public | RFC 8032 | `ed25519.rs` (dalek) |
//! | Secp256k1 | compressed point (33) | scalar (32) | ECDSA/SHA-256, DER, low s | `secp256k1.rs` (k256) |
//! | ECDSA | P-256 SPKI (91) | SEC1 `ECPrivateKey` | ECDSA/SHA-256, DER | `ecdsa.rs` (ring) |
//! | RSA | PKIX SPKI | PKCS#1 | PKCS#1 v1.5/SHA-256 | `rsa.rs` (ring) |
//!
//! Every decoder here takes bytes from strangers: sizes are bounded before
//! anything is parsed ([`MAX_KEY_PROTOBUF_LEN`], and RSA's own bounds), and
//! failures are errors that say what was wrong, never panics.

mod ecdsa;
mod ed25519;
mod rsa;
mod secp256k1;

#[cfg(test)]
mod tests;

use prost::Message as _;
use zeroize::Zeroizing;

use crate::{Error, PeerId, Result};

pub use rsa::{MAX_BITS as RSA_MAX_BITS, MIN_BITS as RSA_MIN_BITS};

/// The longest key protobuf accepted, public or private: above a PKCS#1
/// RSA-4096 private key (~2.4 KiB), the largest key strata signs with, and
/// an 8,192-bit public key.
pub const MAX_KEY_PROTOBUF_LEN: usize = 4096;

/// The key types of the libp2p key protobuf (`KeyType` enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum KeyType {
    /// RSA, 2,048 to 8,192 bits (signing keys: up to 4,096; loaded, never
    /// generated).
    Rsa = 0,
    /// Ed25519, the type every libp2p node must support and strata's
    /// default.
    Ed25519 = 1,
    /// Secp256k1, as Ethereum uses.
    Secp256k1 = 2,
    /// ECDSA on NIST P-256.
    Ecdsa = 3,
}

impl std::str::FromStr for KeyType {
    type Err = Error;

    /// `ed25519`, `secp256k1`, `ecdsa` or `rsa`, in any case.
    fn from_str(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(Self::Ed25519),
            "secp256k1" => Ok(Self::Secp256k1),
            "ecdsa" => Ok(Self::Ecdsa),
            "rsa" => Ok(Self::Rsa),
            _ => Err(Error::InvalidKey("key type is none of ed25519, secp256k1, ecdsa, rsa")),
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Rsa => "rsa",
            Self::Ed25519 => "ed25519",
            Self::Secp256k1 => "secp256k1",
            Self::Ecdsa => "ecdsa",
        })
    }
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
    if bytes.len() > MAX_KEY_PROTOBUF_LEN {
        return Err(Error::InvalidKey("key protobuf longer than 4096 bytes"));
    }
    let mut proto = KeyProto::decode(bytes).map_err(|_| Error::InvalidKey("malformed protobuf"))?;
    // Taken at once, so that a private key is wiped on every path out.
    let data = Zeroizing::new(std::mem::take(&mut proto.data));
    let key_type = KeyType::try_from(proto.key_type).map_err(|_| Error::InvalidKey("unknown key type"))?;
    if encode_proto(key_type, &data).as_slice() != bytes {
        return Err(Error::InvalidKey("not the canonical protobuf encoding"));
    }
    Ok((key_type, data))
}

/// The canonical key protobuf, written by hand into memory that is wiped
/// when dropped (it may hold a private key): `08 <type> 12 <len> <data>`.
fn encode_proto(key_type: KeyType, data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(data.len() + 8));
    let type_byte = match key_type {
        KeyType::Rsa => 0,
        KeyType::Ed25519 => 1,
        KeyType::Secp256k1 => 2,
        KeyType::Ecdsa => 3,
    };
    out.extend_from_slice(&[0x08, type_byte, 0x12]);
    crate::varint::encode(data.len() as u64, &mut out);
    out.extend_from_slice(data);
    out
}

/// A node's public key: verifies its signatures and names it (via
/// [`PeerId`]). Any of libp2p's four key types.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey(AnyPublicKey);

#[derive(Clone, PartialEq, Eq, Hash)]
enum AnyPublicKey {
    Ed25519(ed25519::PublicKey),
    Secp256k1(secp256k1::PublicKey),
    Ecdsa(ecdsa::PublicKey),
    Rsa(rsa::PublicKey),
}

impl PublicKey {
    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match &self.0 {
            AnyPublicKey::Ed25519(_) => KeyType::Ed25519,
            AnyPublicKey::Secp256k1(_) => KeyType::Secp256k1,
            AnyPublicKey::Ecdsa(_) => KeyType::Ecdsa,
            AnyPublicKey::Rsa(_) => KeyType::Rsa,
        }
    }

    /// Whether `signature` is this key's valid signature of `message`, by
    /// the rules of the key's type (see the module docs). A malformed
    /// signature is simply not valid.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.0 {
            AnyPublicKey::Ed25519(key) => key.verify(message, signature),
            AnyPublicKey::Secp256k1(key) => key.verify(message, signature),
            AnyPublicKey::Ecdsa(key) => key.verify(message, signature),
            AnyPublicKey::Rsa(key) => key.verify(message, signature),
        }
    }

    /// The `Data` field of the key's protobuf.
    fn data(&self) -> &[u8] {
        match &self.0 {
            AnyPublicKey::Ed25519(key) => key.data(),
            AnyPublicKey::Secp256k1(key) => key.data(),
            AnyPublicKey::Ecdsa(key) => key.data(),
            AnyPublicKey::Rsa(key) => key.data(),
        }
    }

    /// The key's libp2p protobuf encoding, as sent on the wire.
    pub fn encode_protobuf(&self) -> Vec<u8> {
        encode_proto(self.key_type(), self.data()).to_vec()
    }

    /// Decodes a key of any type from its libp2p protobuf encoding,
    /// checking it as its type demands (a curve point on its curve, an RSA
    /// modulus within bounds).
    pub fn decode_protobuf(bytes: &[u8]) -> Result<Self> {
        let (key_type, data) = decode_key_proto(bytes)?;
        Ok(Self(match key_type {
            KeyType::Ed25519 => AnyPublicKey::Ed25519(ed25519::PublicKey::decode(&data)?),
            KeyType::Secp256k1 => AnyPublicKey::Secp256k1(secp256k1::PublicKey::decode(&data)?),
            KeyType::Ecdsa => AnyPublicKey::Ecdsa(ecdsa::PublicKey::decode(&data)?),
            KeyType::Rsa => AnyPublicKey::Rsa(rsa::PublicKey::decode(&data)?),
        }))
    }

    /// An Ed25519 key from its raw 32 bytes.
    pub fn from_ed25519_bytes(bytes: &[u8]) -> Result<Self> {
        ed25519::PublicKey::decode(bytes).map(|key| Self(AnyPublicKey::Ed25519(key)))
    }

    /// The raw 32 bytes of an Ed25519 key; `None` for other types.
    pub fn to_ed25519_bytes(&self) -> Option<[u8; 32]> {
        match &self.0 {
            AnyPublicKey::Ed25519(key) => key.data().try_into().ok(),
            _ => None,
        }
    }

    /// The peer id this key names.
    pub fn to_peer_id(&self) -> PeerId {
        PeerId::from_public_key(self)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?}, {})", self.key_type(), data_encoding::HEXLOWER.encode(self.data()))
    }
}

/// A node's identity: a key pair of one of libp2p's four types. Signs; its
/// public half names the node.
///
/// Secrets are wiped from memory when the key pair is dropped (ring's own
/// copy of an ECDSA or RSA key excepted; see those modules), and never
/// shown by `Debug`. Cloning is cheap.
#[derive(Clone)]
pub struct Keypair(AnyKeypair);

#[derive(Clone)]
enum AnyKeypair {
    Ed25519(ed25519::Keypair),
    Secp256k1(secp256k1::Keypair),
    Ecdsa(ecdsa::Keypair),
    Rsa(rsa::Keypair),
}

impl Keypair {
    /// A fresh Ed25519 key pair from the operating system's random source
    /// (see [`crate::random`]).
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

    /// A fresh secp256k1 key pair from [`crate::random`].
    ///
    /// # Panics
    ///
    /// As [`Keypair::generate_ed25519`].
    pub fn generate_secp256k1() -> Self {
        #[allow(clippy::expect_used)] // no key without randomness; see the doc comment
        Self(AnyKeypair::Secp256k1(secp256k1::Keypair::generate().expect("the OS random source failed")))
    }

    /// A fresh ECDSA P-256 key pair, from the operating system's random
    /// source always (ring takes no other; a seeded process still gets a
    /// new key).
    ///
    /// # Panics
    ///
    /// As [`Keypair::generate_ed25519`].
    pub fn generate_ecdsa() -> Self {
        #[allow(clippy::expect_used)] // no key without randomness; see the doc comment
        Self(AnyKeypair::Ecdsa(ecdsa::Keypair::generate().expect("the OS random source failed")))
    }

    /// A fresh key pair of `key_type`. RSA keys cannot be generated here
    /// ([`Error::UnsupportedKeyType`]): load one with
    /// [`Keypair::rsa_from_pkcs8`] or [`Keypair::from_protobuf_encoding`].
    pub fn generate(key_type: KeyType) -> Result<Self> {
        match key_type {
            KeyType::Ed25519 => Ok(Self::generate_ed25519()),
            KeyType::Secp256k1 => Ok(Self::generate_secp256k1()),
            KeyType::Ecdsa => Ok(Self::generate_ecdsa()),
            KeyType::Rsa => Err(Error::UnsupportedKeyType(KeyType::Rsa)),
        }
    }

    /// The key pair whose Ed25519 secret key is these 32 bytes.
    pub fn ed25519_from_secret(secret: [u8; 32]) -> Self {
        Self(AnyKeypair::Ed25519(ed25519::Keypair::from_secret(&secret)))
    }

    /// The secp256k1 key pair of this 32-byte big-endian scalar (in
    /// `1..n`).
    pub fn secp256k1_from_secret(secret: &[u8]) -> Result<Self> {
        secp256k1::Keypair::from_secret(secret).map(|key| Self(AnyKeypair::Secp256k1(key)))
    }

    /// The ECDSA P-256 key pair of a SEC1 `ECPrivateKey` (DER) that
    /// carries its public key.
    pub fn ecdsa_from_sec1_der(der: &[u8]) -> Result<Self> {
        ecdsa::Keypair::decode(der).map(|key| Self(AnyKeypair::Ecdsa(key)))
    }

    /// An RSA key pair (2,048 to 4,096 bits) from a PKCS#8
    /// `PrivateKeyInfo` (DER), as `openssl genpkey` writes it.
    pub fn rsa_from_pkcs8(der: &[u8]) -> Result<Self> {
        rsa::Keypair::from_pkcs8(der).map(|key| Self(AnyKeypair::Rsa(key)))
    }

    /// The key pair's type.
    pub fn key_type(&self) -> KeyType {
        match &self.0 {
            AnyKeypair::Ed25519(_) => KeyType::Ed25519,
            AnyKeypair::Secp256k1(_) => KeyType::Secp256k1,
            AnyKeypair::Ecdsa(_) => KeyType::Ecdsa,
            AnyKeypair::Rsa(_) => KeyType::Rsa,
        }
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(match &self.0 {
            AnyKeypair::Ed25519(key) => AnyPublicKey::Ed25519(key.public()),
            AnyKeypair::Secp256k1(key) => AnyPublicKey::Secp256k1(key.public()),
            AnyKeypair::Ecdsa(key) => AnyPublicKey::Ecdsa(key.public()),
            AnyKeypair::Rsa(key) => AnyPublicKey::Rsa(key.public()),
        })
    }

    /// The peer id of the public half.
    pub fn peer_id(&self) -> PeerId {
        self.public().to_peer_id()
    }

    /// Signs `message` by the rules of the key's type (see the module
    /// docs): what [`PublicKey::verify`] checks.
    ///
    /// # Panics
    ///
    /// ECDSA and RSA signing draw randomness from the operating system
    /// (nonce, blinding) and panic if it fails, as key generation does.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.0 {
            AnyKeypair::Ed25519(key) => key.sign(message),
            AnyKeypair::Secp256k1(key) => key.sign(message),
            AnyKeypair::Ecdsa(key) => key.sign(message),
            AnyKeypair::Rsa(key) => key.sign(message),
        }
    }

    /// The libp2p `PrivateKey` protobuf: how a node saves its identity, in
    /// the form rust-libp2p and go-libp2p read and write. Keep the result
    /// secret.
    pub fn to_protobuf_encoding(&self) -> Zeroizing<Vec<u8>> {
        let data = match &self.0 {
            AnyKeypair::Ed25519(key) => key.encode(),
            AnyKeypair::Secp256k1(key) => key.encode(),
            AnyKeypair::Ecdsa(key) => key.encode(),
            AnyKeypair::Rsa(key) => key.encode(),
        };
        encode_proto(self.key_type(), &data)
    }

    /// Loads a key pair from a libp2p `PrivateKey` protobuf of any type,
    /// checking that a public key it carries is the one its secret derives.
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<Self> {
        let (key_type, data) = decode_key_proto(bytes)?;
        Ok(Self(match key_type {
            KeyType::Ed25519 => AnyKeypair::Ed25519(ed25519::Keypair::decode(&data)?),
            KeyType::Secp256k1 => AnyKeypair::Secp256k1(secp256k1::Keypair::from_secret(&data)?),
            KeyType::Ecdsa => AnyKeypair::Ecdsa(ecdsa::Keypair::decode(&data)?),
            KeyType::Rsa => AnyKeypair::Rsa(rsa::Keypair::decode(&data)?),
        }))
    }

    /// The identity saved in `path` (a libp2p `PrivateKey` protobuf, of any
    /// type), or a new one of `key_type` saved there if the file does not
    /// exist: how a node keeps its peer id across restarts. A new file is
    /// created owner-only (mode 0600 on Unix) and never overwritten; an
    /// unreadable or invalid file is an error, and so is asking for a new
    /// RSA key (load one instead).
    pub fn load_or_generate(path: impl AsRef<std::path::Path>, key_type: KeyType) -> std::io::Result<Self> {
        use std::io::Write as _;
        let path = path.as_ref();
        let invalid =
            |error: Error| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {error}", path.display()));
        match std::fs::read(path).map(Zeroizing::new) {
            Ok(bytes) => Self::from_protobuf_encoding(&bytes).map_err(invalid),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let keypair = Self::generate(key_type).map_err(invalid)?;
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
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair").field("public", &self.public()).finish_non_exhaustive()
    }
}
