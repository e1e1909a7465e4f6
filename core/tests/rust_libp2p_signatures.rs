//! Signatures made by rust-libp2p with the spec's key vectors, pinned as
//! bytes (`vectors/rust_libp2p_signatures.txt`; the interop crate checks
//! they are still what rust-libp2p makes), over what the Noise payload,
//! the TLS extension and a pubsub message sign. strata must verify every
//! one, refuse each after a one-bit change, and, where signing is
//! deterministic on both sides (Ed25519, secp256k1 with RFC 6979, RSA
//! PKCS#1 v1.5), make the very same bytes. strata's ECDSA signs with
//! ring's random nonces, so only verification applies there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_core::{KeyType, Keypair};

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.trim()).unwrap()
}

fn key(name: &str) -> Keypair {
    let protobuf = match name {
        "ed25519" => unhex(
            "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        ),
        "secp256k1" => unhex("0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB"),
        "ecdsa" => unhex(
            "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA00A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8E6ECDA020E8B6D5F8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62",
        ),
        "rsa" => unhex(include_str!("vectors/rsa_private_key.hex")),
        other => panic!("unknown key {other}"),
    };
    Keypair::from_protobuf_encoding(&protobuf).unwrap()
}

#[test]
fn strata_verifies_rust_libp2ps_signatures_and_makes_the_same_where_deterministic() {
    let mut checked = 0;
    for line in include_str!("vectors/rust_libp2p_signatures.txt").lines().filter(|line| !line.starts_with('#')) {
        let [name, context, message, signature] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("malformed line {line}");
        };
        let (key, message, signature) = (key(name), unhex(message), unhex(signature));
        let what = format!("{name} {context}");
        assert!(key.public().verify(&message, &signature), "{what}: rust-libp2p's signature does not verify");
        let mut flipped = signature.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x01;
        assert!(!key.public().verify(&message, &flipped), "{what}: a changed signature verifies");
        let mut other = message.clone();
        other[0] ^= 0x01;
        assert!(!key.public().verify(&other, &signature), "{what}: verifies for another message");
        if key.key_type() != KeyType::Ecdsa {
            assert_eq!(hex::encode(key.sign(&message)), hex::encode(&signature), "{what}: strata signs differently");
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "three contexts for each of the four key types");
}
