//! The spec's test vectors for all four key types, then round trips and
//! malformed keys.

#![allow(clippy::unwrap_used)]

use super::*;

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

const ED25519_PRIVATE: &str = "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
const ED25519_PUBLIC: &str = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
const SECP256K1_PRIVATE: &str = "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB";
const SECP256K1_PUBLIC: &str = "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";
const ECDSA_PRIVATE: &str = "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA00A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8E6ECDA020E8B6D5F8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62";
const ECDSA_PUBLIC: &str = "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62";
/// The spec's RSA-4096 vectors live in a file of their own (they are long).
pub(crate) const RSA_PRIVATE: &str = include_str!("../../tests/vectors/rsa_private_key.hex");
pub(crate) const RSA_PUBLIC: &str = include_str!("../../tests/vectors/rsa_public_key.hex");

fn vectors() -> [(KeyType, Vec<u8>, Vec<u8>); 4] {
    [
        (KeyType::Ed25519, unhex(ED25519_PRIVATE), unhex(ED25519_PUBLIC)),
        (KeyType::Secp256k1, unhex(SECP256K1_PRIVATE), unhex(SECP256K1_PUBLIC)),
        (KeyType::Ecdsa, unhex(ECDSA_PRIVATE), unhex(ECDSA_PUBLIC)),
        (KeyType::Rsa, unhex(RSA_PRIVATE.trim()), unhex(RSA_PUBLIC.trim())),
    ]
}

#[test]
fn each_spec_private_key_gives_its_public_key_and_encodes_back() {
    for (key_type, private, public) in vectors() {
        let keypair = Keypair::from_protobuf_encoding(&private).unwrap();
        assert_eq!(keypair.key_type(), key_type);
        assert_eq!(keypair.public().encode_protobuf(), public, "{key_type}: public key");
        assert_eq!(keypair.to_protobuf_encoding().as_slice(), private.as_slice(), "{key_type}: private key");
        let decoded = PublicKey::decode_protobuf(&public).unwrap();
        assert_eq!(decoded, keypair.public());
        assert_eq!(decoded.key_type(), key_type);
    }
}

#[test]
fn peer_ids_inline_small_keys_and_hash_large_ones() {
    let ids: Vec<String> =
        vectors().iter().map(|(_, _, public)| PeerId::from_public_key_protobuf(public).unwrap().to_base58()).collect();
    assert!(ids[0].starts_with("12D3KooW"), "{}", ids[0]);
    assert!(ids[1].starts_with("16Uiu2"), "{}", ids[1]);
    assert!(ids[2].starts_with("Qm"), "{}", ids[2]);
    assert!(ids[3].starts_with("Qm"), "{}", ids[3]);
    for (_, private, public) in vectors() {
        let keypair = Keypair::from_protobuf_encoding(&private).unwrap();
        let id = keypair.peer_id();
        assert_eq!(id, PeerId::from_public_key_protobuf(&public).unwrap());
        // Inlined keys come back out of the peer id; hashed ones cannot.
        assert_eq!(id.extract_public_key().is_some(), public.len() <= 42);
    }
}

#[test]
fn every_type_signs_and_verifies_and_refuses_other_messages_and_keys() {
    let keys: Vec<Keypair> =
        vectors().iter().map(|(_, private, _)| Keypair::from_protobuf_encoding(private).unwrap()).collect();
    for (i, key) in keys.iter().enumerate() {
        let signature = key.sign(b"hello");
        assert!(key.public().verify(b"hello", &signature), "{}", key.key_type());
        assert!(!key.public().verify(b"hellO", &signature), "{}", key.key_type());
        assert!(!key.public().verify(b"hello", &signature[..signature.len() - 1]), "{}", key.key_type());
        assert!(!key.public().verify(b"hello", &[]), "{}", key.key_type());
        let other = &keys[(i + 1) % keys.len()];
        assert!(!other.public().verify(b"hello", &signature), "{} by {}", key.key_type(), other.key_type());
    }
}

