//! Reading and writing hop and stop messages on a stream.
//!
//! Spec: `libp2p-relay-circuit-v2.md` (messages are length-prefixed
//! protobufs, as in every libp2p protocol of this family). The length
//! prefix goes through [`strata_core::framing`], which refuses a frame
//! above [`MAX_MESSAGE_SIZE`] before allocating anything; the bytes then
//! go to [`HopMessage::decode`] and [`StopMessage::decode`]. After the
//! exchange the same stream carries the relayed bytes, so a read never
//! consumes a byte past its frame.

use strata_core::framing;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{HopMessage, Result, StopMessage};

/// The largest hop or stop message accepted, in bytes (go-libp2p's bound:
/// a message holds a peer id, a few addresses and a voucher).
pub const MAX_MESSAGE_SIZE: usize = 4096;

/// Reads one hop message.
pub async fn read_hop<R: AsyncRead + Unpin>(reader: &mut R) -> Result<HopMessage> {
    let bytes = framing::read_length_prefixed(reader, MAX_MESSAGE_SIZE).await?;
    Ok(HopMessage::decode(&bytes)?)
}

/// Reads one stop message.
pub async fn read_stop<R: AsyncRead + Unpin>(reader: &mut R) -> Result<StopMessage> {
    let bytes = framing::read_length_prefixed(reader, MAX_MESSAGE_SIZE).await?;
    Ok(StopMessage::decode(&bytes)?)
}

/// Writes one hop message and flushes.
pub async fn write_hop<W: AsyncWrite + Unpin>(writer: &mut W, message: &HopMessage) -> Result<()> {
    Ok(framing::write_length_prefixed(writer, &message.encode()).await?)
}

/// Writes one stop message and flushes.
pub async fn write_stop<W: AsyncWrite + Unpin>(writer: &mut W, message: &StopMessage) -> Result<()> {
    Ok(framing::write_length_prefixed(writer, &message.encode()).await?)
}
