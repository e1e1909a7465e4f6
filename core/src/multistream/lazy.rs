//! Lazy negotiation: a dialer with one protocol to propose does not wait
//! for the answer (rust-libp2p's `V1Lazy`; the spec allows sending data
//! right behind a proposal).
//!
//! ```text
//! > /multistream/1.0.0\n/noise\n<first bytes of the Noise handshake>   (one flight)
//! < /multistream/1.0.0\n/noise\n<Noise answer>                         (checked on first read)
//! ```
//!
//! Eager negotiation costs a round trip before the next layer can start;
//! lazily, the next layer's first message travels with the proposal. The
//! listener's answer to a single proposal is exactly the bytes proposed
//! (the header, then the protocol echoed), so [`Negotiated`] checks that
//! the first bytes read are those, byte for byte, before passing anything
//! through. A refusal (`na`) or anything else fails the first read with
//! `InvalidData`; the connection is then unusable, as with any failed
//! upgrade.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{message::Message, send};
use crate::Result;

/// Proposes `protocol` as the dialer and returns at once: the stream is
/// usable for the protocol now, and the listener's confirmation is checked
/// when the first bytes are read.
pub async fn dialer_select_lazy<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, protocol: &str) -> Result<Negotiated<S>> {
    super::message::validate_protocol_name(protocol)?;
    let mut proposal = Vec::new();
    Message::Header.encode(&mut proposal);
    Message::Protocol(protocol.to_owned()).encode(&mut proposal);
    send(&mut io, &proposal).await?;
    Ok(Negotiated { io, expected: proposal, matched: 0 })
}

/// A stream negotiated lazily: reading first checks the listener's
/// confirmation (see the module documentation); writing goes straight
/// through.
#[derive(Debug)]
pub struct Negotiated<S> {
    io: S,
    /// The confirmation expected: the very bytes proposed.
    expected: Vec<u8>,
    /// How many of them have arrived.
    matched: usize,
}

impl<S> Negotiated<S> {
    /// Whether the listener's confirmation has been read.
    pub fn is_confirmed(&self) -> bool {
        self.matched == self.expected.len()
    }
}

impl<S: AsyncRead + Unpin> Negotiated<S> {
    /// Reads and checks the confirmation, never past it.
    fn poll_confirm(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut scratch = [0u8; 64];
        while !self.is_confirmed() {
            let want = (self.expected.len() - self.matched).min(scratch.len());
            let mut buf = ReadBuf::new(&mut scratch[..want]);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
            let got = buf.filled();
            if got.is_empty() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "multistream: the listener closed before confirming the protocol",
                )));
            }
            if got != &self.expected[self.matched..self.matched + got.len()] {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "multistream: the listener did not confirm the protocol proposed lazily",
                )));
            }
            self.matched += got.len();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Negotiated<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_confirm(cx))?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Negotiated<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
