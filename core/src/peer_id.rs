//! `PeerId`: the name of a node, derived from its public key.
//!
//! Spec: `libp2p-peer-ids.md`, "Peer Ids" and "String representation".
//!
//! ```text
//! public key ──protobuf──▶ bytes ──≤ 42 bytes?──▶ identity multihash  0x00 <len> <bytes>
//!                                 └─ otherwise ─▶ sha2-256 multihash 0x12 0x20 <digest>
//! ```
//!
//! An Ed25519 key encodes to 36 bytes, so its peer id is an identity
//! multihash that carries the key itself (which is why every Ed25519 peer id
//! starts `12D3KooW` in base58btc, and why [`PeerId::extract_public_key`]
//! works). Larger keys (RSA) are hashed with sha2-256 (`Qm…`).
//!
//! Text forms: the legacy raw base58btc multihash (what we display), and a
//! CIDv1 with the `libp2p-key` multicodec (0x72) in any multibase (we parse
//! both; [`PeerId::to_cid_string`] writes base32).
//!
//! A `PeerId` is a small `Copy` value (at most 44 bytes inline), so it can be
//! passed and stored as freely as an integer.

use std::{fmt, str::FromStr};

use sha2::Digest as _;

use crate::{Error, PublicKey, Result, multibase, varint};

/// The multihash code of the identity "hash".
const IDENTITY: u8 = 0x00;
/// The multihash code of sha2-256.
const SHA2_256: u8 = 0x12;
/// Keys that encode to at most this many bytes are inlined (spec, step 4).
const MAX_INLINE_KEY_LEN: usize = 42;
/// The longest valid multihash: code, length and an inlined key.
const MAX_MULTIHASH_LEN: usize = 2 + MAX_INLINE_KEY_LEN;
/// The CIDv1 multicodec of libp2p keys.
const LIBP2P_KEY_CODEC: u8 = 0x72;
/// No valid peer id is longer than this as text, in any of the bases we
/// parse; longer input is refused before it is decoded.
const MAX_TEXT_LEN: usize = 128;

/// The identity of a peer: a multihash of its encoded public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId {
    len: u8,
    /// The multihash, zero-padded (so that derived equality and hashing
    /// look at the multihash alone).
    bytes: [u8; MAX_MULTIHASH_LEN],
}

impl PeerId {
    /// The peer id of `key`.
    pub fn from_public_key(key: &PublicKey) -> Self {
        Self::from_encoded_public_key(&key.encode_protobuf())
    }

    /// The peer id of a public key of any type (RSA, Secp256k1 and ECDSA
    /// too) given in its protobuf encoding. The encoding must be a canonical
    /// key protobuf; the key bytes inside are hashed, not interpreted, so a
    /// peer id can name a peer whose key strata cannot verify.
    pub fn from_public_key_protobuf(encoded: &[u8]) -> Result<Self> {
        crate::identity::decode_key_proto(encoded)?;
        Ok(Self::from_encoded_public_key(encoded))
    }

    /// The peer id of an encoded public key (spec, "Peer Ids", steps 1-5).
    fn from_encoded_public_key(encoded: &[u8]) -> Self {
        let mut multihash = Vec::with_capacity(MAX_MULTIHASH_LEN);
        match u8::try_from(encoded.len()) {
            Ok(len) if usize::from(len) <= MAX_INLINE_KEY_LEN => {
                multihash.extend_from_slice(&[IDENTITY, len]);
                multihash.extend_from_slice(encoded);
            }
            _ => {
                multihash.extend_from_slice(&[SHA2_256, 32]);
                multihash.extend_from_slice(&sha2::Sha256::digest(encoded));
            }
        }
        Self::inline(&multihash)
    }

    /// Stores a multihash already known to be valid (at most 44 bytes).
    fn inline(multihash: &[u8]) -> Self {
        debug_assert!(multihash.len() <= MAX_MULTIHASH_LEN);
        let len = multihash.len().min(MAX_MULTIHASH_LEN);
        let mut bytes = [0u8; MAX_MULTIHASH_LEN];
        bytes[..len].copy_from_slice(&multihash[..len]);
        #[allow(clippy::cast_possible_truncation)] // len <= 44
        Self { len: len as u8, bytes }
    }

