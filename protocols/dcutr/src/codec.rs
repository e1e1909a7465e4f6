//! Reading and writing `DCUtR` messages on a stream.
//!
//! Spec: `libp2p-relay-DCUtR.md`, "RPC messages": each message is a
//! protobuf behind its length as an unsigned varint, and "implementations
//! SHOULD refuse encoded RPC messages (length prefix excluded) larger than
//! 4 KiB" ([`MAX_MESSAGE_SIZE`], go-libp2p's `maxMsgSize`, rust-libp2p's
//! `MAX_MESSAGE_SIZE_BYTES`). The prefix goes through
//! [`strata_core::framing`], which refuses a larger frame before
//! allocating anything.

use strata_core::framing;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{HolePunch, Result};

/// The largest message read, in bytes (the spec's 4 KiB).
pub const MAX_MESSAGE_SIZE: usize = 4096;

/// Reads one message.
pub async fn read_message<R: AsyncRead + Unpin>(reader: &mut R) -> Result<HolePunch> {
    let bytes = framing::read_length_prefixed(reader, MAX_MESSAGE_SIZE).await?;
    Ok(HolePunch::decode(&bytes)?)
}

/// Writes one message and flushes.
pub async fn write_message<W: AsyncWrite + Unpin>(writer: &mut W, message: &HolePunch) -> Result<()> {
    Ok(framing::write_length_prefixed(writer, &message.encode()).await?)
}
