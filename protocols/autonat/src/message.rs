//! The `AutoNAT` v2 messages, typed: bytes in, messages out, no I/O.
//!
//! Spec: `libp2p-autonat-v2.md`, "RPC Messages". Two streams, two message
//! families:
//!
//! ```text
//! /libp2p/autonat/2/dial-request   client ─▶ Message::DialRequest { addrs, nonce }
//!                                  server ─▶ Message::DialDataRequest { addr_idx, num_bytes }   (optional)
//!                                  client ─▶ Message::DialDataResponse { data } …               (until num_bytes)
//!                                  server ─▶ Message::DialResponse { status, addr_idx, dial_status }
//! /libp2p/autonat/2/dial-back      server ─▶ DialBack { nonce }
//!                                  client ─▶ DialBackResponse (status OK)
//! ```
//!
//! The protobufs ([`crate::proto`]) are proto3: a field at its zero value
//! is not on the wire, so `DialBackResponse { status: OK }` is zero bytes
//! and its frame the single byte `00`. Decoding refuses what the spec says
//! to discard: a `Message` with no `msg`, and status codes this
//! implementation does not understand ("Implementations MUST discard
//! responses with status codes they do not understand"). An address strata
//! cannot decode (a protocol it does not know) becomes the empty address,
//! so that the indices of the others stay the sender's; nobody can dial
//! the empty address, so a server skips it. Unknown fields are skipped, as
//! protobuf says.

use prost::Message as _;
use strata_core::Multiaddr;

use crate::proto;

/// Why a message was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not a valid protobuf.
    #[error("malformed protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A `Message` with none of the four messages in it.
    #[error("a Message without a message")]
    Empty,
    /// A `DialResponse.status` the spec does not define.
    #[error("unknown response status {0}")]
    ResponseStatus(i32),
    /// A `DialStatus` the spec does not define.
    #[error("unknown dial status {0}")]
    DialStatus(i32),
    /// A `DialBackResponse.status` the spec does not define (only `OK`, 0, is).
    #[error("unknown dial-back status {0}")]
    DialBackStatus(i32),
}

/// `DialResponse.ResponseStatus`: whether the server served the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    /// `E_INTERNAL_ERROR` (0): something else went wrong on the server.
    InternalError,
    /// `E_REQUEST_REJECTED` (100): rate limit, resource limit, or the
    /// server does not serve now (not publicly reachable itself).
    RequestRejected,
    /// `E_DIAL_REFUSED` (101): the server will not dial any of the
    /// addresses (transport unsupported, not public …).
    DialRefused,
    /// `OK` (200): the server picked an address and dialed it; the outcome
    /// is the [`DialStatus`].
    Ok,
}

impl ResponseStatus {
    /// The wire code.
    pub fn code(self) -> i32 {
        match self {
            Self::InternalError => 0,
            Self::RequestRejected => 100,
            Self::DialRefused => 101,
            Self::Ok => 200,
        }
    }

    /// The status of a wire code, if the spec defines it.
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::InternalError,
            100 => Self::RequestRejected,
            101 => Self::DialRefused,
            200 => Self::Ok,
            _ => return None,
        })
    }
}

/// `DialStatus`: the outcome of the dial back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialStatus {
    /// `UNUSED` (0): no dial (the response status is not `OK`).
    Unused,
    /// `E_DIAL_ERROR` (100): the server could not connect to the address.
    DialError,
    /// `E_DIAL_BACK_ERROR` (101): it connected, but sending the nonce failed.
    DialBackError,
    /// `OK` (200): it connected and delivered the nonce.
    Ok,
}

impl DialStatus {
    /// The wire code.
    pub fn code(self) -> i32 {
        match self {
            Self::Unused => 0,
            Self::DialError => 100,
            Self::DialBackError => 101,
            Self::Ok => 200,
        }
    }

    /// The status of a wire code, if the spec defines it.
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::Unused,
            100 => Self::DialError,
            101 => Self::DialBackError,
            200 => Self::Ok,
            _ => return None,
        })
    }
}

/// A client asks the server to dial one of `addrs` (highest priority
/// first) and deliver `nonce`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialRequest {
    /// The addresses, in order of priority. An address strata could not
    /// decode is [`Multiaddr::empty`].
    pub addrs: Vec<Multiaddr>,
    /// The nonce the dial back must carry.
    pub nonce: u64,
}

