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

#[tokio::test]
async fn honest_handshake_for_reference() {
    assert_eq!(against_tampered_responder(|_| {}).await.unwrap(), Keypair::ed25519_from_secret([2; 32]).peer_id());
    assert_eq!(against_tampered_initiator(|_| {}).await.unwrap(), Keypair::ed25519_from_secret([2; 32]).peer_id());
}

#[tokio::test]
async fn a_tampered_signature_is_refused_by_either_side() {
    assert!(matches!(against_tampered_responder(flip_signature).await, Err(Error::BadSignature { .. })));
    assert!(matches!(against_tampered_initiator(flip_signature).await, Err(Error::BadSignature { .. })));
}

#[tokio::test]
async fn an_identity_that_did_not_sign_this_static_key_is_refused() {
    // A real signature by a real key, but of another connection's static
    // key: a replayed proof.
    let victim = Keypair::ed25519_from_secret([9; 32]);
    let replayed = crate::payload::signed_payload(&victim, &[42; 32]);
    let result = against_tampered_responder(|payload| *payload = replayed).await;
    assert!(matches!(result, Err(Error::BadSignature { .. })), "{result:?}");
}

#[tokio::test]
async fn another_identity_key_under_the_signature_is_refused() {
    let other = Keypair::ed25519_from_secret([3; 32]).public().encode_protobuf();
    let result = against_tampered_responder(|payload| payload.identity_key = Some(other)).await;
    assert!(matches!(result, Err(Error::BadSignature { .. })), "{result:?}");
}

/// One identity of each of libp2p's four key types (RSA: the spec's
/// 4,096-bit vector).
fn identities() -> Vec<Keypair> {
    let rsa = hex::decode(include_str!("../../../../core/tests/vectors/rsa_private_key.hex").trim()).unwrap();
    vec![
        Keypair::ed25519_from_secret([4; 32]),
        Keypair::secp256k1_from_secret(&[5; 32]).unwrap(),
        Keypair::generate_ecdsa(),
        Keypair::from_protobuf_encoding(&rsa).unwrap(),
    ]
}

#[tokio::test]
async fn identities_of_every_key_type_authenticate_each_other() {
    for a in identities() {
        for b in identities() {
            let (x, y) = tokio::io::duplex(65536);
            let (a_key, b_key) = (StaticKey::generate(&a).unwrap(), StaticKey::generate(&b).unwrap());
            let (dialer, listener) = tokio::time::timeout(LIMIT, async {
                tokio::join!(initiator(x, &a_key, Some(b.peer_id()), None), responder(y, &b_key, None))
            })
            .await
            .unwrap();
            let what = format!("{:?} dials {:?}", a.key_type(), b.key_type());
            assert_eq!(dialer.map(|(id, _)| id).expect(&what), b.peer_id(), "{what}");
            assert_eq!(listener.map(|(id, _)| id).expect(&what), a.peer_id(), "{what}");
        }
    }
}

/// Bad identity keys of each type, as libp2p protobufs: each must cost the
/// handshake with a reason, never a panic.
fn bad_identity_keys() -> Vec<(&'static str, Vec<u8>)> {
    let protobuf = |key_type: u8, data: &[u8]| {
        let mut out = vec![0x08, key_type, 0x12];
        let mut len = data.len();
        while len >= 0x80 {
            out.push(u8::try_from(len & 0x7f).unwrap() | 0x80);
            len >>= 7;
        }
        out.push(u8::try_from(len).unwrap());
        out.extend_from_slice(data);
        out
    };
    let [_, secp256k1, ecdsa, rsa] =
        identities().iter().map(|key| key.public().encode_protobuf()).collect::<Vec<_>>().try_into().unwrap();
    let mut secp_off_curve = secp256k1[4..].to_vec();
    secp_off_curve[1] ^= 0xff;
    let mut ecdsa_off_curve = ecdsa[4..].to_vec();
    let last = ecdsa_off_curve.len() - 1;
    ecdsa_off_curve[last] ^= 1;
    vec![
        ("unknown key type", vec![0x08, 0x09, 0x12, 0x01, 0x00]),
        ("ed25519 of 1 byte", vec![0x08, 0x01, 0x12, 0x01, 0x00]),
        ("secp256k1 point off the curve", protobuf(2, &secp_off_curve)),
        ("secp256k1 truncated", protobuf(2, &secp256k1[4..20])),
        ("ecdsa point off the curve", protobuf(3, &ecdsa_off_curve)),
        ("ecdsa truncated DER", protobuf(3, &ecdsa[4..50])),
        ("rsa truncated DER", protobuf(0, &rsa[5..300])),
        ("rsa of 16,384 bits", protobuf(0, &[0x30; 2100])),
    ]
}

#[tokio::test]
async fn a_bad_identity_key_of_each_type_is_refused_with_its_reason() {
    for (what, key) in bad_identity_keys() {
        let result = against_tampered_responder(|payload| payload.identity_key = Some(key.clone())).await;
        assert!(matches!(result, Err(Error::IdentityKey(_))), "{what}: {result:?}");
        let result = against_tampered_initiator(|payload| payload.identity_key = Some(key)).await;
        assert!(matches!(result, Err(Error::IdentityKey(_))), "{what}: {result:?}");
    }
}

#[tokio::test]
async fn a_key_of_each_type_under_another_keys_signature_is_refused() {
    for other in identities() {
        let claimed = other.public().encode_protobuf();
        let result = against_tampered_responder(|payload| payload.identity_key = Some(claimed)).await;
        assert!(
            matches!(&result, Err(Error::BadSignature { peer }) if *peer == other.peer_id()),
            "{:?}: {result:?}",
            other.key_type()
        );
    }
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
