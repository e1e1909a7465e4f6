//! The dialer's side of multistream-select: propose, in order, until one is
//! accepted.
//!
//! Spec: `multistream-select.md`, "Protocol" and "Implementation
//! Recommendations". The dialer sends the header and its first proposal in
//! one write, then reads the listener's header and its answer: an echo of
//! the proposal (agreed), or `na` (propose the next one). When every
//! proposal was refused, the result is [`Error::ProtocolsRefused`].
//!
//! ```text
//! > /multistream/1.0.0\n/ipfs/kad/1.0.0\n
//! < /multistream/1.0.0\nna\n
//! > /ipfs/kad/0.2.3\n
//! < /ipfs/kad/0.2.3\n         → Ok("/ipfs/kad/0.2.3")
//! ```

use tokio::io::{AsyncRead, AsyncWrite};

use super::{
    message::{self, MAX_LS_RESPONSE_LEN, Message},
    read_message, send,
};
use crate::{Error, Result, framing};

async fn expect_header<S: AsyncRead + Unpin>(io: &mut S) -> Result<()> {
    match read_message(io).await? {
        Message::Header => Ok(()),
        other => Err(Error::Multistream(format!("expected the header, got {other:?}"))),
    }
}

/// Negotiates one of `protocols` (in order of preference) as the dialer,
/// and returns the one the listener accepted.
///
/// Nothing is read past the listener's answer, so the stream is ready for
/// the agreed protocol. Not cancel-safe: a stream whose negotiation was
/// interrupted is in an unknown state and should be dropped. Bound it with
/// a timeout; this function has none of its own.
pub async fn dialer_select<S, P>(io: &mut S, protocols: impl IntoIterator<Item = P>) -> Result<P>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: AsRef<str>,
{
    let mut protocols: Vec<P> = protocols.into_iter().collect();
    for protocol in &protocols {
        message::validate_protocol_name(protocol.as_ref())?;
    }
    let mut out = Vec::new();
    Message::Header.encode(&mut out);
    for index in 0..protocols.len() {
        let name = protocols[index].as_ref();
        Message::Protocol(name.to_owned()).encode(&mut out);
        send(io, &out).await?;
        out.clear();
        if index == 0 {
            expect_header(io).await?;
        }
        match read_message(io).await? {
            Message::Protocol(echo) if echo == name => {
                tracing::trace!(protocol = name, "multistream: agreed");
                return Ok(protocols.swap_remove(index));
            }
            Message::Na => tracing::trace!(protocol = name, "multistream: refused"),
            other => return Err(Error::Multistream(format!("expected {name:?} or na, got {other:?}"))),
        }
    }
    Err(Error::ProtocolsRefused(protocols.iter().map(|p| p.as_ref().to_owned()).collect()))
}

/// Asks the listener for its protocols with `ls` (which listeners MAY
/// support; expect an error from those that do not).
pub async fn list_protocols<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) -> Result<Vec<String>> {
    let mut out = Vec::new();
    Message::Header.encode(&mut out);
    Message::Ls.encode(&mut out);
    send(io, &out).await?;
    expect_header(io).await?;
    message::decode_protocol_list(&framing::read_length_prefixed(io, MAX_LS_RESPONSE_LEN).await?)
}
