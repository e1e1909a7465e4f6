//! multistream-select 1.0: agreeing on a protocol over a fresh byte stream.
//!
//! Spec: `multistream-select.md`. libp2p runs it on every new connection
//! (to pick the security protocol, then the muxer) and on every new stream
//! (to pick the application protocol):
//!
//! ```text
//! dialer                                        listener
//!   dialer_select(io, ["/noise"]) ──header, /noise──▶ listener_select(io, &["/noise"])
//!                                 ◀──header, /noise──   (echo = agreed; "na" = no)
//!   → Ok("/noise")                                    → Ok("/noise")
//! ```
//!
//! [`message`] holds the byte format (pure functions, no I/O); [`dialer`]
//! and [`listener`] drive it over any tokio `AsyncRead + AsyncWrite`.

pub mod dialer;
pub mod lazy;
pub mod listener;
pub mod message;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::{Result, framing};
pub use dialer::{dialer_select, list_protocols};
pub use lazy::{Negotiated, dialer_select_lazy};
pub use listener::listener_select;
pub use message::{HEADER, MAX_PROTOCOL_NAME_LEN, validate_protocol_name};

/// Writes `bytes` (one or more encoded messages) and flushes: each step of
/// the negotiation is one packet.
async fn send<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> Result<()> {
    io.write_all(bytes).await?;
    io.flush().await?;
    Ok(())
}

/// Reads and decodes one message.
async fn read_message<S: AsyncRead + Unpin>(io: &mut S) -> Result<message::Message> {
    message::Message::decode(&framing::read_length_prefixed(io, message::MAX_MESSAGE_LEN).await?)
}
