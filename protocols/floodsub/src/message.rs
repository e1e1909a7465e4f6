//! Messages: publishing (origin-stamping and signing) and receiving
//! (checking against the signature policy). Pure functions.
//!
//! Spec: `libp2p-pubsub.md`, "Message Signing" and "Signature Policy
//! Options". A signed message carries `from` (the author's peer id),
//! `seqno` (unique per author), `signature` over
//!
//! ```text
//! "libp2p-pubsub:" ‖ the message's protobuf without its signature field
//! ```
//!
//! and `key` when the author's key is not inlined in its peer id (Ed25519
//! keys are, so strata leaves `key` out). A message is known by its
//! [`MessageId`]: `(from, seqno)` when origin-stamped, else a SHA-256 of
//! its topics and data.

use prost::Message as _;
use sha2::Digest as _;
use strata_core::{PeerId, PublicKey};

use crate::{
    SignaturePolicy,
    rpc::{self, MessageProto},
};

/// What a received message was refused for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not a valid `Message` protobuf.
    #[error("malformed message")]
    Malformed,
    /// No topic.
    #[error("a message without a topic")]
    NoTopic,
    /// The policy wants a signature and the message has none (or lacks
    /// `from` or `seqno`).
    #[error("unsigned message under a strict signing policy")]
    Unsigned,
    /// The policy forbids origin-stamping and signatures, and the message
    /// carries them.
    #[error("origin-stamped or signed message under StrictNoSign")]
    Stamped,
    /// `from` is not a peer id.
    #[error("invalid author peer id")]
    InvalidAuthor,
    /// The signing key is missing, invalid, or not the author's.
    #[error("invalid signing key")]
    InvalidKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
}

/// A message's identity, for the seen-cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(Vec<u8>);

/// A message received or published.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// Its author, when origin-stamped (not the peer that forwarded it).
    pub source: Option<PeerId>,
    /// The payload.
    pub data: Vec<u8>,
    /// The author's sequence number for it, when origin-stamped.
    pub seqno: Option<Vec<u8>>,
    /// The topics it was published to.
    pub topics: Vec<String>,
    /// Whether its signature was present and verified.
    pub signed: bool,
}

impl Message {
    /// Decodes one message as received (a `Message` protobuf) and checks it
    /// against `policy`, signature included; returns it and its id.
    pub fn decode(policy: SignaturePolicy, raw: &[u8]) -> Result<(Self, MessageId), MessageError> {
        receive(policy, raw)
    }

