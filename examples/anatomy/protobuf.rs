//! Protobuf messages shown field by field: the bytes of each field's key
//! and length, its value, and what the value means.
//!
//! The walk is `strata_core::protobuf::fields`; the schemas below name the
//! fields of the messages libp2p sends (Noise's handshake payload,
//! identify, pubsub's RPC), from the specs' `.proto` definitions.

use strata::{
    Multiaddr, PeerId, PublicKey,
    core::protobuf::{Value, fields},
};

use crate::wire::{hex, quoted, short};

/// What a field's value is, for showing it.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// Opaque bytes.
    Bytes,
    /// UTF-8 text.
    Text,
    /// A number.
    Number,
    /// A `KeyType` enum value.
    KeyType,
    /// A boolean.
    Bool,
    /// A binary multiaddr.
    Multiaddr,
    /// A peer id's bytes.
    PeerId,
    /// A `PublicKey` protobuf.
    Key,
    /// A nested message.
    Message(&'static Schema),
}

/// A message's fields: number, name, shape.
pub(crate) type Schema = [(u64, &'static str, Shape)];

/// `PublicKey` (`libp2p-peer-ids.md`, "Keys").
pub(crate) const PUBLIC_KEY: &Schema = &[(1, "Type", Shape::KeyType), (2, "Data", Shape::Bytes)];

/// `NoiseHandshakePayload` (`libp2p-noise.md`, "The libp2p Handshake Payload").
pub(crate) const NOISE_PAYLOAD: &Schema = &[
    (1, "identity_key", Shape::Key),
    (2, "identity_sig", Shape::Bytes),
    (
        4,
        "extensions",
        Shape::Message(&[(1, "webtransport_certhashes", Shape::Bytes), (2, "stream_muxers", Shape::Text)]),
    ),
];

/// `Identify` (`libp2p-identify.md`, "The Identify Message").
pub(crate) const IDENTIFY: &Schema = &[
    (1, "publicKey", Shape::Key),
    (2, "listenAddrs", Shape::Multiaddr),
    (3, "protocols", Shape::Text),
    (4, "observedAddr", Shape::Multiaddr),
    (5, "protocolVersion", Shape::Text),
    (6, "agentVersion", Shape::Text),
    (8, "signedPeerRecord", Shape::Bytes),
];

const SUB_OPTS: &Schema = &[(1, "subscribe", Shape::Bool), (2, "topicid", Shape::Text)];

/// pubsub's `Message` (`libp2p-pubsub.md`, "The Message").
pub(crate) const PUBSUB_MESSAGE: &Schema = &[
    (1, "from", Shape::PeerId),
    (2, "data", Shape::Text),
    (3, "seqno", Shape::Bytes),
    (4, "topic", Shape::Text),
    (5, "signature", Shape::Bytes),
    (6, "key", Shape::Key),
];

const CONTROL: &Schema = &[
    (1, "ihave", Shape::Message(&[(1, "topicID", Shape::Text), (2, "messageIDs", Shape::Bytes)])),
    (2, "iwant", Shape::Message(&[(1, "messageIDs", Shape::Bytes)])),
    (3, "graft", Shape::Message(&[(1, "topicID", Shape::Text)])),
    (4, "prune", Shape::Message(&[(1, "topicID", Shape::Text), (3, "backoff", Shape::Number)])),
    (5, "idontwant", Shape::Message(&[(1, "messageIDs", Shape::Bytes)])),
];

/// pubsub's `RPC` (`libp2p-pubsub.md`, "The RPC"; control from gossipsub).
pub(crate) const RPC: &Schema = &[
    (1, "subscriptions", Shape::Message(SUB_OPTS)),
    (2, "publish", Shape::Message(PUBSUB_MESSAGE)),
    (3, "control", Shape::Message(CONTROL)),
];

/// One line per field of `message` (nested messages indented below
/// theirs): `number name: key+length  value  = meaning`.
pub(crate) fn show(message: &[u8], schema: &Schema, indent: usize, raw: bool) -> Vec<String> {
    let pad = "  ".repeat(indent);
    let mut lines = Vec::new();
    for field in fields(message) {
        let Ok(field) = field else {
            lines.push(format!("{pad}(malformed from here: {})", short(message, raw)));
            break;
        };
        let (name, shape) = schema
            .iter()
            .find(|(number, _, _)| *number == field.number)
            .map_or(("(unknown)", Shape::Bytes), |(_, name, shape)| (*name, *shape));
        let value_bytes = match field.value {
            Value::Bytes(bytes) => bytes,
            _ => &[],
        };
        let prefix = &field.raw[..field.raw.len() - value_bytes.len()];
        let head = format!("{pad}{} {name}: {}", field.number, hex(prefix));
        match (field.value, shape) {
            (Value::Varint(value), Shape::Bool) => lines.push(format!("{head}  = {}", value != 0)),
            (Value::Varint(value), Shape::KeyType) => {
                let name = ["RSA", "Ed25519", "Secp256k1", "ECDSA"].get(usize::try_from(value).unwrap_or(usize::MAX));
                lines.push(format!("{head}  = {value} ({})", name.unwrap_or(&"unknown")));
            }
            (Value::Varint(value) | Value::Fixed64(value), _) => lines.push(format!("{head}  = {value}")),
            (Value::Bytes(bytes), Shape::Message(inner)) => {
                lines.push(format!("{head}  ({} bytes, a message:)", bytes.len()));
                lines.extend(show(bytes, inner, indent + 1, raw));
            }
            (Value::Bytes(bytes), Shape::Key) => {
                lines.push(format!("{head} {}  = {}", short(bytes, raw), key_meaning(bytes)));
                lines.extend(show(bytes, PUBLIC_KEY, indent + 1, raw));
            }
            (Value::Bytes(bytes), shape) => {
                lines.push(format!("{head} {}  = {}", short(bytes, raw), meaning(bytes, shape)));
            }
            (Value::Fixed32(value), _) => lines.push(format!("{head}  = {value}")),
        }
    }
    lines
}

/// The value of a length-delimited field, for humans.
fn meaning(bytes: &[u8], shape: Shape) -> String {
    match shape {
        Shape::Text => quoted(bytes),
        Shape::Multiaddr => {
            Multiaddr::from_bytes(bytes).map_or_else(|_| "not a multiaddr".to_owned(), |addr| addr.to_string())
        }
        Shape::PeerId => {
            PeerId::from_bytes(bytes).map_or_else(|_| "not a peer id".to_owned(), |peer| format!("peer {peer}"))
        }
        _ => format!("{} bytes", bytes.len()),
    }
}

/// A `PublicKey` protobuf, for humans.
pub(crate) fn key_meaning(bytes: &[u8]) -> String {
    PublicKey::decode_protobuf(bytes).map_or_else(
        |_| "not a key strata reads".to_owned(),
        |key| format!("{:?} key of peer {}", key.key_type(), key.to_peer_id()),
    )
}

/// The bytes of field `number` (the first one), if it is length-delimited.
pub(crate) fn field(message: &[u8], number: u64) -> Option<&[u8]> {
    fields(message).filter_map(Result::ok).find(|field| field.number == number).and_then(|field| match field.value {
        Value::Bytes(bytes) => Some(bytes),
        _ => None,
    })
}
