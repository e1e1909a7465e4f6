//! Byte-level vectors for the signing rule: the signature covers the
//! message without fields 5 (`signature`) and 6 (`key`), every other field
//! as received.
//!
//! The author of every vector is the Ed25519 key whose secret is 32 bytes
//! of 0x01 (peer id `12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5`).
//! The signatures were made outside strata: the first two vectors are
//! whole messages produced by js-libp2p 2.x (`@libp2p/pubsub` 10.1.18
//! `signMessage`, encoded by `@libp2p/floodsub` 10.1.46), the others were
//! signed by `@noble/curves` ed25519 over the bytes given here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use strata_core::{Keypair, PeerId};
use strata_pubsub::{
    MessageError, SignatureError, SignaturePolicy,
    message::{publish, receive},
};

const AUTHOR: &str = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";
/// `from`: the author's peer id (identity multihash of its key).
const FROM: &str = "0a260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
/// `key`: the author's public key protobuf, as field 6.
const KEY: &str = "3224080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

/// js-libp2p: seqno 1 (one byte, js strips leading zeros), data "hello",
/// topic "t", signature, then `key` although the key is inlined in `from`.
const JS_SEQNO_1: &str = "0a260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c120568656c6c6f1a01012201742a4096fa2f69294ee86bd293e140d44233c1f50b37d4c3db174a31374bb2e96f7023fd5a7b75d48bb7f74b6706cd57f0ad92c07a6bac46bfee49a3c939140786670f3224080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
/// js-libp2p: seqno 0x0102030405060708, data "from js", topic "t".
const JS_SEQNO_8: &str = "0a260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c120766726f6d206a731a0801020304050607082201742a40ec8b5058be08d44d8472c285cd02955ecc6212d5f80882c74412505c99eba62e031d07c5580cfc6e88c97e4fa66e1a16b53630723dfb49e242b7e7b76d9d940b3224080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

/// Fields 2–4 of the go-style vectors: data "hello", an 8-byte seqno with
/// leading zero bytes (42), topic "chat".
const BODY: &str = "120568656c6c6f1a08000000000000002a220463686174";
/// Signature over `"libp2p-pubsub:" ‖ FROM ‖ BODY`.
const SIG_FIELDS_1_TO_4: &str = "41ad11cf60d89f13cab5e569d142bb35ccb58cd999355ca02cf46bc8579a77fa862ac2a68b6e0f2153324ad398e5333104ae4bba2c79891763468bd259240e00";
/// An unknown length-delimited field 7 ("xyz").
const UNKNOWN: &str = "3a0378797a";
/// Signature over `"libp2p-pubsub:" ‖ FROM ‖ BODY ‖ UNKNOWN`.
const SIG_WITH_UNKNOWN: &str = "ccdf9f675a9e8ec54325cfecd409448a27b615ea0ba9f46c433608a0b28dee1d990a75d7bb0adc6cc0c6bb58f0acf651e8c85ec53563b6806f0c60f98b611a06";

fn bytes(parts: &[&str]) -> Vec<u8> {
    hex::decode(parts.concat()).unwrap()
}

fn signature_field(signature: &str) -> String {
    format!("2a40{signature}")
}

fn author() -> PeerId {
    AUTHOR.parse().unwrap()
}

fn verdict(raw: &[u8]) -> Result<(), MessageError> {
    receive(SignaturePolicy::StrictSign, 1 << 20, raw).map(|_| ())
}

fn bad_signature() -> Result<(), MessageError> {
    Err(MessageError::Signature(SignatureError::BadSignature))
}

#[test]
fn js_libp2p_messages_verify() {
    for (vector, data, seqno) in
        [(JS_SEQNO_1, &b"hello"[..], &[1u8][..]), (JS_SEQNO_8, b"from js", &[1, 2, 3, 4, 5, 6, 7, 8])]
    {
        let raw = bytes(&[vector]);
        let message = receive(SignaturePolicy::StrictSign, 1 << 20, &raw).unwrap();
        assert_eq!(message.source, Some(author()));
        assert_eq!((message.data.as_slice(), message.seqno.as_deref()), (data, Some(seqno)));
        assert_eq!(message.topics, ["t"]);
        assert!(message.signed);
    }
}

#[test]
fn signed_over_fields_1_to_4_with_a_key_verifies() {
    let sig = signature_field(SIG_FIELDS_1_TO_4);
    // signature then key, key then signature, no key: all the same message.
    for raw in [bytes(&[FROM, BODY, &sig, KEY]), bytes(&[FROM, BODY, KEY, &sig]), bytes(&[FROM, BODY, &sig])] {
        let message = receive(SignaturePolicy::StrictSign, 1 << 20, &raw).unwrap();
        assert_eq!(message.seqno.as_deref(), Some(&[0, 0, 0, 0, 0, 0, 0, 42][..]), "leading zero bytes kept");
        assert_eq!(message.source, Some(author()));
    }
}

