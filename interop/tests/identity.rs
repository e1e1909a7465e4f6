//! strata's identity against rust-libp2p's: the same secret key must give
//! the same encodings and the same `PeerId`, in both directions.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails loudly

use libp2p_identity as libp2p;

fn both(seed: u8) -> (strata_core::Keypair, libp2p::Keypair) {
    let strata = strata_core::Keypair::ed25519_from_secret([seed; 32]);
    let theirs = libp2p::Keypair::ed25519_from_bytes([seed; 32]).expect("32 bytes are a valid ed25519 secret");
    (strata, theirs)
}

#[test]
fn peer_ids_match_rust_libp2p() {
    for seed in [0u8, 1, 2, 7, 42, 255] {
        let (strata, theirs) = both(seed);
        assert_eq!(strata.peer_id().to_string(), theirs.public().to_peer_id().to_base58(), "seed {seed}");
        assert_eq!(strata.peer_id().to_bytes(), theirs.public().to_peer_id().to_bytes(), "seed {seed}");
    }
}

#[test]
fn the_all_ones_key_has_the_pinned_peer_id() {
    // The same constant is pinned in core/tests/peer_id.rs; this test proves
    // it is rust-libp2p's answer.
    let (_, theirs) = both(1);
    assert_eq!(theirs.public().to_peer_id().to_base58(), "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");
}

#[test]
fn public_key_encodings_are_interchangeable() {
    let (strata, theirs) = both(9);
    let ours = strata.public().encode_protobuf();
    assert_eq!(ours, theirs.public().encode_protobuf());
    let decoded = libp2p::PublicKey::try_decode_protobuf(&ours).expect("rust-libp2p reads our encoding");
    assert_eq!(decoded, theirs.public());
}

#[test]
fn private_key_files_are_interchangeable() {
    let (strata, theirs) = both(5);
    // rust-libp2p reads the identity file strata writes…
    let loaded =
        libp2p::Keypair::from_protobuf_encoding(&strata.to_protobuf_encoding()).expect("rust-libp2p reads ours");
    assert_eq!(loaded.public().to_peer_id(), theirs.public().to_peer_id());
    // …and strata reads rust-libp2p's.
    let file = theirs.to_protobuf_encoding().expect("ed25519 keys encode");
    let loaded = strata_core::Keypair::from_protobuf_encoding(&file).expect("strata reads theirs");
    assert_eq!(loaded.peer_id(), strata.peer_id());
}

#[test]
fn signatures_verify_across_implementations() {
    let (strata, theirs) = both(3);
    let message = b"libp2p-pubsub:hello";
    let ours = strata.sign(message);
    assert!(theirs.public().verify(message, &ours));
    let theirs_sig = theirs.sign(message).expect("ed25519 signs");
    assert!(strata.public().verify(message, &theirs_sig));
}
