//! strata's identity against rust-libp2p's, for all four key types: the
//! same key must give the same encodings and the same `PeerId`, key files
//! must load across, and signatures must verify across, in both
//! directions.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails loudly

use libp2p_identity as libp2p;
use strata::KeyType;

#[path = "support/keys.rs"]
mod keys;

fn both(seed: u8) -> (strata_core::Keypair, libp2p::Keypair) {
    let strata = strata_core::Keypair::ed25519_from_secret([seed; 32]);
    let theirs = libp2p::Keypair::ed25519_from_bytes([seed; 32]).expect("32 bytes are a valid ed25519 secret");
    (strata, theirs)
}

/// The same key on both sides, one of each type and RSA in both sizes,
/// each side loading it its own way where it has one.
fn same_keys() -> Vec<(&'static str, strata_core::Keypair, libp2p::Keypair)> {
    let (ed25519, ed25519_theirs) = both(9);
    let scalar = [7u8; 32];
    let secp256k1 = strata_core::Keypair::secp256k1_from_secret(&scalar).unwrap();
    let secp256k1_theirs =
        libp2p::secp256k1::Keypair::from(libp2p::secp256k1::SecretKey::try_from_bytes(scalar).unwrap());
    // strata reads a P-256 key only as SEC1 DER (in a key file or not):
    // rust-libp2p's key file carries it.
    let ecdsa_theirs = libp2p::Keypair::generate_ecdsa();
    let ecdsa = strata_core::Keypair::from_protobuf_encoding(&ecdsa_theirs.to_protobuf_encoding().unwrap()).unwrap();
    let rsa_2048 = strata_core::Keypair::rsa_from_pkcs8(keys::RSA_2048_PKCS8).unwrap();
    let rsa_2048_theirs = libp2p::Keypair::rsa_from_pkcs8(&mut keys::RSA_2048_PKCS8.to_vec()).unwrap();
    let vector = keys::rsa_4096_protobuf();
    let rsa_4096 = strata_core::Keypair::from_protobuf_encoding(&vector).unwrap();
    let rsa_4096_theirs = libp2p::Keypair::from_protobuf_encoding(&vector).unwrap();
    vec![
        ("ed25519", ed25519, ed25519_theirs),
        ("secp256k1", secp256k1, secp256k1_theirs.into()),
        ("ecdsa", ecdsa, ecdsa_theirs),
        ("rsa-2048", rsa_2048, rsa_2048_theirs),
        ("rsa-4096", rsa_4096, rsa_4096_theirs),
    ]
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
fn peer_ids_match_rust_libp2p_for_every_key_type() {
    for (name, strata, theirs) in same_keys() {
        let peer = theirs.public().to_peer_id();
        assert_eq!(strata.peer_id().to_bytes(), peer.to_bytes(), "{name}");
        assert_eq!(strata.peer_id().to_string(), peer.to_base58(), "{name}");
        // Keys of up to 42 bytes encoded are inlined (identity multihash);
        // longer ones (ECDSA, RSA) are hashed with SHA-256: `Qm…`.
        let prefix = match strata.key_type() {
            KeyType::Ed25519 => "12D3KooW",
            KeyType::Secp256k1 => "16Uiu2HAm",
            KeyType::Ecdsa | KeyType::Rsa => "Qm",
        };
        assert!(peer.to_base58().starts_with(prefix), "{name}: {peer}");
    }
}

#[test]
fn public_key_encodings_are_interchangeable() {
    for (name, strata, theirs) in same_keys() {
        let ours = strata.public().encode_protobuf();
        assert_eq!(ours, theirs.public().encode_protobuf(), "{name}");
        let decoded = libp2p::PublicKey::try_decode_protobuf(&ours).expect("rust-libp2p reads our encoding");
        assert_eq!(decoded, theirs.public(), "{name}");
        assert_eq!(decoded.key_type(), keys::rust_key_type(strata.key_type()), "{name}");
        let decoded = strata_core::PublicKey::decode_protobuf(&theirs.public().encode_protobuf())
            .expect("strata reads rust-libp2p's encoding");
        assert_eq!(decoded, strata.public(), "{name}");
    }
}

#[test]
fn private_key_files_are_interchangeable() {
    for (name, strata, theirs) in same_keys() {
        // rust-libp2p reads the identity file strata writes…
        let loaded = libp2p::Keypair::from_protobuf_encoding(&strata.to_protobuf_encoding())
            .unwrap_or_else(|error| panic!("{name}: rust-libp2p reads ours: {error}"));
        assert_eq!(loaded.public().to_peer_id(), theirs.public().to_peer_id(), "{name}");
        // …and strata reads rust-libp2p's, byte for byte the file strata
        // writes. rust-libp2p writes no RSA key files.
        if strata.key_type() == KeyType::Rsa {
            assert!(theirs.to_protobuf_encoding().is_err(), "{name}: rust-libp2p now encodes RSA keys");
            continue;
        }
        let file = theirs.to_protobuf_encoding().expect("non-RSA keys encode");
        let loaded = strata_core::Keypair::from_protobuf_encoding(&file)
            .unwrap_or_else(|error| panic!("{name}: strata reads theirs: {error}"));
        assert_eq!(loaded.peer_id(), strata.peer_id(), "{name}");
        assert_eq!(*strata.to_protobuf_encoding(), file, "{name}");
    }
}

#[test]
fn files_of_fresh_keys_load_across_with_the_same_bytes() {
    // Many keys, so that scalars with leading zero bytes come up.
    for key_type in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa] {
        for _ in 0..64 {
            let theirs = keys::rust_keypair(key_type);
            let file = theirs.to_protobuf_encoding().unwrap();
            let loaded = strata_core::Keypair::from_protobuf_encoding(&file)
                .unwrap_or_else(|error| panic!("{key_type}: strata reads {}: {error}", hex::encode(&file)));
            assert_eq!(loaded.peer_id().to_bytes(), theirs.public().to_peer_id().to_bytes(), "{key_type}");
            assert_eq!(*loaded.to_protobuf_encoding(), file, "{key_type}");

            let ours = keys::strata_keypair(key_type);
            let file = ours.to_protobuf_encoding();
            let loaded = libp2p::Keypair::from_protobuf_encoding(&file)
                .unwrap_or_else(|error| panic!("{key_type}: rust-libp2p reads {}: {error}", hex::encode(&*file)));
            assert_eq!(loaded.public().to_peer_id().to_bytes(), ours.peer_id().to_bytes(), "{key_type}");
            assert_eq!(loaded.to_protobuf_encoding().unwrap(), *file, "{key_type}");
        }
    }
}

