//! Message signing: what a signature covers, and the policies.
//!
//! Spec: `libp2p-pubsub.md`, "Message Signing" and "Signature Policy
//! Options".
//!
//! # The rule, as implementations sign (and as strata does)
//!
//! ```text
//! signature = sign(author key, "libp2p-pubsub:" ‖ message bytes without fields 5 (signature) and 6 (key))
//! ```
//!
//! The spec's text says the signature covers the message "excluding the
//! signature field", which would put `key` under the signature. No
//! implementation does that: go-libp2p-pubsub (the reference), rust-libp2p's
//! gossipsub, js-libp2p and py-libp2p all marshal the message with
//! **neither `signature` nor `key`**, sign that, then set `key`, and
//! several of them set it even for Ed25519 authors whose key is already
//! inlined in `from`. A verifier that keeps field 6 under the signature
//! refuses every such message. strata follows the implementations:
//!
//! - **Signing** encodes `from`, `data`, `seqno`, `topicIDs` (fields 1–4,
//!   in that order, as every implementation does), signs, and appends the
//!   signature, then `key` when `from` does not inline the author's key
//!   (RSA and ECDSA authors, whose peer ids are hashes; Ed25519 and
//!   secp256k1 keys are inlined).
//! - **Verifying** removes fields 5 and 6 from the bytes *as received*,
//!   keeping every other field (unknown ones included) and their order,
//!   and checks the signature over that. A present `key` must decode and
//!   must be the key `from` names; without it, `from` must inline the key.
//!   Keys of all four libp2p types verify (see `strata_core::identity`).
//!
//! Nothing is re-encoded: the bytes verified are the bytes the author
//! signed, whatever field order or unknown fields it used.

use strata_core::{PeerId, PublicKey};

use crate::rpc::{KEY_FIELD, SIGNATURE_FIELD, without_fields};

/// The prefix of every signed message.
pub const SIGNING_PREFIX: &[u8] = b"libp2p-pubsub:";

/// How messages are signed and checked (spec, "Signature Policy
/// Options").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// Sign every message (with `from` and `seqno`); drop every received
    /// message that is unsigned or badly signed. The default, as in go,
    /// js and py.
    #[default]
    StrictSign,
    /// Sign our messages; accept unsigned ones, but drop a message whose
    /// signature is present and wrong. rust-libp2p's floodsub never signs,
    /// so this is the setting that talks to it (the spec's `LaxSign`).
    Lax,
    /// Neither sign nor origin-stamp (no `from`, `seqno`, `signature`,
    /// `key`); drop messages that carry any of them.
    StrictNoSign,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not a well-formed protobuf.
    #[error("malformed message")]
    Malformed,
    /// The `key` field does not decode, or names someone other than `from`,
    /// or there is no key and `from` does not inline one.
    #[error("invalid signing key")]
    InvalidKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
}

/// What the author signs: the prefix and the unsigned message bytes.
pub fn signed_bytes(unsigned_message: &[u8]) -> Vec<u8> {
    [SIGNING_PREFIX, unsigned_message].concat()
}

/// Verifies the signature of a received message (`raw`, as received) by
/// `author`, with the message's `key` field if it had one.
pub fn verify(raw: &[u8], signature: &[u8], author: PeerId, key: Option<&[u8]>) -> Result<(), SignatureError> {
    let key = match key {
        Some(key) => {
            // The key must name the author: checked on its bytes (a hash)
            // before any curve arithmetic is spent decoding it.
            if PeerId::from_public_key_protobuf(key).ok() != Some(author) {
                return Err(SignatureError::InvalidKey);
            }
            PublicKey::decode_protobuf(key).map_err(|_| SignatureError::InvalidKey)?
        }
        None => author.extract_public_key().ok_or(SignatureError::InvalidKey)?,
    };
    let unsigned = without_fields(raw, &[SIGNATURE_FIELD, KEY_FIELD]).ok_or(SignatureError::Malformed)?;
    if key.verify(&signed_bytes(&unsigned), signature) { Ok(()) } else { Err(SignatureError::BadSignature) }
}
