//! gossipsub's control messages as bytes: the `control` field (3) of the
//! pubsub RPC, which `strata_pubsub::Rpc` keeps raw.
//!
//! Spec: `libp2p-gossipsub-v1.0.md` "Protobuf", `-v1.1.md` "PRUNE
//! Backoff and Peer Exchange", `-v1.2.md` "IDONTWANT Message":
//!
//! ```text
//! message ControlMessage { repeated ControlIHave ihave = 1; repeated ControlIWant iwant = 2;
//!                          repeated ControlGraft graft = 3; repeated ControlPrune prune = 4;
//!                          repeated ControlIDontWant idontwant = 5; }
//! message ControlIHave { optional string topicID = 1; repeated bytes messageIDs = 2; }
//! message ControlIWant { repeated bytes messageIDs = 1; }
//! message ControlGraft { optional string topicID = 1; }
//! message ControlPrune { optional string topicID = 1; repeated PeerInfo peers = 2;
//!                        optional uint64 backoff = 3; }   // seconds
//! message PeerInfo     { optional bytes peerID = 1; optional bytes signedPeerRecord = 2; }
//! message ControlIDontWant { repeated bytes messageIDs = 1; }
//! ```
//!
//! Decoding is bounded by the RPC's size limit (checked before it gets
//! here); the router bounds how much of a decoded message it acts on.

/// The control part of an RPC.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ControlMessage {
    /// "I have these messages" (gossip).
    #[prost(message, repeated, tag = "1")]
    pub ihave: Vec<ControlIHave>,
    /// "Send me these messages."
    #[prost(message, repeated, tag = "2")]
    pub iwant: Vec<ControlIWant>,
    /// "Add me to your mesh of this topic."
    #[prost(message, repeated, tag = "3")]
    pub graft: Vec<ControlGraft>,
    /// "I removed you from my mesh of this topic."
    #[prost(message, repeated, tag = "4")]
    pub prune: Vec<ControlPrune>,
    /// "Do not send me these messages" (v1.2).
    #[prost(message, repeated, tag = "5")]
    pub idontwant: Vec<ControlIDontWant>,
}

/// IHAVE: message ids of a topic the sender holds.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ControlIHave {
    /// The topic.
    #[prost(string, optional, tag = "1")]
    pub topic_id: Option<String>,
    /// The ids.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub message_ids: Vec<Vec<u8>>,
}

/// IWANT: message ids the sender asks for.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ControlIWant {
    /// The ids.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub message_ids: Vec<Vec<u8>>,
}

/// GRAFT: join the receiver's mesh of a topic.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ControlGraft {
    /// The topic.
    #[prost(string, optional, tag = "1")]
    pub topic_id: Option<String>,
}

/// PRUNE: the sender left (or refused) the mesh of a topic.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ControlPrune {
    /// The topic.
    #[prost(string, optional, tag = "1")]
    pub topic_id: Option<String>,
    /// Other peers of the topic (peer exchange, v1.1).
    #[prost(message, repeated, tag = "2")]
    pub peers: Vec<PeerInfo>,
    /// Seconds before the receiver may GRAFT again (v1.1).
    #[prost(uint64, optional, tag = "3")]
    pub backoff: Option<u64>,
}

/// A peer offered in peer exchange.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PeerInfo {
    /// Its peer id (binary).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub peer_id: Option<Vec<u8>>,
    /// Its signed peer record (an envelope), if the sender had one.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub signed_peer_record: Option<Vec<u8>>,
}

/// IDONTWANT: message ids the sender already has (v1.2).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ControlIDontWant {
    /// The ids.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub message_ids: Vec<Vec<u8>>,
}

impl ControlMessage {
    /// Whether it carries nothing.
    pub fn is_empty(&self) -> bool {
        self.ihave.is_empty()
            && self.iwant.is_empty()
            && self.graft.is_empty()
            && self.prune.is_empty()
            && self.idontwant.is_empty()
    }

    /// Decodes the raw `control` field of an RPC.
    pub fn decode(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        <Self as prost::Message>::decode(bytes)
    }

    /// The field's bytes.
    pub fn encode(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn graft_and_prune_bytes_follow_the_schema() {
        let graft = ControlMessage { graft: vec![ControlGraft { topic_id: Some("t".into()) }], ..Default::default() };
        // field 3 (graft), length 3: { field 1, length 1, "t" }
        assert_eq!(graft.encode(), [0x1a, 0x03, 0x0a, 0x01, b't']);
        let prune = ControlMessage {
            prune: vec![ControlPrune { topic_id: Some("t".into()), peers: vec![], backoff: Some(60) }],
            ..Default::default()
        };
        // field 4 (prune), length 5: { topic "t", field 3 varint 60 }
        assert_eq!(prune.encode(), [0x22, 0x05, 0x0a, 0x01, b't', 0x18, 60]);
        assert_eq!(ControlMessage::decode(&prune.encode()).unwrap(), prune);
    }

    #[test]
    fn idontwant_is_field_five() {
        let message =
            ControlMessage { idontwant: vec![ControlIDontWant { message_ids: vec![vec![7]] }], ..Default::default() };
        assert_eq!(message.encode(), [0x2a, 0x03, 0x0a, 0x01, 7]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&[0xff_u8][..], &[0x0a, 0x05, 1], &[0x22, 0x80]] {
            assert!(ControlMessage::decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
