//! Key pairs of all four libp2p key types, on strata's side and on
//! rust-libp2p's: fresh ones for Ed25519, secp256k1 and ECDSA, and RSA
//! keys from fixtures (neither implementation generates RSA keys).
//! Included by path where needed.
//!
//! - `../fixtures/rsa_2048_pkcs8.der`: a 2,048-bit RSA key as PKCS#8 DER,
//!   made once with OpenSSL 3.0: `openssl genpkey -algorithm RSA -pkeyopt
//!   rsa_keygen_bits:2048 -outform DER` (which writes PKCS#1 in DER, not
//!   PKCS#8), then `openssl pkcs8 -topk8 -nocrypt -inform DER -outform
//!   DER`.
//! - `core/tests/vectors/rsa_private_key.hex`: the spec's RSA-4096
//!   private key vector, a libp2p `PrivateKey` protobuf (PKCS#1 inside).

#![allow(dead_code)] // each includer uses a part

use strata::KeyType;

/// Every key type, Ed25519 first.
pub(crate) const ALL: [KeyType; 4] = [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa, KeyType::Rsa];

/// The 2,048-bit RSA key, PKCS#8 DER.
pub(crate) const RSA_2048_PKCS8: &[u8] = include_bytes!("../fixtures/rsa_2048_pkcs8.der");

/// The spec's RSA-4096 private key vector: a libp2p `PrivateKey` protobuf.
pub(crate) fn rsa_4096_protobuf() -> Vec<u8> {
    hex::decode(include_str!("../../../core/tests/vectors/rsa_private_key.hex").trim()).expect("the vector is hex")
}

/// A strata key pair of `key_type`: fresh, or for RSA the 4,096-bit
/// vector.
pub(crate) fn strata_keypair(key_type: KeyType) -> strata::Keypair {
    match key_type {
        KeyType::Rsa => strata::Keypair::from_protobuf_encoding(&rsa_4096_protobuf()).expect("strata loads the vector"),
        other => strata::Keypair::generate(other).expect("strata generates all but RSA"),
    }
}

/// A rust-libp2p key pair of `key_type`: fresh, or for RSA the 2,048-bit
/// fixture.
pub(crate) fn rust_keypair(key_type: KeyType) -> libp2p_identity::Keypair {
    match key_type {
        KeyType::Ed25519 => libp2p_identity::Keypair::generate_ed25519(),
        KeyType::Secp256k1 => libp2p_identity::Keypair::generate_secp256k1(),
        KeyType::Ecdsa => libp2p_identity::Keypair::generate_ecdsa(),
        KeyType::Rsa => {
            libp2p_identity::Keypair::rsa_from_pkcs8(&mut RSA_2048_PKCS8.to_vec()).expect("rust-libp2p loads PKCS#8")
        }
    }
}

/// rust-libp2p's name for `key_type`.
pub(crate) fn rust_key_type(key_type: KeyType) -> libp2p_identity::KeyType {
    match key_type {
        KeyType::Ed25519 => libp2p_identity::KeyType::Ed25519,
        KeyType::Secp256k1 => libp2p_identity::KeyType::Secp256k1,
        KeyType::Ecdsa => libp2p_identity::KeyType::Ecdsa,
        KeyType::Rsa => libp2p_identity::KeyType::RSA,
    }
}
