//! The identities chapter of the guide (`docs/06-identities.md`) quotes
//! keys, peer ids and signatures; this test recomputes every quoted block
//! and fails when one no longer matches what strata makes.
//!
//! `STRATA_BLESS_DOCS=1 cargo test -p strata --test identities_guide`
//! prints the blocks as they are now, to paste into the chapter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;

use strata::{KeyType, Keypair, PeerId, PublicKey};

const CHAPTER: &str = include_str!("../docs/06-identities.md");
const RSA_PRIVATE: &str = include_str!("../core/tests/vectors/rsa_private_key.hex");
/// The spec's ECDSA public key vector (`libp2p-peer-ids.md`).
const ECDSA_PUBLIC: &str = "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62";

/// What the Noise handshake has each identity sign: the domain and a
/// (here made-up) Noise static key.
fn noise_signed_message() -> Vec<u8> {
    [&b"noise-libp2p-static-key:"[..], &[7u8; 32]].concat()
}

/// Hex in lines of 32 bytes, indented.
fn hex_lines(bytes: &[u8]) -> String {
    bytes.chunks(32).map(|chunk| ["    ", &hex::encode(chunk), "\n"].concat()).collect()
}

fn describe(name: &str, key: &PublicKey, signature: Option<&[u8]>) -> String {
    let encoded = key.encode_protobuf();
    let id = PeerId::from_public_key(key);
    let mut out = format!(
        "{name}: PublicKey protobuf, {} bytes\n{}  peer id multihash: {}\n  peer id: {id}\n",
        encoded.len(),
        hex_lines(&encoded),
        hex::encode(&id.as_bytes()[..6]),
    );
    if let Some(signature) = signature {
        writeln!(out, "  signature, {} bytes", signature.len()).expect("writing to a String");
        out.push_str(&hex_lines(signature));
    }
    out
}

fn blocks() -> Vec<String> {
    let message = noise_signed_message();
    let ed25519 = Keypair::ed25519_from_secret([1; 32]);
    let secp256k1 = Keypair::secp256k1_from_secret(&[1; 32]).unwrap();
    let rsa = Keypair::from_protobuf_encoding(&hex::decode(RSA_PRIVATE.trim()).unwrap()).unwrap();
    let ecdsa = PublicKey::decode_protobuf(&hex::decode(ECDSA_PUBLIC).unwrap()).unwrap();
    assert_eq!(rsa.key_type(), KeyType::Rsa);
    let rsa_signature = rsa.sign(&message);
    let rsa_encoded = rsa.public().encode_protobuf();
    vec![
        describe("ed25519 (secret 01…01)", &ed25519.public(), Some(&ed25519.sign(&message))),
        describe("secp256k1 (secret 01…01)", &secp256k1.public(), Some(&secp256k1.sign(&message))),
        describe("ecdsa (the spec's vector)", &ecdsa, None),
        format!(
            "rsa (the spec's 4096-bit vector): PublicKey protobuf, {} bytes, starting\n{}  peer id: {}\n  signature, {} bytes, starting\n{}",
            rsa_encoded.len(),
            hex_lines(&rsa_encoded[..64]),
            rsa.peer_id(),
            rsa_signature.len(),
            hex_lines(&rsa_signature[..32]),
        ),
    ]
}

#[test]
fn every_quoted_block_is_what_strata_makes_today() {
    let blocks = blocks();
    if std::env::var_os("STRATA_BLESS_DOCS").is_some() {
        for block in &blocks {
            eprintln!("```text\n{block}```\n");
        }
    }
    for block in blocks {
        assert!(CHAPTER.contains(&block), "docs/06-identities.md lacks, or quotes an old version of:\n{block}");
    }
}

#[test]
fn the_quoted_signatures_verify() {
    let message = noise_signed_message();
    for key in [Keypair::ed25519_from_secret([1; 32]), Keypair::secp256k1_from_secret(&[1; 32]).unwrap()] {
        assert!(key.public().verify(&message, &key.sign(&message)));
        // Deterministic signatures: the chapter's bytes are reproducible.
        assert_eq!(key.sign(&message), key.sign(&message));
    }
}