/// The server's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialResponse {
    /// Whether the request was served.
    pub status: ResponseStatus,
    /// The index of the address dialed (meaningful with [`ResponseStatus::Ok`]).
    pub addr_idx: u32,
    /// The outcome of the dial (meaningful with [`ResponseStatus::Ok`]).
    pub dial_status: DialStatus,
}

impl DialResponse {
    /// A refusal: `status`, no address, no dial.
    pub fn refusal(status: ResponseStatus) -> Self {
        Self { status, addr_idx: 0, dial_status: DialStatus::Unused }
    }
}

/// The server asks for `num_bytes` bytes before dialing the address at
/// `addr_idx` (amplification attack prevention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialDataRequest {
    /// The index of the address the server selected.
    pub addr_idx: u32,
    /// How many bytes of `DialDataResponse.data` it wants.
    pub num_bytes: u64,
}

/// Some of the bytes a [`DialDataRequest`] asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialDataResponse {
    /// The bytes (their content does not matter; the spec limits one
    /// message to [`crate::MAX_DATA_CHUNK`] bytes).
    pub data: Vec<u8>,
}

/// A message of the dial-request stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Client to server: dial one of these.
    DialRequest(DialRequest),
    /// Server to client: the outcome.
    DialResponse(DialResponse),
    /// Server to client: pay first.
    DialDataRequest(DialDataRequest),
    /// Client to server: the payment.
    DialDataResponse(DialDataResponse),
}

impl Message {
    /// The protobuf bytes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let msg = match self {
            Self::DialRequest(request) => proto::Msg::DialRequest(proto::DialRequest {
                addrs: request.addrs.iter().map(Multiaddr::to_vec).collect(),
                nonce: request.nonce,
            }),
            Self::DialResponse(response) => proto::Msg::DialResponse(proto::DialResponse {
                status: response.status.code(),
                addr_idx: response.addr_idx,
                dial_status: response.dial_status.code(),
            }),
            Self::DialDataRequest(request) => proto::Msg::DialDataRequest(proto::DialDataRequest {
                addr_idx: request.addr_idx,
                num_bytes: request.num_bytes,
            }),
            Self::DialDataResponse(response) => {
                proto::Msg::DialDataResponse(proto::DialDataResponse { data: response.data.clone() })
            }
        };
        proto::Message { msg: Some(msg) }.encode_to_vec()
    }

    /// Decodes the protobuf bytes (without the length prefix).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let message = proto::Message::decode(bytes)?;
        Ok(match message.msg.ok_or(DecodeError::Empty)? {
            proto::Msg::DialRequest(request) => Self::DialRequest(DialRequest {
                addrs: request.addrs.iter().map(|bytes| Multiaddr::from_bytes(bytes).unwrap_or_default()).collect(),
                nonce: request.nonce,
            }),
            proto::Msg::DialResponse(response) => Self::DialResponse(DialResponse {
                status: ResponseStatus::from_code(response.status)
                    .ok_or(DecodeError::ResponseStatus(response.status))?,
                addr_idx: response.addr_idx,
                dial_status: DialStatus::from_code(response.dial_status)
                    .ok_or(DecodeError::DialStatus(response.dial_status))?,
            }),
            proto::Msg::DialDataRequest(request) => {
                Self::DialDataRequest(DialDataRequest { addr_idx: request.addr_idx, num_bytes: request.num_bytes })
            }
            proto::Msg::DialDataResponse(response) => Self::DialDataResponse(DialDataResponse { data: response.data }),
        })
    }
}

/// The server's dial back: the nonce of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialBack {
    /// The nonce.
    pub nonce: u64,
}

impl DialBack {
    /// The protobuf bytes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        proto::DialBack { nonce: self.nonce }.encode_to_vec()
    }

    /// Decodes the protobuf bytes (without the length prefix).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self { nonce: proto::DialBack::decode(bytes)?.nonce })
    }
}

/// The client's answer to a [`DialBack`]: its only status is `OK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialBackResponse;

impl DialBackResponse {
    /// The protobuf bytes (without the length prefix): empty, since `OK`
    /// is 0 and proto3 leaves zero values out.
    pub fn encode(self) -> Vec<u8> {
        proto::DialBackResponse { status: 0 }.encode_to_vec()
    }

    /// Decodes the protobuf bytes (without the length prefix).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match proto::DialBackResponse::decode(bytes)?.status {
            0 => Ok(Self),
            other => Err(DecodeError::DialBackStatus(other)),
        }
    }
}

#[cfg(test)]
mod tests;
