//! The pubsub RPC as bytes: encode and decode, no I/O.
//!
//! Spec: `libp2p-pubsub.md`, "The RPC" and "The Message":
//!
//! ```text
//! message RPC     { repeated SubOpts subscriptions = 1; repeated Message publish = 2;
//!                   optional ControlMessage control = 3;   // gossipsub only }
//! message SubOpts { optional bool subscribe = 1; optional string topicid = 2; }
//! message Message { optional bytes from = 1; optional bytes data = 2; optional bytes seqno = 3;
//!                   repeated string topicIDs = 4; optional bytes signature = 5; optional bytes key = 6; }
//! ```
//!
//! Three choices keep messages intact across implementations:
//!
//! - `from` is decoded as bytes (it holds a binary peer id, whatever type
//!   the spec's schema gives it);
//! - each `Message` stays the raw bytes it arrived in ([`Rpc::publish`]): a
//!   signature covers those bytes (minus two fields, see
//!   [`crate::signing`]) and a router forwards them unchanged, so nothing
//!   is lost by decoding and encoding again;
//! - gossipsub's `control` (field 3) is kept as raw bytes too, for the
//!   router that understands it; floodsub ignores it.
//!
//! Every decode is bounded by the caller's RPC size limit before any
//! allocation (the length prefix is checked by `core::framing`).

use prost::Message as _;

/// One subscription change, as sent on the wire.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SubOpts {
    /// `true` to subscribe, `false` (or absent) to unsubscribe.
    #[prost(bool, optional, tag = "1")]
    pub subscribe: Option<bool>,
    /// The topic.
    #[prost(string, optional, tag = "2")]
    pub topic_id: Option<String>,
}

/// An RPC, with its messages (and control part) left as raw bytes.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Rpc {
    /// Subscription changes.
    #[prost(message, repeated, tag = "1")]
    pub subscriptions: Vec<SubOpts>,
    /// Published messages, each the raw bytes of a `Message` protobuf.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub publish: Vec<Vec<u8>>,
    /// gossipsub's `ControlMessage`, raw (floodsub never sends it).
    #[prost(bytes = "vec", optional, tag = "3")]
    pub control: Option<Vec<u8>>,
}

/// A published message, decoded.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct MessageProto {
    /// The author's peer id (binary).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub from: Option<Vec<u8>>,
    /// The payload.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub data: Option<Vec<u8>>,
    /// The author's sequence number for it.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub seqno: Option<Vec<u8>>,
    /// The topics (one, in every implementation that exists).
    #[prost(string, repeated, tag = "4")]
    pub topic_ids: Vec<String>,
    /// The author's signature.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub signature: Option<Vec<u8>>,
    /// The author's public key (protobuf), when sent.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub key: Option<Vec<u8>>,
}

impl Rpc {
    /// An RPC announcing subscription changes only.
    pub fn subscriptions<'a>(changes: impl IntoIterator<Item = (&'a str, bool)>) -> Self {
        let subscriptions = changes
            .into_iter()
            .map(|(topic, subscribe)| SubOpts { subscribe: Some(subscribe), topic_id: Some(topic.to_owned()) })
            .collect();
        Self { subscriptions, ..Self::default() }
    }

    /// An RPC carrying messages only.
    pub fn messages(publish: Vec<Vec<u8>>) -> Self {
        Self { publish, ..Self::default() }
    }

    /// The wire bytes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes the bytes of one RPC (the length prefix already removed and
    /// checked against the caller's limit).
    pub fn decode(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        <Self as prost::Message>::decode(bytes)
    }
}

/// The `signature` field's number.
pub const SIGNATURE_FIELD: u64 = 5;
/// The `key` field's number.
pub const KEY_FIELD: u64 = 6;

/// `bytes` (a protobuf message) without every occurrence of the top-level
/// fields in `fields`, the rest byte for byte and in its order; `None` if
/// `bytes` is not a well-formed protobuf.
pub fn without_fields(bytes: &[u8], fields: &[u64]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    for field in strata_core::protobuf::fields(bytes) {
        let field = field.ok()?;
        if !fields.contains(&field.number) {
            out.extend_from_slice(field.raw);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn message() -> MessageProto {
        MessageProto {
            from: Some(vec![1, 2]),
            data: Some(b"hi".to_vec()),
            seqno: Some(vec![0; 8]),
            topic_ids: vec!["chat".into()],
            signature: Some(vec![9; 64]),
            key: Some(vec![7; 36]),
        }
    }

    #[test]
    fn fields_are_removed_and_the_rest_kept_byte_for_byte() {
        let mut unsigned = message();
        (unsigned.signature, unsigned.key) = (None, None);
        let removed = without_fields(&message().encode_to_vec(), &[SIGNATURE_FIELD, KEY_FIELD]).unwrap();
        assert_eq!(removed, unsigned.encode_to_vec());
        // Unknown fields stay (a varint field 7 and a fixed64 field 8).
        let unknown = [0x38, 0x96, 0x01, 0x41, 1, 2, 3, 4, 5, 6, 7, 8];
        let mut extended = message().encode_to_vec();
        extended.extend_from_slice(&unknown);
        let mut expected = unsigned.encode_to_vec();
        expected.extend_from_slice(&unknown);
        assert_eq!(without_fields(&extended, &[SIGNATURE_FIELD, KEY_FIELD]).unwrap(), expected);
    }

    #[test]
    fn malformed_protobufs_are_none() {
        for bad in [&[0x0a, 0x05, 1][..], &[0x0b], &[0x08], &[0xff; 12], &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]] {
            assert_eq!(without_fields(bad, &[SIGNATURE_FIELD]), None, "{bad:?}");
        }
    }

    #[test]
    fn control_is_kept_raw() {
        let rpc = Rpc { control: Some(vec![0x0a, 0x00]), ..Rpc::subscriptions([("t", true)]) };
        assert_eq!(Rpc::decode(&rpc.encode()).unwrap(), rpc);
    }
}
