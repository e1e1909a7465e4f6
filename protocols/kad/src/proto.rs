//! The wire messages of `/ipfs/kad/1.0.0` (`libp2p-kad-dht.md`, "RPC
//! messages"): one protobuf `Message` per request and per response, each
//! varint-length-prefixed on the stream. Decoding is bounded: the caller's
//! size limit, then at most [`MAX_PEERS`] peers per list and
//! [`MAX_ADDRS`] addresses per peer, addresses that do not parse dropped.

use prost::Message as _;
use strata_core::{Multiaddr, PeerId};

/// The most peers read from one `closerPeers` or `providerPeers` list.
pub const MAX_PEERS: usize = 64;
/// The most addresses read for one peer.
pub const MAX_ADDRS: usize = 32;

/// `Message.MessageType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MessageType {
    /// Store a record.
    PutValue = 0,
    /// Fetch a record.
    GetValue = 1,
    /// Register as a provider.
    AddProvider = 2,
    /// Fetch providers.
    GetProviders = 3,
    /// Fetch the closest peers.
    FindNode = 4,
    /// Deprecated; answered, never sent.
    Ping = 5,
}

/// `Message.ConnectionType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ConnectionType {
    /// No connection, nothing known (the default).
    NotConnected = 0,
    /// Connected now.
    Connected = 1,
    /// Connected recently.
    CanConnect = 2,
    /// Tried hard and failed.
    CannotConnect = 3,
}

/// `Record`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct RecordProto {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    /// When the receiver got it (RFC 3339), set by the receiver.
    #[prost(string, tag = "5")]
    pub time_received: String,
}

/// `Message.Peer`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PeerProto {
    /// The peer id's bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub id: Vec<u8>,
    /// Its multiaddrs' bytes.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub addrs: Vec<Vec<u8>>,
    /// What the sender knows of reaching it.
    #[prost(enumeration = "ConnectionType", tag = "3")]
    pub connection: i32,
}

/// `Message`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct MessageProto {
    /// The message type.
    #[prost(enumeration = "MessageType", tag = "1")]
    pub r#type: i32,
    /// Not used (Coral cluster levels).
    #[prost(int32, tag = "10")]
    pub cluster_level_raw: i32,
    /// The key asked about.
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
    /// A record (`PUT_VALUE`, `GET_VALUE`).
    #[prost(message, optional, tag = "3")]
    pub record: Option<RecordProto>,
    /// Peers closer to the key.
    #[prost(message, repeated, tag = "8")]
    pub closer_peers: Vec<PeerProto>,
    /// Providers of the key.
    #[prost(message, repeated, tag = "9")]
    pub provider_peers: Vec<PeerProto>,
}

/// A peer in a message, checked: a valid id, parsed addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KadPeer {
    /// Its id.
    pub id: PeerId,
    /// Its addresses (without `/p2p/`).
    pub addrs: Vec<Multiaddr>,
    /// What the sender knows of reaching it.
    pub connection: ConnectionType,
}

/// A record: a key and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The key (any bytes).
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

/// A message, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// What it is.
    pub kind: MessageType,
    /// The key it is about.
    pub key: Vec<u8>,
    /// A record (`PUT_VALUE`, `GET_VALUE`).
    pub record: Option<Record>,
    /// Peers closer to the key.
    pub closer_peers: Vec<KadPeer>,
    /// Providers of the key.
    pub provider_peers: Vec<KadPeer>,
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not a valid `Message` protobuf.
    #[error("malformed kad message")]
    Malformed,
    /// An unknown message type.
    #[error("unknown message type {0}")]
    UnknownType(i32),
}

impl Message {
    /// A request of `kind` about `key`.
    pub fn request(kind: MessageType, key: Vec<u8>) -> Self {
        Self { kind, key, record: None, closer_peers: Vec::new(), provider_peers: Vec::new() }
    }

