//! The three signature policies, the payload limit and message ids.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use prost::Message as _;
use strata_core::Keypair;
use strata_pubsub::{
    MessageError, MessageId, MessageIdFn, SignatureError, SignaturePolicy,
    message::{publish, receive},
    rpc::MessageProto,
};

fn decode(raw: &[u8]) -> MessageProto {
    MessageProto::decode(raw).unwrap()
}

fn signed(key: &Keypair, seqno: u64, data: &[u8]) -> Vec<u8> {
    publish(SignaturePolicy::StrictSign, &key.public(), |bytes| key.sign(bytes), seqno, "chat", data).0
}

const MAX: usize = 1 << 20;

#[test]
fn signed_messages_verify_and_name_their_author() {
    let key = Keypair::ed25519_from_secret([1; 32]);
    let (raw, sent) = publish(SignaturePolicy::StrictSign, &key.public(), |b| key.sign(b), 7, "chat", b"hi");
    let message = receive(SignaturePolicy::StrictSign, MAX, &raw).unwrap();
    assert_eq!(message, sent);
    assert_eq!(message.source, Some(key.peer_id()));
    assert_eq!(message.seqno, Some(7u64.to_be_bytes().to_vec()));
    assert_eq!((message.text(), message.topics.clone(), message.signed), ("hi".into(), vec!["chat".into()], true));
    assert!(decode(&raw).key.is_none(), "an Ed25519 key is inlined in the peer id");
}

/// An author of each key type: the message carries `key` exactly when the
/// peer id cannot inline it (ECDSA and RSA peer ids are hashes), and a
/// copy with its key stripped, or with another key in its place, is
/// refused.
#[test]
fn authors_of_every_key_type_sign_and_carry_their_key_when_it_is_not_inlined() {
    let rsa = hex::decode(include_str!("../../../core/tests/vectors/rsa_private_key.hex").trim()).unwrap();
    let authors = [
        (Keypair::ed25519_from_secret([1; 32]), false),
        (Keypair::generate_secp256k1(), false),
        (Keypair::generate_ecdsa(), true),
        (Keypair::from_protobuf_encoding(&rsa).unwrap(), true),
    ];
    for (key, carries_key) in &authors {
        let what = key.key_type();
        let raw = signed(key, 3, b"typed");
        let message = receive(SignaturePolicy::StrictSign, MAX, &raw).unwrap();
        assert_eq!((message.source, message.signed), (Some(key.peer_id()), true), "{what:?}");
        let proto = decode(&raw);
        assert_eq!(proto.key.is_some(), *carries_key, "{what:?}");
        if *carries_key {
            let mut stripped = proto.clone();
            stripped.key = None;
            let refused = receive(SignaturePolicy::StrictSign, MAX, &stripped.encode_to_vec());
            assert!(
                matches!(refused, Err(MessageError::Signature(SignatureError::InvalidKey))),
                "{what:?}: {refused:?}"
            );
            let mut swapped = proto;
            swapped.key = Some(Keypair::generate_ecdsa().public().encode_protobuf());
            let refused = receive(SignaturePolicy::StrictSign, MAX, &swapped.encode_to_vec());
            assert!(
                matches!(refused, Err(MessageError::Signature(SignatureError::InvalidKey))),
                "{what:?}: {refused:?}"
            );
        }
    }
}

#[test]
fn tampered_data_is_refused_under_every_verifying_policy() {
    let key = Keypair::ed25519_from_secret([1; 32]);
    let mut proto = decode(&signed(&key, 1, b"hi"));
    proto.data = Some(b"ho".to_vec());
    let tampered = proto.encode_to_vec();
    for policy in [SignaturePolicy::StrictSign, SignaturePolicy::Lax] {
        assert_eq!(receive(policy, MAX, &tampered), Err(MessageError::Signature(SignatureError::BadSignature)));
    }
}

#[test]
fn missing_signatures_under_each_policy() {
    let key = Keypair::ed25519_from_secret([1; 32]);
    let raw = signed(&key, 1, b"hi");
    let mut unsigned = decode(&raw);
    unsigned.signature = None;
    let unsigned = unsigned.encode_to_vec(); // what rust-libp2p's floodsub sends
    assert_eq!(receive(SignaturePolicy::StrictSign, MAX, &unsigned), Err(MessageError::Unsigned));
    assert!(!receive(SignaturePolicy::Lax, MAX, &unsigned).unwrap().signed);
    assert_eq!(receive(SignaturePolicy::StrictNoSign, MAX, &unsigned), Err(MessageError::Stamped));
    assert_eq!(receive(SignaturePolicy::StrictNoSign, MAX, &raw), Err(MessageError::Stamped));
}

#[test]
fn strict_no_sign_messages_have_no_stamp() {
    let key = Keypair::ed25519_from_secret([1; 32]);
    let (raw, sent) = publish(SignaturePolicy::StrictNoSign, &key.public(), |b| key.sign(b), 1, "chat", b"hi");
    let proto = decode(&raw);
    assert!(proto.from.is_none() && proto.seqno.is_none() && proto.signature.is_none() && proto.key.is_none());
    assert_eq!(receive(SignaturePolicy::StrictNoSign, MAX, &raw).unwrap(), sent);
    assert_eq!(receive(SignaturePolicy::StrictSign, MAX, &raw), Err(MessageError::Unsigned));
    assert!(receive(SignaturePolicy::Lax, MAX, &raw).is_ok(), "lax accepts unstamped messages too");
}

#[test]
fn malformed_and_oversized_messages_are_refused() {
    assert_eq!(receive(SignaturePolicy::Lax, MAX, &[0xff, 0xff]), Err(MessageError::Malformed));
    let no_topic = MessageProto { data: Some(b"x".to_vec()), ..MessageProto::default() }.encode_to_vec();
    assert_eq!(receive(SignaturePolicy::Lax, MAX, &no_topic), Err(MessageError::NoTopic));
    let bad_author = MessageProto { from: Some(vec![1, 2, 3]), topic_ids: vec!["t".into()], ..MessageProto::default() };
    assert_eq!(receive(SignaturePolicy::Lax, MAX, &bad_author.encode_to_vec()), Err(MessageError::InvalidAuthor));
    let key = Keypair::ed25519_from_secret([1; 32]);
    assert_eq!(
        receive(SignaturePolicy::StrictSign, 1, &signed(&key, 1, b"hi")),
        Err(MessageError::TooLarge { len: 2, max: 1 })
    );
}

#[test]
fn default_ids_are_from_then_seqno_or_a_data_hash() {
    let key = Keypair::ed25519_from_secret([1; 32]);
    let message = receive(SignaturePolicy::StrictSign, MAX, &signed(&key, 5, b"hi")).unwrap();
    let expected = [key.peer_id().to_bytes(), 5u64.to_be_bytes().to_vec()].concat();
    assert_eq!(MessageIdFn::default().id(&message), MessageId::new(expected));
    let (_, anonymous) = publish(SignaturePolicy::StrictNoSign, &key.public(), |b| key.sign(b), 5, "chat", b"hi");
    let hash = hex::decode("8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4").unwrap();
    assert_eq!(MessageIdFn::default().id(&anonymous), MessageId::new(hash), "SHA-256 of \"hi\"");
    let custom = MessageIdFn::new(|message| MessageId::new(message.data.clone()));
    assert_eq!(custom.id(&anonymous).as_bytes(), b"hi");
}
