//! Keys and peer ids against `libp2p-peer-ids.md`: every test vector of the
//! spec ("Test vectors"), its text examples ("Decoding"), and malformed
//! input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_core::{Error, KeyType, Keypair, PeerId, PublicKey};

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

// The spec's vectors, verbatim.
const ED25519_PRIVATE: &str = "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
const ED25519_PUBLIC: &str = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
const ECDSA_PRIVATE: &str = "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA00A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8E6ECDA020E8B6D5F8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62";
const ECDSA_PUBLIC: &str = "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62";
const SECP256K1_PRIVATE: &str = "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB";
const SECP256K1_PUBLIC: &str = "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";
// The RSA vectors are long; their first bytes say all this test needs
// (Type = RSA), and the rest is checked to be a well-formed protobuf.
const RSA_PUBLIC: &str = "080012a60430820222300d06092a864886f70d01010105000382020f003082020a0282020100e1beab071d08200bde24eef00d049449b07770ff9910257b2d7d5dda242ce8f0e2f12e1af4b32d9efd2c090f66b0f29986dbb645dae9880089704a94e5066d594162ae6ee8892e6ec70701db0a6c445c04778eb3de1293aa1a23c3825b85c6620a2bc3f82f9b0c309bc0ab3aeb1873282bebd3da03c33e76c21e9beb172fd44c9e43be32e2c99827033cf8d0f0c606f4579326c930eb4e854395ad941256542c793902185153c474bed109d6ff5141ebf9cd256cf58893a37f83729f97e7cb435ec679d2e33901d27bb35aa0d7e20561da08885ef0abbf8e2fb48d6a5487047a9ecb1ad41fa7ed84f6e3e8ecd5d98b3982d2a901b4454991766da295ab78822add5612a2df83bcee814cf50973e80d7ef38111b1bd87da2ae92438a2c8cbcc70b31ee319939a3b9c761dbc13b5c086d6b64bf7ae7dacc14622375d92a8ff9af7eb962162bbddebf90acb32adb5e4e4029f1c96019949ecfbfeffd7ac1e3fbcc6b6168c34be3d5a2e5999fcbb39bba7adbca78eab09b9bc39f7fa4b93411f4cc175e70c0a083e96bfaefb04a9580b4753c1738a6a760ae1afd851a1a4bdad231cf56e9284d832483df215a46c1c21bdf0c6cfe951c18f1ee4078c79c13d63edb6e14feaeffabc90ad317e4875fe648101b0864097e998f0ca3025ef9638cd2b0caecd3770ab54a1d9c6ca959b0f5dcbc90caeefc4135baca6fd475224269bbe1b0203010001";

#[test]
fn ed25519_private_key_vector_produces_the_public_key_vector() {
    // "Implementations SHOULD check that they can produce the provided
    // public key from the private key."
    let keypair = Keypair::from_protobuf_encoding(&unhex(ED25519_PRIVATE)).unwrap();
    assert_eq!(keypair.public().encode_protobuf(), unhex(ED25519_PUBLIC));
    assert_eq!(keypair.to_protobuf_encoding().as_slice(), unhex(ED25519_PRIVATE));
    let public = PublicKey::decode_protobuf(&unhex(ED25519_PUBLIC)).unwrap();
    assert_eq!(public, keypair.public());
    assert_eq!(public.key_type(), KeyType::Ed25519);
}

#[test]
fn ed25519_peer_id_is_the_identity_multihash_of_the_encoding() {
    let public = PublicKey::decode_protobuf(&unhex(ED25519_PUBLIC)).unwrap();
    let peer_id = public.to_peer_id();
    let mut expected = vec![0x00, 36];
    expected.extend_from_slice(&unhex(ED25519_PUBLIC));
    assert_eq!(peer_id.to_bytes(), expected);
    assert!(peer_id.to_string().starts_with("12D3KooW"));
    assert_eq!(peer_id.extract_public_key(), Some(public));
}

