//! The floodsub RPC as bytes: encode and decode, no I/O.
//!
//! Spec: `libp2p-pubsub.md`, "The RPC" and "The Message":
//!
//! ```text
//! message RPC     { repeated SubOpts subscriptions = 1; repeated Message publish = 2; }
//! message SubOpts { optional bool subscribe = 1; optional string topicid = 2; }
//! message Message { optional bytes from = 1; optional bytes data = 2; optional bytes seqno = 3;
//!                   repeated string topicIDs = 4; optional bytes signature = 5; optional bytes key = 6; }
//! ```
//!
//! Two choices keep messages intact across implementations: `from` is
//! decoded as bytes (it holds a binary peer id, whatever the spec's type
//! says), and each `Message` is kept as the raw bytes it arrived in. A
//! signature covers those bytes minus its own field, and a message is
//! forwarded exactly as received, so nothing is lost by decoding and
//! encoding again.

use prost::Message as _;

/// One subscription change.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SubOpts {
    #[prost(bool, optional, tag = "1")]
    pub(crate) subscribe: Option<bool>,
    #[prost(string, optional, tag = "2")]
    pub(crate) topic_id: Option<String>,
}

/// An RPC, with its messages left as raw bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Rpc {
    #[prost(message, repeated, tag = "1")]
    pub(crate) subscriptions: Vec<SubOpts>,
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub(crate) publish: Vec<Vec<u8>>,
}

/// A published message.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MessageProto {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) from: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) data: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub(crate) seqno: Option<Vec<u8>>,
    #[prost(string, repeated, tag = "4")]
    pub(crate) topic_ids: Vec<String>,
    #[prost(bytes = "vec", optional, tag = "5")]
    pub(crate) signature: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "6")]
    pub(crate) key: Option<Vec<u8>>,
}

impl Rpc {
    pub(crate) fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        <Self as prost::Message>::decode(bytes)
    }

    pub(crate) fn subscription(topic: &str, subscribe: bool) -> SubOpts {
        SubOpts { subscribe: Some(subscribe), topic_id: Some(topic.to_owned()) }
    }
}

/// The signature field's number.
pub(crate) const SIGNATURE_FIELD: u64 = 5;

/// `bytes` (a protobuf message) without every occurrence of top-level field
/// `field`, the rest byte for byte: what a message signature covers.
pub(crate) fn without_field(bytes: &[u8], field: u64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let (key, after_key) = strata_core::varint::decode(rest).ok()?;
        let value_len = match key & 0b111 {
            0 => {
                // varint: its bytes up to the one without the high bit
                after_key.iter().position(|b| b & 0x80 == 0)? + 1
            }
            1 => 8,
            2 => {
                let (len, after_len) = strata_core::varint::decode_len(after_key).ok()?;
                (after_key.len() - after_len.len()).checked_add(len)?
            }
            5 => 4,
            _ => return None, // groups (3, 4) and undefined types
        };
        let field_len = (rest.len() - after_key.len()).checked_add(value_len)?;
        let (whole, next) = (rest.get(..field_len)?, rest.get(field_len..)?);
        if key >> 3 != field {
            out.extend_from_slice(whole);
        }
        rest = next;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_removed_and_the_rest_kept_byte_for_byte() {
        let message = MessageProto {
            from: Some(vec![1, 2]),
            data: Some(b"hi".to_vec()),
            seqno: Some(vec![0; 8]),
            topic_ids: vec!["chat".into()],
            signature: Some(vec![9; 64]),
            key: None,
        };
        let mut unsigned = message.clone();
        unsigned.signature = None;
        assert_eq!(without_field(&message.encode_to_vec(), SIGNATURE_FIELD).unwrap(), unsigned.encode_to_vec());
        // Unknown fields stay (a varint field 7 and a fixed64 field 8).
        let mut extended = message.encode_to_vec();
        extended.extend_from_slice(&[0x38, 0x96, 0x01, 0x41, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut expected = unsigned.encode_to_vec();
        expected.extend_from_slice(&[0x38, 0x96, 0x01, 0x41, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(without_field(&extended, SIGNATURE_FIELD).unwrap(), expected);
    }

    #[test]
    fn malformed_protobufs_are_none() {
        for bad in [&[0x0a, 0x05, 1][..], &[0x0b], &[0x08], &[0xff; 12]] {
            assert_eq!(without_field(bad, SIGNATURE_FIELD), None, "{bad:?}");
        }
    }
}
