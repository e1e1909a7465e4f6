//! Identity decoders: key protobufs (from Noise and identify) and peer ids
//! in bytes and text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_core::{Keypair, PeerId, PublicKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::decode_protobuf(data) {
        assert_eq!(key.encode_protobuf(), data);
    }
    if let Ok(keypair) = Keypair::from_protobuf_encoding(data) {
        assert_eq!(keypair.to_protobuf_encoding().as_slice(), data);
    }
    if let Ok(id) = PeerId::from_bytes(data) {
        assert_eq!(id.to_string().parse::<PeerId>().ok(), Some(id));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<PeerId>();
    }
});