    /// The protobuf bytes.
    pub fn encode(&self) -> Vec<u8> {
        let peers = |peers: &[KadPeer]| {
            peers
                .iter()
                .map(|peer| PeerProto {
                    id: peer.id.to_bytes(),
                    addrs: peer.addrs.iter().map(Multiaddr::to_vec).collect(),
                    connection: peer.connection as i32,
                })
                .collect()
        };
        MessageProto {
            r#type: self.kind as i32,
            cluster_level_raw: 0,
            key: self.key.clone(),
            record: self.record.as_ref().map(|record| RecordProto {
                key: record.key.clone(),
                value: record.value.clone(),
                time_received: String::new(),
            }),
            closer_peers: peers(&self.closer_peers),
            provider_peers: peers(&self.provider_peers),
        }
        .encode_to_vec()
    }

    /// Reads a message (its size already bounded by the caller): peers
    /// with invalid ids are dropped, lists and addresses cut to the limits.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let proto = MessageProto::decode(bytes).map_err(|_| MessageError::Malformed)?;
        let kind = MessageType::try_from(proto.r#type).map_err(|_| MessageError::UnknownType(proto.r#type))?;
        Ok(Self {
            kind,
            key: proto.key,
            record: proto.record.map(|record| Record { key: record.key, value: record.value }),
            closer_peers: checked_peers(proto.closer_peers),
            provider_peers: checked_peers(proto.provider_peers),
        })
    }
}

fn checked_peers(peers: Vec<PeerProto>) -> Vec<KadPeer> {
    peers
        .into_iter()
        .take(MAX_PEERS)
        .filter_map(|peer| {
            let id = PeerId::from_bytes(&peer.id).ok()?;
            let addrs = peer
                .addrs
                .iter()
                .take(MAX_ADDRS)
                .filter_map(|bytes| Multiaddr::from_bytes(bytes).ok())
                .map(|addr| addr.without_peer_id())
                .collect();
            let connection = ConnectionType::try_from(peer.connection).unwrap_or(ConnectionType::NotConnected);
            Some(KadPeer { id, addrs, connection })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_find_node_request_is_type_4_and_the_key() {
        let peer = PeerId::random();
        let bytes = Message::request(MessageType::FindNode, peer.to_bytes()).encode();
        let mut expected = vec![0x08, 0x04, 0x12, 38];
        expected.extend(peer.to_bytes());
        assert_eq!(bytes, expected, "field 1 varint 4, field 2 length-delimited");
        assert_eq!(Message::decode(&bytes).unwrap(), Message::request(MessageType::FindNode, peer.to_bytes()));
    }

    #[test]
    fn a_put_value_round_trips_and_type_zero_is_not_written() {
        let message = Message {
            record: Some(Record { key: b"k".to_vec(), value: b"v".to_vec() }),
            ..Message::request(MessageType::PutValue, b"k".to_vec())
        };
        let bytes = message.encode();
        assert_eq!(&bytes[..3], &[0x12, 1, b'k'], "PUT_VALUE is 0: proto3 default, not encoded");
        assert_eq!(Message::decode(&bytes).unwrap(), message);
    }

    #[test]
    fn peers_are_checked_and_bounded() {
        let good = PeerProto {
            id: PeerId::random().to_bytes(),
            addrs: vec!["/ip4/1.2.3.4/tcp/1".parse::<Multiaddr>().unwrap().to_vec(), vec![0xff, 0xff]],
            connection: 1,
        };
        let bad = PeerProto { id: vec![1, 2, 3], addrs: vec![], connection: 0 };
        let mut proto = MessageProto { r#type: 4, closer_peers: vec![bad, good.clone()], ..MessageProto::default() };
        let message = Message::decode(&proto.encode_to_vec()).unwrap();
        assert_eq!(message.closer_peers.len(), 1, "the invalid id is dropped");
        assert_eq!(message.closer_peers[0].addrs.len(), 1, "the invalid address is dropped");
        assert_eq!(message.closer_peers[0].connection, ConnectionType::Connected);
        proto.closer_peers = vec![good; 500];
        assert_eq!(Message::decode(&proto.encode_to_vec()).unwrap().closer_peers.len(), MAX_PEERS);
        assert_eq!(Message::decode(&[0x08, 0x09]), Err(MessageError::UnknownType(9)));
        assert_eq!(Message::decode(&[0xff]), Err(MessageError::Malformed));
    }
}