#[test]
fn every_private_key_vector_produces_its_public_key_vector() {
    // The same check for the other three types (RSA's vectors are in files
    // of their own: 4.7 KB and 1.1 KB of hex).
    let rsa_private = include_str!("vectors/rsa_private_key.hex").trim();
    let rsa_public = include_str!("vectors/rsa_public_key.hex").trim();
    assert_eq!(rsa_public, RSA_PUBLIC);
    for (private, public, key_type) in [
        (ECDSA_PRIVATE, ECDSA_PUBLIC, KeyType::Ecdsa),
        (SECP256K1_PRIVATE, SECP256K1_PUBLIC, KeyType::Secp256k1),
        (rsa_private, rsa_public, KeyType::Rsa),
    ] {
        let keypair = Keypair::from_protobuf_encoding(&unhex(private)).unwrap();
        assert_eq!(keypair.key_type(), key_type);
        assert_eq!(keypair.public().encode_protobuf(), unhex(public), "{key_type:?}");
        assert_eq!(keypair.to_protobuf_encoding().as_slice(), unhex(private), "{key_type:?}");
        let decoded = PublicKey::decode_protobuf(&unhex(public)).unwrap();
        assert_eq!(decoded, keypair.public());
        assert!(decoded.verify(b"vector", &keypair.sign(b"vector")), "{key_type:?}");
    }
}

#[test]
fn peer_ids_of_every_vector_follow_the_42_byte_rule() {
    // "Keys that serialize to more than 42 bytes must be hashed using
    // sha256 multihash, keys that serialize to at most 42 bytes must be
    // hashed using the identity multihash codec."
    for (vector, inline) in
        [(ED25519_PUBLIC, true), (SECP256K1_PUBLIC, true), (ECDSA_PUBLIC, false), (RSA_PUBLIC, false)]
    {
        let encoded = unhex(vector);
        let id = PeerId::from_public_key_protobuf(&encoded).unwrap();
        if inline {
            assert!(encoded.len() <= 42);
            assert_eq!(id.as_bytes()[..2], [0x00, u8::try_from(encoded.len()).unwrap()]);
            assert_eq!(&id.as_bytes()[2..], &encoded[..]);
        } else {
            assert!(encoded.len() > 42);
            assert_eq!(id.as_bytes()[..2], [0x12, 0x20]);
            assert!(id.to_string().starts_with("Qm"));
        }
        assert_eq!(PeerId::from_bytes(id.as_bytes()).unwrap(), id);
    }
    let ed = PublicKey::decode_protobuf(&unhex(ED25519_PUBLIC)).unwrap();
    assert_eq!(PeerId::from_public_key_protobuf(&unhex(ED25519_PUBLIC)).unwrap(), ed.to_peer_id());
    assert!(PeerId::from_public_key_protobuf(&[0x08, 0x07, 0x12, 0x00]).is_err(), "unknown key type");
    assert!(PeerId::from_public_key_protobuf(b"garbage").is_err());
}

#[test]
fn legacy_96_byte_private_key_loads_only_when_its_public_halves_agree() {
    let data = &unhex(ED25519_PRIVATE)[4..];
    let mut legacy = vec![0x08, 0x01, 0x12, 96];
    legacy.extend_from_slice(data);
    legacy.extend_from_slice(&data[32..]);
    let keypair = Keypair::from_protobuf_encoding(&legacy).unwrap();
    assert_eq!(keypair.public().encode_protobuf(), unhex(ED25519_PUBLIC));

    let last = legacy.len() - 1;
    legacy[last] ^= 1;
    assert!(matches!(Keypair::from_protobuf_encoding(&legacy), Err(Error::InvalidKey(_))));
}

#[test]
fn private_key_with_a_foreign_public_half_is_refused() {
    let mut bytes = unhex(ED25519_PRIVATE);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(matches!(Keypair::from_protobuf_encoding(&bytes), Err(Error::InvalidKey(_))));
}