#[test]
fn signatures_verify_across_implementations() {
    let message = b"libp2p-pubsub:hello";
    let other = b"libp2p-pubsub:hellp";
    for (name, strata, theirs) in same_keys() {
        let ours = strata.sign(message);
        assert!(theirs.public().verify(message, &ours), "{name}: rust-libp2p verifies {}", hex::encode(&ours));
        assert!(!theirs.public().verify(other, &ours), "{name}");
        let theirs_sig = theirs.sign(message).expect("every type signs");
        assert!(strata.public().verify(message, &theirs_sig), "{name}: strata verifies {}", hex::encode(&theirs_sig));
        assert!(!strata.public().verify(other, &theirs_sig), "{name}");
    }
}

/// The spec's private key vectors, as rust-libp2p loads them, with the
/// names `core/tests/vectors/rust_libp2p_signatures.txt` uses.
fn spec_keys() -> Vec<(&'static str, libp2p::Keypair)> {
    let load =
        |hex_text: &str| libp2p::Keypair::from_protobuf_encoding(&hex::decode(hex_text.trim()).unwrap()).unwrap();
    vec![
        (
            "ed25519",
            load(
                "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
            ),
        ),
        ("secp256k1", load("0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB")),
        (
            "ecdsa",
            load(
                "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA00A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8E6ECDA020E8B6D5F8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62",
            ),
        ),
        ("rsa", load(include_str!("../../core/tests/vectors/rsa_private_key.hex"))),
    ]
}

/// The signatures pinned in `core/tests/vectors/rust_libp2p_signatures.txt`
/// (checked by strata in `core/tests/rust_libp2p_signatures.rs`) are what
/// rust-libp2p makes: every one of its signatures is deterministic (RFC
/// 6979 for both ECDSA curves, PKCS#1 v1.5 for RSA). With
/// `STRATA_BLESS_SIGNATURES=1` it prints the file anew.
#[test]
fn the_pinned_signatures_are_rust_libp2ps() {
    let pinned = include_str!("../../core/tests/vectors/rust_libp2p_signatures.txt");
    let keys = spec_keys();
    let mut fresh = String::new();
    for line in pinned.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, context, message, signature] = fields[..] else {
            fresh.push_str(line);
            fresh.push('\n');
            continue;
        };
        let key = &keys.iter().find(|(key_name, _)| *key_name == name).unwrap().1;
        let made = hex::encode(key.sign(&hex::decode(message).unwrap()).unwrap());
        fresh.push_str(&[name, context, message, &made].join(" "));
        fresh.push('\n');
        if std::env::var_os("STRATA_BLESS_SIGNATURES").is_none() {
            assert_eq!(made, signature, "{name} {context}: rust-libp2p signs differently from the pinned bytes");
        }
    }
    if std::env::var_os("STRATA_BLESS_SIGNATURES").is_some() {
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/vectors/rust_libp2p_signatures.txt"), fresh)
            .unwrap();
    }
}
