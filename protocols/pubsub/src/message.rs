//! Messages: publishing (origin-stamping and signing) and receiving
//! (checking against the signature policy), and message ids. Pure
//! functions, no I/O.
//!
//! Spec: `libp2p-pubsub.md`, "The Message", "Message Identification" and
//! "Message Signing" (the signing rule itself is in [`crate::signing`]).
//!
//! ```text
//! publish: data, topic ─▶ MessageProto { from, data, seqno, topic } ─▶ sign ─▶ raw bytes + MessageId
//! receive: raw bytes ─▶ decode ─▶ policy (StrictSign / Lax / StrictNoSign) ─▶ verify ─▶ Message + MessageId
//! ```
//!
//! A message is known by its [`MessageId`]. The default
//! ([`MessageIdFn::default`]) is go-libp2p-pubsub's: the bytes of `from`
//! followed by the bytes of `seqno`; a message without them (`StrictNoSign`)
//! is known by the SHA-256 of its data, as js-libp2p does. Routers that
//! must agree on ids with a network using another rule plug in their own.

use std::sync::Arc;

use prost::Message as _;
use sha2::Digest as _;
use strata_core::{KeyType, PeerId, PublicKey};

use crate::{
    SignaturePolicy,
    rpc::MessageProto,
    signing::{self, SignatureError},
};

/// The longest `seqno` accepted, in bytes. Every implementation sends 8
/// (js-libp2p fewer, when the leading bytes are zero); the limit keeps the
/// message id, which a peer chooses, small.
pub const MAX_SEQNO_LEN: usize = 32;

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
    /// `seqno` is longer than [`MAX_SEQNO_LEN`].
    #[error("a sequence number of {0} bytes")]
    SeqnoTooLong(usize),
    /// The payload is larger than the configured limit.
    #[error("a payload of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The signature, or the key it is checked with, is wrong.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// A message's identity, for the seen-cache and gossip.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(Vec<u8>);

impl MessageId {
    /// An id from its bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

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
    /// The payload as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// How a message's id is computed. Cheap to clone.
#[derive(Clone)]
pub struct MessageIdFn(Arc<dyn Fn(&Message) -> MessageId + Send + Sync>);

impl MessageIdFn {
    /// A custom rule.
    pub fn new(rule: impl Fn(&Message) -> MessageId + Send + Sync + 'static) -> Self {
        Self(Arc::new(rule))
    }

    /// The id of `message`.
    pub fn id(&self, message: &Message) -> MessageId {
        (self.0)(message)
    }
}

impl Default for MessageIdFn {
    /// `from ‖ seqno` (go-libp2p-pubsub's default); SHA-256 of the data
    /// when the message is not origin-stamped.
    fn default() -> Self {
        Self::new(|message| match (&message.source, &message.seqno) {
            (Some(from), Some(seqno)) => MessageId([from.as_bytes(), seqno].concat()),
            _ => MessageId(sha2::Sha256::digest(&message.data).to_vec()),
        })
    }
}

impl std::fmt::Debug for MessageIdFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageIdFn")
    }
}

/// Builds the wire bytes of a message the owner of `author` publishes to
/// `topic`, origin-stamped with `seqno` and signed with `sign` (by the
/// author's key) unless the policy is [`SignaturePolicy::StrictNoSign`];
/// returns them and the message.
///
/// A signed message carries the author's key in `key` when `from` cannot
/// inline it (RSA and ECDSA keys, whose peer ids are hashes), as every
/// implementation does; Ed25519 and secp256k1 authors send no `key`.
pub fn publish(
    policy: SignaturePolicy,
    author: &PublicKey,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
    seqno: u64,
    topic: &str,
    data: &[u8],
) -> (Vec<u8>, Message) {
    let mut proto =
        MessageProto { data: Some(data.to_vec()), topic_ids: vec![topic.to_owned()], ..MessageProto::default() };
    let author_key = author;
    let author = author_key.to_peer_id();
    if policy != SignaturePolicy::StrictNoSign {
        proto.from = Some(author.to_bytes());
        proto.seqno = Some(seqno.to_be_bytes().to_vec());
        proto.signature = Some(sign(&signing::signed_bytes(&proto.encode_to_vec())));
        // RSA and ECDSA keys encode to more than 42 bytes: their peer ids
        // are hashes, and a verifier needs the key itself.
        if matches!(author_key.key_type(), KeyType::Rsa | KeyType::Ecdsa) {
            proto.key = Some(author_key.encode_protobuf());
        }
    }
    let signed = proto.signature.is_some();
    let raw = proto.encode_to_vec();
    let source = proto.from.is_some().then_some(author);
    let message = Message { source, data: data.to_vec(), seqno: proto.seqno, topics: proto.topic_ids, signed };
    (raw, message)
}

/// Decodes a received message (the raw bytes of a `Message` protobuf) and
/// checks it against `policy` and the payload limit `max_data_len`,
/// signature included.
pub fn receive(policy: SignaturePolicy, max_data_len: usize, raw: &[u8]) -> Result<Message, MessageError> {
    decode(policy, max_data_len, raw)?.verify(raw)
}

/// A decoded message whose signature is not checked yet: routers look its
/// id up in the seen-cache first, so that a duplicate costs no signature
/// check.
#[derive(Debug)]
pub struct Unverified {
    message: Message,
    signature: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
}

impl Unverified {
    /// The message, as decoded.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Checks the signature (if the message carries one) over `raw`, the
    /// bytes it was decoded from.
    pub fn verify(self, raw: &[u8]) -> Result<Message, MessageError> {
        if let Some(signature) = &self.signature {
            let author = self.message.source.ok_or(MessageError::Unsigned)?;
            signing::verify(raw, signature, author, self.key.as_deref())?;
        }
        Ok(self.message)
    }
}

/// Decodes a received message and checks everything but its signature:
/// the policy, the topic, the sizes and the author. See [`receive`].
pub fn decode(policy: SignaturePolicy, max_data_len: usize, raw: &[u8]) -> Result<Unverified, MessageError> {
    let proto = MessageProto::decode(raw).map_err(|_| MessageError::Malformed)?;
    if proto.topic_ids.is_empty() {
        return Err(MessageError::NoTopic);
    }
    let data = proto.data.unwrap_or_default();
    if data.len() > max_data_len {
        return Err(MessageError::TooLarge { len: data.len(), max: max_data_len });
    }
    if let Some(seqno) = &proto.seqno
        && seqno.len() > MAX_SEQNO_LEN
    {
        return Err(MessageError::SeqnoTooLong(seqno.len()));
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
    let message = Message { source, data, seqno: proto.seqno, topics: proto.topic_ids, signed };
    Ok(Unverified { message, signature: proto.signature, key: proto.key })
}
