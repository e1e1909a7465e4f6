//! The `Identify` message and what it says of a peer: bytes in, [`Info`]
//! out, no I/O.
//!
//! Spec: `libp2p-identify.md`, "The Identify Message":
//!
//! ```text
//! message Identify {
//!   optional string protocolVersion = 5;   optional string agentVersion = 6;
//!   optional bytes  publicKey = 1;         repeated bytes  listenAddrs = 2;
//!   optional bytes  observedAddr = 4;      repeated string protocols = 3;
//! }
//! ```
//!
//! On the wire the message is length-prefixed (uvarint). Decoding checks
//! what can be checked: the protobuf is well-formed (unknown fields are
//! skipped, malformed ones are an error); a `publicKey`, if present, must
//! name the peer on the other end of the connection, or the whole message
//! is refused; an address strata cannot decode (a protocol it does not
//! know) is skipped, not fatal.

use prost::Message as _;
use strata_core::{Multiaddr, PeerId, PublicKey};

/// Why an `Identify` message was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InfoError {
    /// Not a valid `Identify` protobuf.
    #[error("malformed identify message: {0}")]
    Malformed(String),
    /// The `publicKey` field is not a valid key.
    #[error("invalid public key: {0}")]
    InvalidKey(strata_core::Error),
    /// The `publicKey` names another peer than the connection's.
    #[error("the public key names {actual}, not the connection's peer {expected}")]
    KeyMismatch {
        /// The connection's authenticated peer.
        expected: PeerId,
        /// The peer the key names.
        actual: PeerId,
    },
}

#[derive(Clone, PartialEq, prost::Message)]
struct IdentifyProto {
    #[prost(bytes = "vec", optional, tag = "1")]
    public_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", repeated, tag = "2")]
    listen_addrs: Vec<Vec<u8>>,
    #[prost(string, repeated, tag = "3")]
    protocols: Vec<String>,
    #[prost(bytes = "vec", optional, tag = "4")]
    observed_addr: Option<Vec<u8>>,
    #[prost(string, optional, tag = "5")]
    protocol_version: Option<String>,
    #[prost(string, optional, tag = "6")]
    agent_version: Option<String>,
}

/// What a peer says of itself in an `Identify` message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Info {
    /// Its public key (checked against the connection's peer id).
    pub public_key: Option<PublicKey>,
    /// Its protocol family, like `ipfs/0.1.0`.
    pub protocol_version: Option<String>,
    /// Its implementation, like `strata/0.1.0`.
    pub agent_version: Option<String>,
    /// The addresses it listens on.
    pub listen_addrs: Vec<Multiaddr>,
    /// The address it sees us at.
    pub observed_addr: Option<Multiaddr>,
    /// The protocols it serves.
    pub protocols: Vec<String>,
}

impl Info {
    /// The message bytes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        IdentifyProto {
            public_key: self.public_key.as_ref().map(PublicKey::encode_protobuf),
            listen_addrs: self.listen_addrs.iter().map(Multiaddr::to_vec).collect(),
            protocols: self.protocols.clone(),
            observed_addr: self.observed_addr.as_ref().map(Multiaddr::to_vec),
            protocol_version: self.protocol_version.clone(),
            agent_version: self.agent_version.clone(),
        }
        .encode_to_vec()
    }

    /// Decodes a message received from `peer` (the connection's
    /// authenticated peer id).
    pub fn decode(bytes: &[u8], peer: PeerId) -> Result<Self, InfoError> {
        let proto = IdentifyProto::decode(bytes).map_err(|e| InfoError::Malformed(e.to_string()))?;
        let public_key = match proto.public_key {
            Some(key) => {
                let key = PublicKey::decode_protobuf(&key).map_err(InfoError::InvalidKey)?;
                if key.to_peer_id() != peer {
                    return Err(InfoError::KeyMismatch { expected: peer, actual: key.to_peer_id() });
                }
                Some(key)
            }
            None => None,
        };
        let listen_addrs = proto
            .listen_addrs
            .iter()
            .filter_map(|bytes| match Multiaddr::from_bytes(bytes) {
                Ok(addr) => Some(addr),
                Err(error) => {
                    tracing::debug!(%peer, %error, "identify: skipping an address we cannot decode");
                    None
                }
            })
            .collect();
        let observed_addr = proto.observed_addr.and_then(|bytes| Multiaddr::from_bytes(&bytes).ok());
        Ok(Self {
            public_key,
            protocol_version: proto.protocol_version,
            agent_version: proto.agent_version,
            listen_addrs,
            observed_addr,
            protocols: proto.protocols,
        })
    }
}

#[cfg(test)]
mod tests {
    use strata_core::Keypair;

    use super::*;

    fn sample(key: &Keypair) -> Info {
        Info {
            public_key: Some(key.public()),
            protocol_version: Some("ipfs/0.1.0".into()),
            agent_version: Some("strata/0.1.0".into()),
            listen_addrs: vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()],
            observed_addr: Some("/ip4/127.0.0.1/tcp/50000".parse().unwrap()),
            protocols: vec!["/ipfs/id/1.0.0".into(), "/ipfs/ping/1.0.0".into()],
        }
    }

    #[test]
    fn round_trip() {
        let key = Keypair::ed25519_from_secret([1; 32]);
        let info = sample(&key);
        assert_eq!(Info::decode(&info.encode(), key.peer_id()).unwrap(), info);
    }

    #[test]
    fn keys_of_every_generated_type_round_trip_and_name_their_peer() {
        for key in [Keypair::generate_secp256k1(), Keypair::generate_ecdsa()] {
            let info = sample(&key);
            assert_eq!(Info::decode(&info.encode(), key.peer_id()).unwrap(), info, "{:?}", key.key_type());
            assert!(matches!(
                Info::decode(&info.encode(), PeerId::random()),
                Err(InfoError::KeyMismatch { actual, .. }) if actual == key.peer_id()
            ));
        }
    }

    #[test]
    fn a_key_of_another_peer_is_refused() {
        let key = Keypair::ed25519_from_secret([1; 32]);
        let other = PeerId::random();
        assert!(matches!(Info::decode(&sample(&key).encode(), other), Err(InfoError::KeyMismatch { .. })));
    }

    #[test]
    fn unknown_fields_are_skipped_and_unknown_addresses_dropped() {
        let key = Keypair::ed25519_from_secret([1; 32]);
        let mut bytes = sample(&key).encode();
        bytes.extend_from_slice(&[0x38, 0x07]); // field 7, varint 7: unknown
        bytes.extend_from_slice(&[0x12, 0x02, 0x7f, 0x00]); // listenAddrs: code 127, unknown
        let info = Info::decode(&bytes, key.peer_id()).unwrap();
        assert_eq!(info.listen_addrs, sample(&key).listen_addrs);
    }

    #[test]
    fn malformed_messages_are_refused() {
        let peer = PeerId::random();
        for bad in [&[0x0a, 0x05, 0x01][..], &[0x1a, 0x01, 0xff], &[0xff, 0xff, 0xff]] {
            assert!(Info::decode(bad, peer).is_err(), "{bad:?}");
        }
        assert!(matches!(Info::decode(&[0x0a, 0x02, 0x08, 0x01], peer), Err(InfoError::InvalidKey(_))));
    }
}
