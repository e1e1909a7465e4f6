//! The libp2p public key extension: how a TLS certificate names a peer.
//!
//! Spec: `libp2p-tls.md`, "libp2p Public Key Extension". The certificate's
//! own key is a throwaway (P-256 here); the peer's identity key rides in
//! an X.509 extension with OID `1.3.6.1.4.1.53594.1.1`, whose value is the
//! DER encoding of
//!
//! ```text
//! SignedKey ::= SEQUENCE {
//!   publicKey OCTET STRING,   -- the identity key, as the libp2p PublicKey protobuf
//!   signature OCTET STRING    -- by the identity key, over
//!                             -- "libp2p-tls-handshake:" ‖ the certificate's SubjectPublicKeyInfo (DER)
//! }
//! ```
//!
//! That is all the ASN.1 this module speaks: two definite-length OCTET
//! STRINGs in a SEQUENCE, through `strata_core::der` (the reader the
//! identity keys use too). The decoder takes bytes from strangers: it reads
//! DER strictly (minimal lengths, nothing after the SEQUENCE), refuses
//! anything over [`MAX_EXTENSION_LEN`], and never panics. The certificate
//! around it is parsed by `x509-parser` (`certificate.rs`).

/// The extension's object identifier, as arcs.
pub const OID: [u64; 9] = [1, 3, 6, 1, 4, 1, 53594, 1, 1];

/// What the identity key signs, before the certificate's public key.
pub const SIGNING_PREFIX: &[u8] = b"libp2p-tls-handshake:";

/// The longest extension value accepted: far above an Ed25519 one (~110
/// bytes) or an RSA-4096 one (~1.1 KiB).
pub const MAX_EXTENSION_LEN: usize = 8 * 1024;

use strata_core::der::{self, OCTET_STRING, SEQUENCE};

/// The extension's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedKey {
    /// The identity key, as the libp2p `PublicKey` protobuf.
    pub public_key: Vec<u8>,
    /// The identity key's signature over [`SIGNING_PREFIX`] and the
    /// certificate's `SubjectPublicKeyInfo`.
    pub signature: Vec<u8>,
}

/// Why an extension value is not a `SignedKey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    /// Longer than [`MAX_EXTENSION_LEN`].
    #[error("the libp2p extension is longer than {MAX_EXTENSION_LEN} bytes")]
    TooLong,
    /// Not the DER of a `SignedKey`.
    #[error("the libp2p extension is not a DER SignedKey: {0}")]
    Malformed(&'static str),
}

impl SignedKey {
    /// The DER encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.public_key.len() + self.signature.len() + 8);
        der::write(OCTET_STRING, &self.public_key, &mut body);
        der::write(OCTET_STRING, &self.signature, &mut body);
        let mut out = Vec::with_capacity(body.len() + 4);
        der::write(SEQUENCE, &body, &mut out);
        out
    }

    /// Decodes the DER of a `SignedKey`.
    pub fn decode(der: &[u8]) -> Result<Self, ExtensionError> {
        if der.len() > MAX_EXTENSION_LEN {
            return Err(ExtensionError::TooLong);
        }
        let (body, rest) = read_tlv(der, SEQUENCE)?;
        if !rest.is_empty() {
            return Err(ExtensionError::Malformed("bytes after the SEQUENCE"));
        }
        let (public_key, rest) = read_tlv(body, OCTET_STRING)?;
        let (signature, rest) = read_tlv(rest, OCTET_STRING)?;
        if !rest.is_empty() {
            return Err(ExtensionError::Malformed("more than two fields in the SEQUENCE"));
        }
        Ok(Self { public_key: public_key.to_vec(), signature: signature.to_vec() })
    }
}

/// Reads one element with strata-core's strict DER reader.
fn read_tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), ExtensionError> {
    der::read(input, tag).map_err(|error| match error {
        strata_core::Error::Der(why) => ExtensionError::Malformed(why),
        _ => ExtensionError::Malformed("not DER"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The extension value inside the spec's test vector 1 (an Ed25519
    /// peer, `12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv`).
    const VECTOR_1: &str = "3068042408011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b90440d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e42849cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909";

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    #[test]
    fn the_spec_vector_decodes_and_encodes_back_byte_for_byte() {
        let der = unhex(VECTOR_1);
        let key = SignedKey::decode(&der).unwrap();
        // 08 01 = Ed25519, 12 20 = 32 bytes of key.
        assert_eq!(&key.public_key[..4], &[0x08, 0x01, 0x12, 0x20]);
        assert_eq!(key.public_key.len(), 36);
        assert_eq!(key.signature.len(), 64);
        assert_eq!(key.encode(), der);
    }

    #[test]
    fn lengths_of_128_bytes_and_more_use_the_long_form() {
        let key = SignedKey { public_key: vec![7; 300], signature: vec![9; 64] };
        let der = key.encode();
        // SEQUENCE of 4 + 300 + 2 + 64 = 370 = 0x0172; OCTET STRING of 300 = 0x012c.
        assert_eq!(&der[..8], &[0x30, 0x82, 0x01, 0x72, 0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(SignedKey::decode(&der).unwrap(), key);
    }

    #[test]
    fn malformed_values_are_refused() {
        let good = unhex(VECTOR_1);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (good[..good.len() - 1].to_vec(), "truncated"),
            ([good.clone(), vec![0]].concat(), "trailing byte"),
            ([&[0x31], &good[1..]].concat(), "a SET, not a SEQUENCE"),
            (vec![0x30, 0x80, 0x04, 0x00, 0x04, 0x00, 0x00, 0x00], "indefinite length"),
            (vec![0x30, 0x81, 0x04, 0x04, 0x00, 0x04, 0x00], "non-minimal length"),
            (vec![0x30, 0x06, 0x04, 0x00, 0x04, 0x00, 0x04, 0x00], "three fields"),
            (vec![0x30, 0x02, 0x04, 0x00], "one field"),
            (vec![0x30, 0x04, 0x02, 0x00, 0x04, 0x00], "an INTEGER field"),
        ];
        for (der, what) in cases {
            assert!(SignedKey::decode(&der).is_err(), "{what} was accepted");
        }
        let long = SignedKey { public_key: vec![0; MAX_EXTENSION_LEN], signature: vec![] }.encode();
        assert_eq!(SignedKey::decode(&long), Err(ExtensionError::TooLong));
    }
}
