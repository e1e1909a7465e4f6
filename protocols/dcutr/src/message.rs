//! The `DCUtR` message, typed: bytes in, a [`HolePunch`] out, no I/O.
//!
//! Spec: `libp2p-relay-DCUtR.md`, "RPC messages". One message kind on
//! `/libp2p/dcutr`, two types:
//!
//! ```text
//! initiator ─▶ HolePunch { type: CONNECT (100), ObsAddrs: our addresses }
//! responder ─▶ HolePunch { type: CONNECT (100), ObsAddrs: its addresses }
//! initiator ─▶ HolePunch { type: SYNC (300) }
//! ```
//!
//! Decoding refuses a type the spec does not define (a missing `type`
//! reads as 0, refused too). An address that is not a valid binary
//! multiaddr is **skipped**, not fatal: go-libp2p (`addrsFromBytes` in
//! `p2p/protocol/holepunch/util.go`) and rust-libp2p
//! (`protocols/dcutr/src/protocol/inbound.rs`, `filter_map` over
//! `Multiaddr::try_from`) both drop it with a debug log, so a peer that
//! speaks a transport we do not know is still punched on the others.
//! Relayed addresses (`/p2p-circuit`) are kept here and dropped by the
//! exchange ([`crate::state::usable_addrs`]): the codec reports what was
//! sent. Unknown fields are skipped, as protobuf says.

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
    /// A `type` the spec does not define (0 when it is missing).
    #[error("unknown HolePunch type {0}")]
    UnknownType(i32),
}

/// `HolePunch.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `CONNECT` (100): here are my addresses (both ways).
    Connect,
    /// `SYNC` (300): initiator to responder, "dial now".
    Sync,
}

impl Type {
    /// The wire code.
    pub fn code(self) -> i32 {
        match self {
            Self::Connect => 100,
            Self::Sync => 300,
        }
    }

    /// The type of a wire code, if the spec defines it.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            100 => Some(Self::Connect),
            300 => Some(Self::Sync),
            _ => None,
        }
    }
}

/// One `DCUtR` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolePunch {
    /// `CONNECT` or `SYNC`.
    pub kind: Type,
    /// `ObsAddrs`: the sender's addresses (empty in a `SYNC`). Those that
    /// did not decode are not here.
    pub addrs: Vec<Multiaddr>,
}

impl HolePunch {
    /// A `CONNECT` carrying `addrs`.
    pub fn connect(addrs: Vec<Multiaddr>) -> Self {
        Self { kind: Type::Connect, addrs }
    }

    /// A `SYNC`.
    pub fn sync() -> Self {
        Self { kind: Type::Sync, addrs: Vec::new() }
    }

    /// The protobuf bytes (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        proto::HolePunch { r#type: self.kind.code(), obs_addrs: self.addrs.iter().map(Multiaddr::to_vec).collect() }
            .encode_to_vec()
    }

    /// Decodes the protobuf bytes (without the length prefix), skipping
    /// addresses that do not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let message = proto::HolePunch::decode(bytes)?;
        let kind = Type::from_code(message.r#type).ok_or(DecodeError::UnknownType(message.r#type))?;
        let addrs = message
            .obs_addrs
            .iter()
            .filter_map(|bytes| match Multiaddr::from_bytes(bytes) {
                Ok(addr) => Some(addr),
                Err(error) => {
                    tracing::debug!(%error, "skipping an address that does not decode");
                    None
                }
            })
            .collect();
        Ok(Self { kind, addrs })
    }
}

#[cfg(test)]
mod tests;
