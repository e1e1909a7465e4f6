//! The hop and stop messages, typed: bytes in, messages out, no I/O.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Hop Protocol", "Stop Protocol" and
//! "Protobuf". On the wire each message is a protobuf ([`crate::proto`])
//! behind a uvarint length prefix ([`crate::codec`]). Decoding turns the
//! all-optional protobuf into the shape each message type must have:
//!
//! ```text
//! bytes ─▶ proto::HopMessage ─▶ type? ─┬─ RESERVE ─▶ HopMessage::Reserve
//!                                      ├─ CONNECT ─▶ peer (a valid PeerId) required ─▶ HopMessage::Connect
//!                                      └─ STATUS  ─▶ status required ─▶ HopMessage::Status
//! ```
//!
//! A missing `type`, an unknown `type`, a `CONNECT` without a valid peer id
//! or a `STATUS` without a status is [`DecodeError`]: the relay answers it
//! with `MALFORMED_MESSAGE`. Addresses strata cannot decode are skipped,
//! not fatal (as identify does). Fields a type does not use are ignored.

use prost::Message as _;
use strata_core::{Multiaddr, PeerId};

use crate::proto;

/// Why a hop or stop message was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not a valid protobuf.
    #[error("malformed protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The `type` field is absent or names no type of this message.
    #[error("missing or unknown message type {0:?}")]
    Type(Option<i32>),
    /// A field the message type requires is absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// The `status` field names no status of the spec.
    #[error("unknown status {0}")]
    Status(i32),
    /// The peer id is not a valid one.
    #[error("invalid peer id: {0}")]
    PeerId(strata_core::Error),
}

/// A status code (spec: `enum Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// `OK` (100).
    Ok,
    /// `RESERVATION_REFUSED` (200).
    ReservationRefused,
    /// `RESOURCE_LIMIT_EXCEEDED` (201).
    ResourceLimitExceeded,
    /// `PERMISSION_DENIED` (202).
    PermissionDenied,
    /// `CONNECTION_FAILED` (203).
    ConnectionFailed,
    /// `NO_RESERVATION` (204).
    NoReservation,
    /// `MALFORMED_MESSAGE` (400).
    MalformedMessage,
    /// `UNEXPECTED_MESSAGE` (401).
    UnexpectedMessage,
}

impl Status {
    const ALL: [(Self, i32); 8] = [
        (Self::Ok, 100),
        (Self::ReservationRefused, 200),
        (Self::ResourceLimitExceeded, 201),
        (Self::PermissionDenied, 202),
        (Self::ConnectionFailed, 203),
        (Self::NoReservation, 204),
        (Self::MalformedMessage, 400),
        (Self::UnexpectedMessage, 401),
    ];

    /// The wire code.
    pub fn code(self) -> i32 {
        Self::ALL.iter().find(|(status, _)| *status == self).map_or(0, |(_, code)| *code)
    }

    /// The status of a wire code (`UNUSED`, 0, is none).
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.iter().find(|(_, c)| *c == code).map(|(status, _)| *status)
    }
}

/// A peer: its id and, optionally, addresses (spec: `Peer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The peer id.
    pub id: PeerId,
    /// Its addresses (only for the deprecated "active relay"; usually empty).
    pub addrs: Vec<Multiaddr>,
}

/// A granted reservation (spec: `Reservation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// When it expires, as UTC UNIX time in seconds.
    pub expire: u64,
    /// The relay's public addresses, each ending in `/p2p/<relay>`.
    pub addrs: Vec<Multiaddr>,
    /// The signed voucher, if the relay sent one (advisory only).
    pub voucher: Option<Vec<u8>>,
}

/// The limits a relay applies to a relayed connection (spec: `Limit`).
/// `None` or 0 means no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    /// The longest a relayed connection may stay open, in seconds.
    pub duration: Option<u32>,
    /// The most bytes a relayed connection may carry in each direction.
    pub data: Option<u64>,
}

/// A message of the hop protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HopMessage {
    /// A client asks for a reservation.
    Reserve,
    /// A client asks for a circuit to `peer`.
    Connect {
        /// The target.
        peer: Peer,
    },
    /// The relay's answer.
    Status {
        /// The outcome.
        status: Status,
        /// The reservation granted (answers to `RESERVE` with `OK`).
        reservation: Option<Reservation>,
        /// The limits of relayed connections.
        limit: Option<Limit>,
    },
}

