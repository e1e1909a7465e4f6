//! Handshakes with a misbehaving side, built from the real handshake with
//! its payload altered: what a correct node never sends, a correct node must
//! refuse.

use std::time::Duration;

use strata_core::Keypair;

use super::*;

const LIMIT: Duration = Duration::from_secs(5);

/// Runs a handshake between an honest initiator and a responder whose
/// payload `tamper` has altered; returns the initiator's result.
async fn against_tampered_responder(tamper: impl FnOnce(&mut NoiseHandshakePayload)) -> Result<PeerId> {
    let honest = Keypair::ed25519_from_secret([1; 32]);
    let rogue = Keypair::ed25519_from_secret([2; 32]);
    let mut handshake = Handshake::new(&rogue, false).unwrap();
    tamper(&mut handshake.local_payload);
    let (a, b) = tokio::io::duplex(65536);
    let rogue_side = tokio::spawn(async move { responder_with(b, handshake).await.map(|(id, _)| id) });
    let result =
        tokio::time::timeout(LIMIT, initiator(a, &StaticKey::generate(&honest).unwrap(), None, None)).await.unwrap();
    drop(tokio::time::timeout(LIMIT, rogue_side).await);
    result.map(|(id, _)| id)
}

/// The same with the initiator misbehaving; returns the responder's result.
async fn against_tampered_initiator(tamper: impl FnOnce(&mut NoiseHandshakePayload)) -> Result<PeerId> {
    let honest = Keypair::ed25519_from_secret([1; 32]);
    let rogue = Keypair::ed25519_from_secret([2; 32]);
    let mut handshake = Handshake::new(&rogue, true).unwrap();
    tamper(&mut handshake.local_payload);
    let (a, b) = tokio::io::duplex(65536);
    let rogue_side = tokio::spawn(async move { initiator_with(a, handshake, None).await.map(|(id, _)| id) });
    let result = tokio::time::timeout(LIMIT, responder(b, &StaticKey::generate(&honest).unwrap(), None)).await.unwrap();
    drop(tokio::time::timeout(LIMIT, rogue_side).await);
    result.map(|(id, _)| id)
}

fn flip_signature(payload: &mut NoiseHandshakePayload) {
    if let Some(signature) = payload.identity_sig.as_mut() {
        signature[10] ^= 0x01;
    }
}

/// The spec's Secp256k1 public key vector: well-formed, not supported.
const SECP256K1_PUBLIC: &str = "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";

fn secp256k1_key() -> Vec<u8> {
    (0..SECP256K1_PUBLIC.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&SECP256K1_PUBLIC[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn honest_handshake_for_reference() {
    assert_eq!(against_tampered_responder(|_| {}).await.unwrap(), Keypair::ed25519_from_secret([2; 32]).peer_id());
    assert_eq!(against_tampered_initiator(|_| {}).await.unwrap(), Keypair::ed25519_from_secret([2; 32]).peer_id());
}

#[tokio::test]
async fn a_tampered_signature_is_refused_by_either_side() {
    assert!(matches!(against_tampered_responder(flip_signature).await, Err(Error::BadSignature)));
    assert!(matches!(against_tampered_initiator(flip_signature).await, Err(Error::BadSignature)));
}

#[tokio::test]
async fn an_identity_that_did_not_sign_this_static_key_is_refused() {
    // A real signature by a real key, but of another connection's static
    // key: a replayed proof.
    let victim = Keypair::ed25519_from_secret([9; 32]);
    let replayed = crate::payload::signed_payload(&victim, &[42; 32]);
    let result = against_tampered_responder(|payload| *payload = replayed).await;
    assert!(matches!(result, Err(Error::BadSignature)), "{result:?}");
}

#[tokio::test]
async fn another_identity_key_under_the_signature_is_refused() {
    let other = Keypair::ed25519_from_secret([3; 32]).public().encode_protobuf();
    let result = against_tampered_responder(|payload| payload.identity_key = Some(other)).await;
    assert!(matches!(result, Err(Error::BadSignature)), "{result:?}");
}

#[tokio::test]
async fn a_wrong_key_type_is_refused() {
    let result = against_tampered_responder(|payload| payload.identity_key = Some(secp256k1_key())).await;
    assert!(
        matches!(
            result,
            Err(Error::IdentityKey(strata_core::Error::UnsupportedKeyType(strata_core::KeyType::Secp256k1)))
        ),
        "{result:?}"
    );
    let result =
        against_tampered_initiator(|payload| payload.identity_key = Some(vec![0x08, 0x01, 0x12, 0x01, 0x00])).await;
    assert!(matches!(result, Err(Error::IdentityKey(_))), "{result:?}");
}

#[tokio::test]
async fn a_missing_identity_is_refused() {
    let result = against_tampered_responder(|payload| payload.identity_key = None).await;
    assert!(matches!(result, Err(Error::InvalidPayload(_))), "{result:?}");
    let result = against_tampered_initiator(|payload| payload.identity_sig = None).await;
    assert!(matches!(result, Err(Error::InvalidPayload(_))), "{result:?}");
}

#[tokio::test]
async fn an_oversized_message_1_is_refused_before_message_2() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut dialer, listener) = tokio::io::duplex(1 << 17);
    let identity = strata_core::Keypair::generate_ed25519();
    let responding = tokio::spawn(async move {
        super::responder(listener, &StaticKey::generate(&identity).unwrap(), None).await.map(|(peer, _)| peer)
    });
    let garbage = vec![7u8; 65_000];
    dialer.write_all(&u16::try_from(garbage.len()).unwrap().to_be_bytes()).await.unwrap();
    drop(dialer.write_all(&garbage).await);
    assert!(responding.await.unwrap().is_err());
    let mut answer = Vec::new();
    drop(dialer.read_to_end(&mut answer).await);
    assert!(answer.is_empty(), "no message 2 for a garbage message 1: {} bytes", answer.len());
}
