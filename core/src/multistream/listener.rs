//! The listener's side of multistream-select: accept one of a set.
//!
//! Spec: `multistream-select.md`, "Protocol" and "Listing". The listener
//! writes its header at once, without waiting (so that a dialer that waits
//! for it before proposing cannot deadlock us), checks the dialer's header,
//! then answers each message: a supported protocol is echoed and agreed,
//! any other gets `na`, and `ls` gets the list of supported protocols.
//!
//! ```text
//! < /multistream/1.0.0\n          (written first)
//! > /multistream/1.0.0\n/x\n
//! < na\n
//! > /ipfs/ping/1.0.0\n
//! < /ipfs/ping/1.0.0\n           → Ok("/ipfs/ping/1.0.0")
//! ```
//!
//! A dialer may send data right behind its proposal (rust-libp2p's lazy
//! dialer does); no byte past the proposal is read here, so that data waits
//! in the stream for the protocol that follows.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{
    message::{self, Message},
    read_message, send,
};
use crate::{Error, Result};

/// How many proposals and `ls` requests one negotiation answers before it
/// gives up on the dialer.
pub const MAX_ATTEMPTS: usize = 32;

/// Negotiates as the listener, accepting one of `supported`, and returns
/// the agreed entry.
///
/// Fails with [`Error::Multistream`] on a wrong header, a misplaced message
/// or more than [`MAX_ATTEMPTS`] refused proposals. Not cancel-safe (drop
/// the stream if interrupted); bound it with a timeout.
pub async fn listener_select<'p, S, P>(io: &mut S, supported: &'p [P]) -> Result<&'p P>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: AsRef<str>,
{
    let mut out = Vec::new();
    Message::Header.encode(&mut out);
    send(io, &out).await?;

    match read_message(io).await? {
        Message::Header => {}
        other => return Err(Error::Multistream(format!("expected the header, got {other:?}"))),
    }

    for _ in 0..MAX_ATTEMPTS {
        out.clear();
        match read_message(io).await? {
            Message::Protocol(name) => {
                if let Some(found) = supported.iter().find(|p| p.as_ref() == name) {
                    Message::Protocol(name).encode(&mut out);
                    send(io, &out).await?;
                    tracing::trace!(protocol = found.as_ref(), "multistream: accepted");
                    return Ok(found);
                }
                tracing::trace!(protocol = %name, "multistream: not available");
                Message::Na.encode(&mut out);
            }
            Message::Ls => message::encode_protocol_list(supported, &mut out),
            other => return Err(Error::Multistream(format!("expected a proposal, got {other:?}"))),
        }
        send(io, &out).await?;
    }
    Err(Error::Multistream(format!("no agreement after {MAX_ATTEMPTS} attempts")))
}