#[test]
fn fresh_keys_of_each_generated_type_round_trip() {
    for key_type in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa] {
        let keypair = Keypair::generate(key_type).unwrap();
        assert_eq!(keypair.key_type(), key_type);
        let loaded = Keypair::from_protobuf_encoding(&keypair.to_protobuf_encoding()).unwrap();
        assert_eq!(loaded.peer_id(), keypair.peer_id());
        assert!(loaded.public().verify(b"x", &keypair.sign(b"x")));
    }
    assert!(matches!(Keypair::generate(KeyType::Rsa), Err(Error::UnsupportedKeyType(KeyType::Rsa))));
}

#[test]
fn rsa_loads_from_pkcs8_too() {
    // PKCS#8 around the spec's PKCS#1 key: SEQUENCE { 0, { rsaEncryption, NULL }, OCTET STRING }.
    let pkcs1 = unhex(RSA_PRIVATE.trim()).split_off(5); // 08 00 12 <varint 2355>
    let mut body = crate::der::encode(crate::der::INTEGER, &[0]);
    body.extend_from_slice(&unhex("300d06092a864886f70d0101010500"));
    crate::der::write(crate::der::OCTET_STRING, &pkcs1, &mut body);
    let pkcs8 = crate::der::encode(crate::der::SEQUENCE, &body);
    let keypair = Keypair::rsa_from_pkcs8(&pkcs8).unwrap();
    assert_eq!(keypair.public().encode_protobuf(), unhex(RSA_PUBLIC.trim()));
    assert!(Keypair::rsa_from_pkcs8(&pkcs1).is_err(), "PKCS#1 is not PKCS#8");
}

#[test]
fn secp256k1_refuses_high_s_signatures() {
    use k256::ecdsa::Signature;
    let keypair = Keypair::from_protobuf_encoding(&unhex(SECP256K1_PRIVATE)).unwrap();
    let low = Signature::from_der(&keypair.sign(b"m")).unwrap();
    // (r, n - s) is the same signature with a high s: valid ECDSA, refused as BIP 62 demands.
    let (r, s) = low.split_scalars();
    let high = Signature::from_scalars(r, -*s).unwrap();
    assert!(keypair.public().verify(b"m", low.to_der().as_bytes()));
    assert!(!keypair.public().verify(b"m", high.to_der().as_bytes()));
}

#[test]
fn bad_public_keys_of_each_type_are_refused_with_a_reason() {
    let proto = |key_type: KeyType, data: &[u8]| encode_proto(key_type, data).to_vec();
    let ecdsa = unhex(ECDSA_PUBLIC);
    let mut off_curve = ecdsa[4..].to_vec();
    let last = off_curve.len() - 1;
    off_curve[last] ^= 1;
    let secp = unhex(SECP256K1_PUBLIC);
    let mut secp_off_curve = secp[4..].to_vec();
    secp_off_curve[1] ^= 0xff;
    let rsa = unhex(RSA_PUBLIC.trim());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("ed25519 short", proto(KeyType::Ed25519, &[1; 31])),
        ("secp256k1 truncated", proto(KeyType::Secp256k1, &secp[4..30])),
        ("secp256k1 off the curve", proto(KeyType::Secp256k1, &secp_off_curve)),
        ("secp256k1 wrong prefix", proto(KeyType::Secp256k1, &[&[5u8][..], &secp[5..]].concat())),
        ("ecdsa truncated DER", proto(KeyType::Ecdsa, &ecdsa[4..60])),
        ("ecdsa off the curve", proto(KeyType::Ecdsa, &off_curve)),
        (
            "ecdsa another curve",
            proto(KeyType::Ecdsa, &{
                let mut other = ecdsa[4..].to_vec();
                other[22] = 0x08; // prime256v1 …07 becomes …08
                other
            }),
        ),
        ("rsa truncated DER", proto(KeyType::Rsa, &rsa[4..200])),
        ("rsa trailing byte", proto(KeyType::Rsa, &[&rsa[4..], &[0]].concat())),
        ("rsa 16384 bits", proto(KeyType::Rsa, &rsa_spki_of_bits(16384))),
        ("rsa 1024 bits", proto(KeyType::Rsa, &rsa_spki_of_bits(1024))),
    ];
    for (what, bytes) in cases {
        let error = PublicKey::decode_protobuf(&bytes).unwrap_err();
        assert!(matches!(error, Error::InvalidKey(_) | Error::Der(_)), "{what}: {error}");
    }
    assert!(PublicKey::decode_protobuf(&rsa_spki_of_bits(4096)).is_err(), "not a protobuf");
    assert!(
        PublicKey::decode_protobuf(&proto(KeyType::Rsa, &rsa_spki_of_bits(4096))).is_ok(),
        "the helper makes valid keys"
    );
}