    /// A peer id from its binary form (the multihash), validated: an
    /// identity multihash of at most 42 bytes or a sha2-256 multihash, with
    /// nothing after it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_MULTIHASH_LEN {
            return Err(Error::InvalidPeerId("longer than any valid multihash"));
        }
        let (code, rest) = varint::decode(bytes).map_err(|_| Error::InvalidPeerId("bad multihash code"))?;
        let (len, digest) = varint::decode_len(rest).map_err(|_| Error::InvalidPeerId("bad multihash length"))?;
        if digest.len() != len {
            return Err(Error::InvalidPeerId("multihash length does not match its digest"));
        }
        match code {
            c if c == u64::from(IDENTITY) && len <= MAX_INLINE_KEY_LEN => {}
            c if c == u64::from(IDENTITY) => {
                return Err(Error::InvalidPeerId("identity multihash longer than 42 bytes"));
            }
            c if c == u64::from(SHA2_256) && len == 32 => {}
            c if c == u64::from(SHA2_256) => return Err(Error::InvalidPeerId("sha2-256 digest is not 32 bytes")),
            _ => return Err(Error::InvalidPeerId("multihash is neither identity nor sha2-256")),
        }
        Ok(Self::inline(bytes))
    }

    /// The binary form: the multihash.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The binary form, owned.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// The legacy text form, base58btc of the multihash (`12D3KooW…`); also
    /// what `Display` writes.
    pub fn to_base58(&self) -> String {
        bs58::encode(self.as_bytes()).into_string()
    }

    /// The CIDv1 text form: base32 multibase of `0x01 0x72 <multihash>`
    /// (`bafz…`).
    pub fn to_cid_string(&self) -> String {
        let mut cid = vec![0x01, LIBP2P_KEY_CODEC];
        cid.extend_from_slice(self.as_bytes());
        multibase::encode(multibase::Base::Base32Lower, &cid)
    }

    /// The public key inlined in an identity multihash, if this peer id is
    /// one and it holds a valid key. sha2-256 peer ids give `None`: the key
    /// must come from elsewhere.
    pub fn extract_public_key(&self) -> Option<PublicKey> {
        match self.as_bytes() {
            [IDENTITY, _, key @ ..] => PublicKey::decode_protobuf(key).ok(),
            _ => None,
        }
    }

    /// The peer id of a freshly generated key pair: for tests and examples.
    pub fn random() -> Self {
        crate::Keypair::generate_ed25519().peer_id()
    }

    fn from_cid_bytes(cid: &[u8]) -> Result<Self> {
        let (version, rest) = varint::decode(cid).map_err(|_| Error::InvalidPeerId("bad CID version"))?;
        if version != 1 {
            return Err(Error::InvalidPeerId("CID version is not 1"));
        }
        let (codec, multihash) = varint::decode(rest).map_err(|_| Error::InvalidPeerId("bad CID multicodec"))?;
        if codec != u64::from(LIBP2P_KEY_CODEC) {
            return Err(Error::InvalidPeerId("CID multicodec is not libp2p-key"));
        }
        Self::from_bytes(multihash)
    }
}

impl FromStr for PeerId {
    type Err = Error;

    /// Parses either text form (spec, "Decoding"): raw base58btc if it starts
    /// with `1` or `Qm`, otherwise a multibase CIDv1 with the `libp2p-key`
    /// codec.
    fn from_str(text: &str) -> Result<Self> {
        if text.len() > MAX_TEXT_LEN {
            return Err(Error::InvalidPeerId("text too long"));
        }
        if text.starts_with('1') || text.starts_with("Qm") {
            let bytes = bs58::decode(text).into_vec().map_err(|_| Error::InvalidPeerId("not base58btc"))?;
            Self::from_bytes(&bytes)
        } else {
            let cid = multibase::decode(text).ok_or(Error::InvalidPeerId("neither base58btc nor a multibase CID"))?;
            Self::from_cid_bytes(&cid)
        }
    }
}

impl TryFrom<&[u8]> for PeerId {
    type Error = Error;

    fn try_from(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes(bytes)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for PeerId {
    /// The short form, `PeerId(12D3KooW…AJU5SA)`: enough to tell peers apart
    /// in logs. `{:#?}` writes the whole id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_base58();
        match (f.alternate(), text.get(..8), text.get(text.len().saturating_sub(6)..)) {
            (false, Some(head), Some(tail)) if text.len() > 16 => write!(f, "PeerId({head}…{tail})"),
            _ => write!(f, "PeerId({text})"),
        }
    }
}

impl PartialOrd for PeerId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PeerId {
    /// Orders by the binary form.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_keys_are_hashed_with_sha2_256() {
        let id = PeerId::from_encoded_public_key(&[7u8; 43]);
        assert_eq!(&id.as_bytes()[..2], &[SHA2_256, 32]);
        assert_eq!(&id.as_bytes()[2..], sha2::Sha256::digest([7u8; 43]).as_slice());
        let id = PeerId::from_encoded_public_key(&[7u8; 42]);
        assert_eq!(&id.as_bytes()[..2], &[IDENTITY, 42]);
        assert_eq!(id.extract_public_key(), None, "42 bytes of 7s are no key");
    }

    #[test]
    fn debug_is_short_unless_alternate() {
        let id: PeerId = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".parse().unwrap();
        assert_eq!(format!("{id:?}"), "PeerId(12D3KooW…AJU5SA)");
        assert_eq!(format!("{id:#?}"), "PeerId(12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA)");
    }
}
