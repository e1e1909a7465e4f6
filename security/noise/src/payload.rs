//! The libp2p handshake payload: how a Noise static key is bound to a
//! libp2p identity.
//!
//! Spec: `libp2p-noise.md`, "Static Key Authentication" and "The libp2p
//! Handshake Payload". Noise authenticates *static keys* (X25519 keys,
//! one per node here), but libp2p names peers by their *identity
//! keys* (Ed25519). The payload links the two: each side signs
//!
//! ```text
//! "noise-libp2p-static-key:" ‖ <its 32-byte X25519 static public key>
//! ```
//!
//! with its identity key, and sends the signature with the identity key
//! inside the (encrypted) handshake:
//!
//! ```text
//! message NoiseHandshakePayload {
//!   optional bytes identity_key = 1;          // the libp2p PublicKey protobuf
//!   optional bytes identity_sig = 2;          // the signature above
//!   optional NoiseExtensions extensions = 4;  // unused by strata for now
//! }
//! ```
//!
//! The receiver checks the signature against the static key that Noise
//! itself authenticated; only then is the identity key, and so the peer id,
//! believed. Pure functions: bytes in, bytes out.

use prost::Message as _;
use strata_core::{Keypair, PublicKey};

use crate::{Error, Result};

/// What an identity key signs: this prefix, then the Noise static key.
const STATIC_KEY_DOMAIN: &[u8] = b"noise-libp2p-static-key:";

/// `NoiseExtensions` (spec, "Noise Extensions"). Decoded and ignored.
#[derive(Clone, PartialEq, prost::Message)]
struct NoiseExtensions {
    #[prost(bytes = "vec", repeated, tag = "1")]
    webtransport_certhashes: Vec<Vec<u8>>,
    #[prost(string, repeated, tag = "2")]
    stream_muxers: Vec<String>,
}

/// `NoiseHandshakePayload`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NoiseHandshakePayload {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) identity_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) identity_sig: Option<Vec<u8>>,
    #[prost(message, optional, tag = "4")]
    extensions: Option<NoiseExtensions>,
}

impl NoiseHandshakePayload {
    pub(crate) fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

fn signed_message(static_public: &[u8]) -> Vec<u8> {
    [STATIC_KEY_DOMAIN, static_public].concat()
}

/// The payload proving that `identity` owns the Noise key `static_public`.
pub(crate) fn signed_payload(identity: &Keypair, static_public: &[u8]) -> NoiseHandshakePayload {
    NoiseHandshakePayload {
        identity_key: Some(identity.public().encode_protobuf()),
        identity_sig: Some(identity.sign(&signed_message(static_public))),
        extensions: None,
    }
}

/// Checks a received payload against the remote's Noise static key, which
/// the handshake has authenticated, and returns the identity it proves.
pub(crate) fn verify_payload(payload: &[u8], remote_static: &[u8]) -> Result<PublicKey> {
    let payload =
        NoiseHandshakePayload::decode(payload).map_err(|_| Error::InvalidPayload("not a NoiseHandshakePayload"))?;
    let key = payload.identity_key.ok_or(Error::InvalidPayload("no identity key"))?;
    let signature = payload.identity_sig.ok_or(Error::InvalidPayload("no identity signature"))?;
    let key = PublicKey::decode_protobuf(&key).map_err(Error::IdentityKey)?;
    if !key.verify(&signed_message(remote_static), &signature) {
        return Err(Error::BadSignature { peer: key.to_peer_id() });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_payload_verifies_only_for_its_static_key() {
        let identity = Keypair::ed25519_from_secret([1; 32]);
        let static_key = [7u8; 32];
        let payload = signed_payload(&identity, &static_key).encode();
        assert_eq!(verify_payload(&payload, &static_key).unwrap(), identity.public());
        assert!(matches!(verify_payload(&payload, &[8u8; 32]), Err(Error::BadSignature { .. })));
    }

    #[test]
    fn incomplete_or_garbled_payloads_are_refused() {
        let identity = Keypair::ed25519_from_secret([1; 32]);
        let mut payload = signed_payload(&identity, &[7; 32]);
        payload.identity_sig = None;
        assert!(matches!(verify_payload(&payload.encode(), &[7; 32]), Err(Error::InvalidPayload(_))));
        payload.identity_key = None;
        assert!(matches!(verify_payload(&payload.encode(), &[7; 32]), Err(Error::InvalidPayload(_))));
        assert!(matches!(verify_payload(&[0xff, 0xff], &[7; 32]), Err(Error::InvalidPayload(_))));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic generator: no proptest for one loop.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..2000 {
            let bytes: Vec<u8> = (0..len % 200)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            assert!(verify_payload(&bytes, &[7; 32]).is_err());
        }
    }

    #[test]
    fn extensions_are_accepted_and_ignored() {
        let identity = Keypair::ed25519_from_secret([2; 32]);
        let mut payload = signed_payload(&identity, &[9; 32]);
        payload.extensions = Some(NoiseExtensions {
            webtransport_certhashes: vec![vec![1, 2]],
            stream_muxers: vec!["/yamux/1.0.0".into()],
        });
        assert!(verify_payload(&payload.encode(), &[9; 32]).is_ok());
    }
}