/// A syntactically valid RSA `SubjectPublicKeyInfo` with a modulus of `bits` bits.
pub(crate) fn rsa_spki_of_bits(bits: usize) -> Vec<u8> {
    use crate::der;
    let mut n = vec![0xffu8; bits / 8];
    n.insert(0, 0); // DER sign byte
    let mut pkcs1 = der::encode(der::INTEGER, &n);
    der::write(der::INTEGER, &[1, 0, 1], &mut pkcs1);
    let pkcs1 = der::encode(der::SEQUENCE, &pkcs1);
    let mut bits_value = vec![0];
    bits_value.extend_from_slice(&pkcs1);
    let mut body = unhex("300d06092a864886f70d0101010500");
    der::write(der::BIT_STRING, &bits_value, &mut body);
    der::encode(der::SEQUENCE, &body)
}

#[test]
fn oversized_key_protobufs_are_refused_before_parsing() {
    let huge = encode_proto(KeyType::Rsa, &vec![0; MAX_KEY_PROTOBUF_LEN]).to_vec();
    assert!(matches!(PublicKey::decode_protobuf(&huge), Err(Error::InvalidKey(_))));
    assert!(matches!(Keypair::from_protobuf_encoding(&huge), Err(Error::InvalidKey(_))));
}

#[test]
fn bad_private_keys_are_refused() {
    let ecdsa = unhex(ECDSA_PRIVATE);
    let mut mismatched = ecdsa.clone();
    let last = mismatched.len() - 1;
    mismatched[last] ^= 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("secp256k1 zero scalar", encode_proto(KeyType::Secp256k1, &[0; 32]).to_vec()),
        ("secp256k1 short", encode_proto(KeyType::Secp256k1, &[1; 31]).to_vec()),
        ("ecdsa public key of another scalar", mismatched),
        ("ecdsa truncated", ecdsa[..60].to_vec()),
        ("rsa truncated", unhex(RSA_PRIVATE.trim())[..500].to_vec()),
    ];
    for (what, bytes) in cases {
        assert!(Keypair::from_protobuf_encoding(&bytes).is_err(), "{what}");
    }
}

#[test]
fn key_types_parse_from_their_names() {
    for key_type in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa, KeyType::Rsa] {
        assert_eq!(key_type.to_string().parse::<KeyType>().unwrap(), key_type);
    }
    assert!("dsa".parse::<KeyType>().is_err());
}

#[test]
fn debug_hides_the_secret() {
    let keypair = Keypair::ed25519_from_secret([7; 32]);
    let text = format!("{keypair:?}");
    assert!(!text.contains(&data_encoding::HEXLOWER.encode(&[7; 32])));
    assert!(text.contains("PublicKey"));
}

#[test]
fn load_or_generate_keeps_each_type() {
    let dir = std::env::temp_dir().join(format!("strata-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for key_type in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa] {
        let path = dir.join(key_type.to_string());
        let _ = std::fs::remove_file(&path);
        let first = Keypair::load_or_generate(&path, key_type).unwrap();
        let again = Keypair::load_or_generate(&path, KeyType::Ed25519).unwrap();
        assert_eq!(first.peer_id(), again.peer_id(), "{key_type}");
        assert_eq!(again.key_type(), key_type);
    }
    assert!(Keypair::load_or_generate(dir.join("rsa"), KeyType::Rsa).is_err(), "RSA keys are loaded, not made");
    std::fs::remove_dir_all(&dir).unwrap();
}
