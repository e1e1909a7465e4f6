//! Identity decoders: key protobufs of all four types (from Noise, TLS,
//! identify and pubsub), signatures checked with them, private key files,
//! and peer ids in bytes and text.
//!
//! The input is split at its first byte: a public key protobuf, then a
//! signature over a fixed message, so the fuzzer reaches the DER and
//! signature parsers of every key type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_core::{Keypair, PeerId, PublicKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::decode_protobuf(data) {
        // A public key has one encoding.
        assert_eq!(key.encode_protobuf(), data);
    }
    if let Some((&split, rest)) = data.split_first() {
        let (key, signature) = rest.split_at(usize::from(split).min(rest.len()));
        if let Ok(key) = PublicKey::decode_protobuf(key) {
            let _ = key.verify(b"libp2p fuzz", signature);
        }
    }
    if let Ok(keypair) = Keypair::from_protobuf_encoding(data) {
        // A private key file may be written in more than one way (an ECDSA
        // key without its optional curve name); ours reads back the same.
        let again = Keypair::from_protobuf_encoding(&keypair.to_protobuf_encoding()).ok();
        assert_eq!(again.map(|key| key.peer_id()), Some(keypair.peer_id()));
    }
    if let Ok(id) = PeerId::from_bytes(data) {
        assert_eq!(id.to_string().parse::<PeerId>().ok(), Some(id));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<PeerId>();
    }
});
