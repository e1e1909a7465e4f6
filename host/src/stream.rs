//! `Stream`: a negotiated stream to a peer, as handlers and
//! [`crate::Host::open_stream`] hand it out.

use std::{
    fmt, io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use strata_core::{Multiaddr, PeerId};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{ConnectionId, source::BoxStream};

/// A stream on which a protocol was agreed. Reads and writes go to the
/// muxer's stream underneath; `shutdown` half-closes it.
pub struct Stream {
    io: BoxStream,
    protocol: Arc<str>,
    peer: PeerId,
    connection: ConnectionId,
    remote_addr: Multiaddr,
}

impl Stream {
    pub(crate) fn new(
        io: BoxStream,
        protocol: Arc<str>,
        peer: PeerId,
        connection: ConnectionId,
        remote_addr: Multiaddr,
    ) -> Self {
        Self { io, protocol, peer, connection, remote_addr }
    }

    /// The protocol agreed on this stream.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// The peer on the other end.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The connection the stream runs on.
    pub fn connection(&self) -> ConnectionId {
        self.connection
    }

    /// The remote's address on that connection: as dialed, or as seen when
    /// accepted (identify's `observedAddr`).
    pub fn remote_addr(&self) -> &Multiaddr {
        &self.remote_addr
    }

    /// Whether the stream runs on a limited (relayed) connection: see
    /// [`crate::ConnectionEvent::is_limited`].
    pub fn is_limited(&self) -> bool {
        crate::lifecycle::is_relayed(&self.remote_addr)
    }
}

impl AsyncRead for Stream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_shutdown(cx)
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("protocol", &self.protocol)
            .field("peer", &self.peer)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}