#[test]
fn an_unknown_field_is_covered_as_received() {
    let sig = signature_field(SIG_WITH_UNKNOWN);
    assert_eq!(verdict(&bytes(&[FROM, BODY, KEY, &sig, UNKNOWN])), Ok(()));
    assert_eq!(verdict(&bytes(&[FROM, BODY, UNKNOWN, &sig])), Ok(()));
    // Tampered: the unknown field changed, dropped, or moved.
    assert_eq!(verdict(&bytes(&[FROM, BODY, KEY, &sig, "3a0378797b"])), bad_signature());
    assert_eq!(verdict(&bytes(&[FROM, BODY, KEY, &sig])), bad_signature());
    assert_eq!(verdict(&bytes(&[FROM, UNKNOWN, BODY, &sig])), bad_signature());
}

#[test]
fn tampered_variants_are_refused() {
    let sig = signature_field(SIG_FIELDS_1_TO_4);
    // Data "hellp".
    assert_eq!(verdict(&bytes(&[FROM, "120568656c6c70", &BODY[14..], &sig, KEY])), bad_signature());
    // Seqno 43, and seqno 42 without its leading zeros.
    assert_eq!(verdict(&bytes(&[FROM, "120568656c6c6f1a08000000000000002b220463686174", &sig, KEY])), bad_signature());
    assert_eq!(verdict(&bytes(&[FROM, "120568656c6c6f1a012a220463686174", &sig, KEY])), bad_signature());
    // Topic "chap".
    assert_eq!(verdict(&bytes(&[FROM, &BODY[..BODY.len() - 2], "70", &sig, KEY])), bad_signature());
    // One bit of the signature.
    let mut flipped = bytes(&[FROM, BODY, &sig, KEY]);
    let at = FROM.len() / 2 + BODY.len() / 2 + 2;
    flipped[at] ^= 1;
    assert_eq!(verdict(&flipped), bad_signature());
    // The js vectors with their data changed (same length).
    let js = JS_SEQNO_1.replace("68656c6c6f", "68656c6c70");
    assert_eq!(verdict(&bytes(&[&js])), bad_signature());
}

#[test]
fn a_key_that_is_not_the_authors_is_refused() {
    let sig = signature_field(SIG_FIELDS_1_TO_4);
    let other = Keypair::ed25519_from_secret([2; 32]).public().encode_protobuf();
    let other_key = format!("32{:02x}{}", other.len(), hex::encode(other));
    assert_eq!(
        verdict(&bytes(&[FROM, BODY, &sig, &other_key])),
        Err(MessageError::Signature(SignatureError::InvalidKey))
    );
    // A key field that is not a key at all.
    assert_eq!(
        verdict(&bytes(&[FROM, BODY, &sig, "3203010203"])),
        Err(MessageError::Signature(SignatureError::InvalidKey))
    );
}

#[test]
fn a_signature_over_the_key_field_is_refused() {
    // What the spec's text literally says (and what strata did before):
    // signing the message with its key field. No implementation does it.
    let key = Keypair::ed25519_from_secret([1; 32]);
    let unsigned = bytes(&[FROM, BODY, KEY]);
    let signature = key.sign(&[b"libp2p-pubsub:".as_slice(), &unsigned].concat());
    let raw = [unsigned, bytes(&[&signature_field(&hex::encode(signature))])].concat();
    assert_eq!(verdict(&raw), bad_signature());
}

#[test]
fn strata_signs_fields_1_to_4_in_order_and_verifies_its_own() {
    let key = Keypair::ed25519_from_secret([1; 32]);
    let (raw, _) = publish(SignaturePolicy::StrictSign, &key.public(), |b| key.sign(b), 42, "chat", b"hello");
    // The same bytes, and the same signature, as the vector signed outside.
    assert_eq!(raw, bytes(&[FROM, BODY, &signature_field(SIG_FIELDS_1_TO_4)]));
    assert_eq!(verdict(&raw), Ok(()));
}

#[test]
fn long_seqnos_are_refused() {
    let raw = bytes(&[FROM, "120568656c6c6f1a21", &"00".repeat(33), "220463686174"]);
    assert_eq!(receive(SignaturePolicy::Lax, 1 << 20, &raw), Err(MessageError::SeqnoTooLong(33)));
}
