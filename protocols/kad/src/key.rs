//! Keys and distance (`libp2p-kad-dht.md`, "Distance"): every key, peer
//! ids included, is placed in the keyspace by its SHA-256; the distance of
//! two keys is the XOR of their hashes, compared as a 256-bit number.

use sha2::{Digest as _, Sha256};
use strata_core::PeerId;

/// A point in the keyspace: the SHA-256 of a key's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 32]);

/// The XOR of two keys, ordered as a big-endian number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Distance([u8; 32]);

impl Key {
    /// The key of some bytes (a record key, a provider key).
    pub fn new(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The key of a peer: the hash of its id's bytes.
    pub fn of_peer(peer: PeerId) -> Self {
        Self::new(&peer.to_bytes())
    }

    /// How far `other` is from this key.
    pub fn distance(&self, other: &Self) -> Distance {
        let mut xor = [0u8; 32];
        for (out, (a, b)) in xor.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *out = a ^ b;
        }
        Distance(xor)
    }

    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Distance {
    /// The bucket a key at this distance belongs in: 255 for the farthest
    /// half of the keyspace, down to 0 for the nearest (a shared prefix of
    /// 255 bits); `None` for distance zero (the key itself).
    pub fn bucket(&self) -> Option<usize> {
        let leading = self.leading_zeros();
        (leading < 256).then(|| 255 - leading)
    }

    fn leading_zeros(&self) -> usize {
        let mut zeros = 0;
        for byte in self.0 {
            if byte == 0 {
                zeros += 8;
            } else {
                return zeros + byte.leading_zeros() as usize;
            }
        }
        zeros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_sha256_and_distance_is_xor() {
        // SHA-256("") from FIPS 180-2.
        assert_eq!(Key::new(b"").as_bytes()[..4], [0xe3, 0xb0, 0xc4, 0x42], "e3b0c442…");
        let (a, b) = (Key::new(b"a"), Key::new(b"b"));
        assert_eq!(a.distance(&b), b.distance(&a), "symmetric");
        assert_eq!(a.distance(&a).bucket(), None, "zero from itself");
        let mut near = *a.as_bytes();
        near[31] ^= 1;
        assert_eq!(a.distance(&Key(near)).bucket(), Some(0), "only the last bit differs");
        let mut far = *a.as_bytes();
        far[0] ^= 0x80;
        assert_eq!(a.distance(&Key(far)).bucket(), Some(255), "the first bit differs");
        assert!(a.distance(&Key(near)) < a.distance(&Key(far)));
    }
}