    /// The payload as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// The prefix of every signed message.
const SIGNING_PREFIX: &[u8] = b"libp2p-pubsub:";

fn id_of(from: Option<&[u8]>, seqno: Option<&[u8]>, topics: &[String], data: &[u8]) -> MessageId {
    if let (Some(from), Some(seqno)) = (from, seqno) {
        let mut id = Vec::with_capacity(from.len() + seqno.len() + 1);
        id.extend_from_slice(from);
        id.push(b'/');
        id.extend_from_slice(seqno);
        return MessageId(id);
    }
    let mut hasher = sha2::Sha256::new();
    for topic in topics {
        hasher.update((topic.len() as u64).to_be_bytes());
        hasher.update(topic.as_bytes());
    }
    hasher.update(data);
    MessageId(hasher.finalize().to_vec())
}

/// Builds the wire bytes of a message `author` publishes, signing with
/// `sign` (the author's key), and its id.
pub(crate) fn publish(
    policy: SignaturePolicy,
    author: PeerId,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
    seqno: u64,
    topic: &str,
    data: &[u8],
) -> (Vec<u8>, MessageId) {
    let mut proto =
        MessageProto { data: Some(data.to_vec()), topic_ids: vec![topic.to_owned()], ..MessageProto::default() };
    if policy != SignaturePolicy::StrictNoSign {
        proto.from = Some(author.to_bytes());
        proto.seqno = Some(seqno.to_be_bytes().to_vec());
        let unsigned = proto.encode_to_vec();
        proto.signature = Some(sign(&[SIGNING_PREFIX, &unsigned].concat()));
    }
    let id = id_of(proto.from.as_deref(), proto.seqno.as_deref(), &proto.topic_ids, data);
    (proto.encode_to_vec(), id)
}

/// Checks a received message against `policy`; returns it and its id.
pub(crate) fn receive(policy: SignaturePolicy, raw: &[u8]) -> Result<(Message, MessageId), MessageError> {
    let proto = MessageProto::decode(raw).map_err(|_| MessageError::Malformed)?;
    if proto.topic_ids.is_empty() {
        return Err(MessageError::NoTopic);
    }
    let stamped = proto.from.is_some() || proto.seqno.is_some();
    let signed = proto.signature.is_some();
    match policy {
        SignaturePolicy::StrictNoSign if stamped || signed || proto.key.is_some() => return Err(MessageError::Stamped),
        SignaturePolicy::StrictSign if !signed || proto.from.is_none() || proto.seqno.is_none() => {
            return Err(MessageError::Unsigned);
        }
        _ => {}
    }
    let source = proto.from.as_deref().map(PeerId::from_bytes).transpose().map_err(|_| MessageError::InvalidAuthor)?;
    if let Some(signature) = &proto.signature {
        let author = source.ok_or(MessageError::Unsigned)?;
        verify(raw, signature, author, proto.key.as_deref())?;
    }
    let data = proto.data.unwrap_or_default();
    let id = id_of(proto.from.as_deref(), proto.seqno.as_deref(), &proto.topic_ids, &data);
    Ok((Message { source, data, seqno: proto.seqno, topics: proto.topic_ids, signed }, id))
}

fn verify(raw: &[u8], signature: &[u8], author: PeerId, key: Option<&[u8]>) -> Result<(), MessageError> {
    let key = match key {
        Some(key) => {
            let key = PublicKey::decode_protobuf(key).map_err(|_| MessageError::InvalidKey)?;
            if key.to_peer_id() != author {
                return Err(MessageError::InvalidKey);
            }
            key
        }
        None => author.extract_public_key().ok_or(MessageError::InvalidKey)?,
    };
    let unsigned = rpc::without_field(raw, rpc::SIGNATURE_FIELD).ok_or(MessageError::Malformed)?;
    if key.verify(&[SIGNING_PREFIX, &unsigned].concat(), signature) { Ok(()) } else { Err(MessageError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use strata_core::Keypair;

    use super::*;

    fn decode(raw: &[u8]) -> MessageProto {
        MessageProto::decode(raw).unwrap()
    }

    fn publish(policy: SignaturePolicy, key: &Keypair, seqno: u64, topic: &str, data: &[u8]) -> (Vec<u8>, MessageId) {
        super::publish(policy, key.peer_id(), |bytes| key.sign(bytes), seqno, topic, data)
    }

    #[test]
    fn signed_messages_verify_and_name_their_author() {
        let key = Keypair::ed25519_from_secret([1; 32]);
        let (raw, id) = publish(SignaturePolicy::StrictSign, &key, 7, "chat", b"hi");
        let (message, received_id) = receive(SignaturePolicy::StrictSign, &raw).unwrap();
        assert_eq!(id, received_id);
        assert_eq!(message.source, Some(key.peer_id()));
        assert_eq!(message.seqno, Some(7u64.to_be_bytes().to_vec()));
        assert_eq!((message.text(), message.topics.clone(), message.signed), ("hi".into(), vec!["chat".into()], true));
        assert!(decode(&raw).key.is_none(), "an Ed25519 key is inlined in the peer id");
    }

    #[test]
    fn tampered_data_is_refused_under_every_verifying_policy() {
        let key = Keypair::ed25519_from_secret([1; 32]);
        let (raw, _) = publish(SignaturePolicy::StrictSign, &key, 1, "chat", b"hi");
        let mut proto = decode(&raw);
        proto.data = Some(b"ho".to_vec());
        let tampered = proto.encode_to_vec();
        for policy in [SignaturePolicy::StrictSign, SignaturePolicy::Lax] {
            assert_eq!(receive(policy, &tampered).unwrap_err(), MessageError::BadSignature);
        }
    }

    #[test]
    fn a_wrong_key_is_refused() {
        let (author, other) = (Keypair::ed25519_from_secret([1; 32]), Keypair::ed25519_from_secret([2; 32]));
        let (raw, _) = publish(SignaturePolicy::StrictSign, &author, 1, "chat", b"hi");
        // A key field naming someone else.
        let mut proto = decode(&raw);
        proto.key = Some(other.public().encode_protobuf());
        assert_eq!(receive(SignaturePolicy::StrictSign, &proto.encode_to_vec()).unwrap_err(), MessageError::InvalidKey);
        // Signed by someone else than `from`.
        let mut forged = decode(&raw);
        forged.signature = None;
        let unsigned = forged.encode_to_vec();
        forged.signature = Some(other.sign(&[SIGNING_PREFIX, &unsigned].concat()));
        assert_eq!(
            receive(SignaturePolicy::StrictSign, &forged.encode_to_vec()).unwrap_err(),
            MessageError::BadSignature
        );
    }

    #[test]
    fn missing_signatures_under_each_policy() {
        let key = Keypair::ed25519_from_secret([1; 32]);
        let (raw, _) = publish(SignaturePolicy::StrictSign, &key, 1, "chat", b"hi");
        let mut unsigned = decode(&raw);
        unsigned.signature = None;
        let unsigned = unsigned.encode_to_vec(); // what rust-libp2p's floodsub sends
        assert_eq!(receive(SignaturePolicy::StrictSign, &unsigned).unwrap_err(), MessageError::Unsigned);
        let (message, _) = receive(SignaturePolicy::Lax, &unsigned).unwrap();
        assert!(!message.signed);
        assert_eq!(receive(SignaturePolicy::StrictNoSign, &unsigned).unwrap_err(), MessageError::Stamped);
        assert_eq!(receive(SignaturePolicy::StrictNoSign, &raw).unwrap_err(), MessageError::Stamped);
    }

    #[test]
    fn strict_no_sign_messages_have_no_stamp_and_a_content_id() {
        let key = Keypair::ed25519_from_secret([1; 32]);
        let (raw, id) = publish(SignaturePolicy::StrictNoSign, &key, 1, "chat", b"hi");
        let proto = decode(&raw);
        assert!(proto.from.is_none() && proto.seqno.is_none() && proto.signature.is_none() && proto.key.is_none());
        let (message, received) = receive(SignaturePolicy::StrictNoSign, &raw).unwrap();
        assert_eq!((message.source, received), (None, id));
        assert_eq!(receive(SignaturePolicy::StrictSign, &raw).unwrap_err(), MessageError::Unsigned);
        assert!(receive(SignaturePolicy::Lax, &raw).is_ok(), "lax accepts unstamped messages too");
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert_eq!(receive(SignaturePolicy::Lax, &[0xff, 0xff]).unwrap_err(), MessageError::Malformed);
        let no_topic = MessageProto { data: Some(b"x".to_vec()), ..MessageProto::default() }.encode_to_vec();
        assert_eq!(receive(SignaturePolicy::Lax, &no_topic).unwrap_err(), MessageError::NoTopic);
        let bad_author =
            MessageProto { from: Some(vec![1, 2, 3]), topic_ids: vec!["t".into()], ..MessageProto::default() };
        assert_eq!(
            receive(SignaturePolicy::Lax, &bad_author.encode_to_vec()).unwrap_err(),
            MessageError::InvalidAuthor
        );
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// A message id for tests.
    pub(crate) fn id(n: u8) -> super::MessageId {
        super::MessageId(vec![n])
    }
}