/// A message of the stop protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopMessage {
    /// The relay announces a circuit from `peer`.
    Connect {
        /// The initiator.
        peer: Peer,
        /// The limits of the circuit.
        limit: Option<Limit>,
    },
    /// The target's answer.
    Status(Status),
}

impl HopMessage {
    /// The protobuf bytes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let message = match self {
            Self::Reserve => proto::HopMessage { r#type: Some(0), ..Default::default() },
            Self::Connect { peer } => {
                proto::HopMessage { r#type: Some(1), peer: Some(peer.to_proto()), ..Default::default() }
            }
            Self::Status { status, reservation, limit } => proto::HopMessage {
                r#type: Some(2),
                status: Some(status.code()),
                reservation: reservation.as_ref().map(Reservation::to_proto),
                limit: limit.map(Limit::to_proto),
                peer: None,
            },
        };
        message.encode_to_vec()
    }

    /// Decodes the protobuf bytes (without the length prefix).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let message = proto::HopMessage::decode(bytes)?;
        match message.r#type {
            Some(0) => Ok(Self::Reserve),
            Some(1) => Ok(Self::Connect { peer: Peer::from_proto(message.peer)? }),
            Some(2) => Ok(Self::Status {
                status: status_from(message.status)?,
                reservation: message.reservation.map(Reservation::from_proto).transpose()?,
                limit: message.limit.as_ref().map(Limit::from_proto),
            }),
            other => Err(DecodeError::Type(other)),
        }
    }
}

impl StopMessage {
    /// The protobuf bytes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let message = match self {
            Self::Connect { peer, limit } => proto::StopMessage {
                r#type: Some(0),
                peer: Some(peer.to_proto()),
                limit: limit.map(Limit::to_proto),
                status: None,
            },
            Self::Status(status) => {
                proto::StopMessage { r#type: Some(1), status: Some(status.code()), ..Default::default() }
            }
        };
        message.encode_to_vec()
    }

    /// Decodes the protobuf bytes (without the length prefix).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let message = proto::StopMessage::decode(bytes)?;
        match message.r#type {
            Some(0) => Ok(Self::Connect {
                peer: Peer::from_proto(message.peer)?,
                limit: message.limit.as_ref().map(Limit::from_proto),
            }),
            Some(1) => Ok(Self::Status(status_from(message.status)?)),
            other => Err(DecodeError::Type(other)),
        }
    }
}

fn status_from(code: Option<i32>) -> Result<Status, DecodeError> {
    let code = code.ok_or(DecodeError::Missing("status"))?;
    Status::from_code(code).ok_or(DecodeError::Status(code))
}

/// The addresses strata can decode, in order; the others are skipped.
fn addrs_from(raw: &[Vec<u8>]) -> Vec<Multiaddr> {
    raw.iter().filter_map(|bytes| Multiaddr::from_bytes(bytes).ok()).collect()
}

impl Peer {
    fn to_proto(&self) -> proto::Peer {
        proto::Peer { id: Some(self.id.to_bytes()), addrs: self.addrs.iter().map(Multiaddr::to_vec).collect() }
    }

    fn from_proto(peer: Option<proto::Peer>) -> Result<Self, DecodeError> {
        let peer = peer.ok_or(DecodeError::Missing("peer"))?;
        let id = peer.id.ok_or(DecodeError::Missing("peer.id"))?;
        let id = PeerId::from_bytes(&id).map_err(DecodeError::PeerId)?;
        Ok(Self { id, addrs: addrs_from(&peer.addrs) })
    }
}

impl Reservation {
    fn to_proto(&self) -> proto::Reservation {
        proto::Reservation {
            expire: Some(self.expire),
            addrs: self.addrs.iter().map(Multiaddr::to_vec).collect(),
            voucher: self.voucher.clone(),
        }
    }

    fn from_proto(reservation: proto::Reservation) -> Result<Self, DecodeError> {
        Ok(Self {
            expire: reservation.expire.ok_or(DecodeError::Missing("reservation.expire"))?,
            addrs: addrs_from(&reservation.addrs),
            voucher: reservation.voucher,
        })
    }
}

impl Limit {
    fn to_proto(self) -> proto::Limit {
        proto::Limit { duration: self.duration, data: self.data }
    }

    fn from_proto(limit: &proto::Limit) -> Self {
        Self { duration: limit.duration, data: limit.data }
    }
}

#[cfg(test)]
mod tests;
