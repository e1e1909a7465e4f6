//! Reading and writing `AutoNAT` v2 messages on a stream.
//!
//! Spec: `libp2p-autonat-v2.md`, "RPC Messages": every message is a
//! protobuf behind its length as an unsigned varint. The prefix goes
//! through [`strata_core::framing`], which refuses a frame above the bound
//! before allocating anything; the bytes then go to [`crate::Message::decode`] and its kin.
//!
//! Bounds: a dial-request stream message is at most [`MAX_MESSAGE_SIZE`]
//! (go-libp2p's 8 KiB: a request of many addresses, or a 4 KiB data
//! chunk); a dial-back message at most [`MAX_DIAL_BACK_SIZE`] (a nonce).

use strata_core::framing;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{DialBack, DialBackResponse, Message, Result};

/// The largest message read on the dial-request stream, in bytes
/// (go-libp2p's `maxMsgSize`).
pub const MAX_MESSAGE_SIZE: usize = 8192;

/// The largest message read on the dial-back stream, in bytes
/// (go-libp2p's `dialBackMaxMsgSize`; a `DialBack` is at most 9 bytes).
pub const MAX_DIAL_BACK_SIZE: usize = 1024;

/// Reads one dial-request stream message.
pub async fn read_message<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Message> {
    let bytes = framing::read_length_prefixed(reader, MAX_MESSAGE_SIZE).await?;
    Ok(Message::decode(&bytes)?)
}

/// Writes one dial-request stream message and flushes.
pub async fn write_message<W: AsyncWrite + Unpin>(writer: &mut W, message: &Message) -> Result<()> {
    Ok(framing::write_length_prefixed(writer, &message.encode()).await?)
}

/// Reads the server's [`DialBack`].
pub async fn read_dial_back<R: AsyncRead + Unpin>(reader: &mut R) -> Result<DialBack> {
    let bytes = framing::read_length_prefixed(reader, MAX_DIAL_BACK_SIZE).await?;
    Ok(DialBack::decode(&bytes)?)
}

/// Writes a [`DialBack`] and flushes.
pub async fn write_dial_back<W: AsyncWrite + Unpin>(writer: &mut W, dial_back: DialBack) -> Result<()> {
    Ok(framing::write_length_prefixed(writer, &dial_back.encode()).await?)
}

/// Reads the client's [`DialBackResponse`].
pub async fn read_dial_back_response<R: AsyncRead + Unpin>(reader: &mut R) -> Result<DialBackResponse> {
    let bytes = framing::read_length_prefixed(reader, MAX_DIAL_BACK_SIZE).await?;
    Ok(DialBackResponse::decode(&bytes)?)
}

/// Writes a [`DialBackResponse`] and flushes.
pub async fn write_dial_back_response<W: AsyncWrite + Unpin>(writer: &mut W) -> Result<()> {
    Ok(framing::write_length_prefixed(writer, &DialBackResponse.encode()).await?)
}