#[test]
fn non_canonical_key_encodings_are_refused() {
    let canonical = unhex(ED25519_PUBLIC);
    // Fields in the wrong order: Data, then Type.
    let mut swapped = canonical[2..].to_vec();
    swapped.extend_from_slice(&canonical[..2]);
    assert!(matches!(PublicKey::decode_protobuf(&swapped), Err(Error::InvalidKey(_))));
    // An extra field (tag 3).
    let mut extra = canonical.clone();
    extra.extend_from_slice(&[0x18, 0x01]);
    assert!(matches!(PublicKey::decode_protobuf(&extra), Err(Error::InvalidKey(_))));
    // A non-minimal varint for the type.
    let mut long_varint = vec![0x08, 0x81, 0x00];
    long_varint.extend_from_slice(&canonical[2..]);
    assert!(PublicKey::decode_protobuf(&long_varint).is_err());
    // Wrong lengths, unknown types, garbage.
    for bad in [&b""[..], &[0x08, 0x01], &[0x08, 0x01, 0x12, 0x01, 0x00], &[0x08, 0x09, 0x12, 0x00], &[0xff; 8]] {
        assert!(PublicKey::decode_protobuf(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_all_ones_secret_gives_rust_libp2ps_peer_id() {
    // Pinned from rust-libp2p 0.57 (libp2p-identity 0.3), which computes the
    // same value in interop/tests/identity.rs.
    let keypair = Keypair::ed25519_from_secret([1; 32]);
    assert_eq!(keypair.peer_id().to_string(), "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");
}

#[test]
fn spec_text_examples_parse() {
    // "Peer ID (ed25519, using the identity multihash) encoded as a raw
    // base58btc multihash."
    let ed: PeerId = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".parse().unwrap();
    assert_eq!(ed.as_bytes()[0], 0x00);
    assert_eq!(ed.extract_public_key().unwrap().to_peer_id(), ed);
    assert_eq!(ed.to_string(), "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA");

    // "Peer ID (sha256) encoded as a raw base58btc multihash."
    let qm: PeerId = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N".parse().unwrap();
    assert_eq!(&qm.as_bytes()[..2], &[0x12, 0x20]);
    assert_eq!(qm.extract_public_key(), None);
    assert_eq!(qm.to_string(), "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");

    // "Peer ID (sha256) encoded as a CID."
    let cid: PeerId = "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe".parse().unwrap();
    assert_eq!(&cid.as_bytes()[..2], &[0x12, 0x20]);
    assert_eq!(cid.to_cid_string(), "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe");
}

#[test]
fn both_text_forms_round_trip() {
    let id = Keypair::generate_ed25519().peer_id();
    assert_eq!(id.to_string().parse::<PeerId>().unwrap(), id);
    assert_eq!(id.to_cid_string().parse::<PeerId>().unwrap(), id);
    assert!(id.to_cid_string().starts_with('b'));
    assert_eq!(PeerId::from_bytes(&id.to_bytes()).unwrap(), id);
}

#[test]
fn malformed_peer_ids_are_refused() {
    let valid = Keypair::ed25519_from_secret([3; 32]).peer_id().to_bytes();
    let mut trailing = valid.clone();
    trailing.push(0);
    let mut identity_43 = vec![0x00, 43];
    identity_43.extend_from_slice(&[1; 43]);
    let mut sha_short = vec![0x12, 31];
    sha_short.extend_from_slice(&[1; 31]);
    let mut unknown_code = vec![0x13, 32];
    unknown_code.extend_from_slice(&[1; 32]);
    for bad in
        [&b""[..], &[0x00], &[0x80], &valid[..valid.len() - 1], &trailing, &identity_43, &sha_short, &unknown_code]
    {
        assert!(matches!(PeerId::from_bytes(bad), Err(Error::InvalidPeerId(_))), "{bad:?}");
    }
    for bad in [
        "",
        "1",
        "Qm",
        "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S0", // '0' is not base58
        "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S",  // one character short
        "xyz",
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", // a CID, but not libp2p-key
        "b",
        &"1".repeat(500),
    ] {
        assert!(bad.parse::<PeerId>().is_err(), "{bad:?}");
    }
}

#[test]
fn a_saved_identity_is_loaded_again_and_kept_private() {
    let dir = std::env::temp_dir().join(format!("strata-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("identity.key");
    let _ = std::fs::remove_file(&path);
    let first = strata_core::Keypair::load_or_generate(&path, strata_core::KeyType::Ed25519).unwrap();
    let again = strata_core::Keypair::load_or_generate(&path, strata_core::KeyType::Ed25519).unwrap();
    assert_eq!(first.peer_id(), again.peer_id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    std::fs::write(&path, b"not a key").unwrap();
    assert_eq!(
        strata_core::Keypair::load_or_generate(&path, strata_core::KeyType::Ed25519).unwrap_err().kind(),
        std::io::ErrorKind::InvalidData
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
