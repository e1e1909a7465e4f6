//! `WsStream`: a WebSocket as a byte stream, for the upgrader above.
//!
//! Spec: `libp2p-websockets.md` ("Stream Multiplexing", "Authentication"):
//! the WebSocket carries the same byte stream a TCP connection would, in
//! binary messages, and multistream-select, Noise and yamux run over it
//! unchanged. The framing itself (RFC 6455: masking, fragments, control
//! frames) is tungstenite's; this module only turns messages into bytes
//! and back:
//!
//! ```text
//! read:  Binary(payload) ─▶ buffered, copied out as the reader asks
//!        Ping            ─▶ (tungstenite queues the Pong, sent on the next read or write)
//!        Close           ─▶ end of stream (tungstenite answers the Close)
//!        Text            ─▶ InvalidData: libp2p over WebSocket is binary; the connection fails
//!        frame > max_frame_size, message > max_message_size ─▶ InvalidData
//! write: bytes ─▶ Binary messages of at most 64 KiB ─▶ flush sends them
//! shutdown ─▶ Close frame (we write no more; reading goes on until the peer's Close)
//! ```
//!
//! An inbound stream starts in its handshake (TLS, then the HTTP upgrade,
//! under one timeout): the listener hands it out at once, and the first
//! read or write drives the handshake, so a peer that never finishes it
//! costs the host's upgrade (with its own limits and timeout) and never
//! the accept loop.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Buf as _, Bytes};
use futures::{SinkExt as _, StreamExt as _, future::BoxFuture};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{self, Message, error::ProtocolError},
};

/// A WebSocket, plain or in TLS.
type Socket<S> = WebSocketStream<MaybeTls<S>>;

/// A connection's byte stream inside TLS (`/tls/ws`) or not (`/ws`).
pub(crate) enum MaybeTls<S> {
    /// `/ws`: the inner transport's stream as it is.
    Plain(S),
    /// `/tls/ws`: a TLS session over it (client or server side).
    Tls(Box<tokio_rustls::TlsStream<S>>),
}

/// A WebSocket connection as a byte stream: what [`crate::WsTransport`]
/// dials and accepts.
pub struct WsStream<S> {
    state: State<S>,
    /// The largest payload of one Binary message this side sends.
    write_frame_size: usize,
}

enum State<S> {
    /// An inbound connection's TLS handshake and HTTP upgrade, bounded by
    /// the handshake timeout.
    Handshaking(BoxFuture<'static, io::Result<Socket<S>>>),
    /// Boxed: a WebSocket's state is some hundreds of bytes, the
    /// handshake a pointer.
    Open(Box<Open<S>>),
    /// The handshake failed (its error was returned once).
    Failed,
}

struct Open<S> {
    socket: Socket<S>,
    /// The rest of the last Binary message received.
    unread: Bytes,
    /// The peer closed (a Close frame, or the socket ended after one).
    read_closed: bool,
    /// tungstenite has queued its answer to the peer's Close: it goes out
    /// before the end of file is reported, or a reader that then drops
    /// the stream would reset the connection instead of closing it.
    close_answer_queued: bool,
}

impl<S> Open<S> {
    fn new(socket: Socket<S>) -> Self {
        Self { socket, unread: Bytes::new(), read_closed: false, close_answer_queued: false }
    }
}

impl<S> WsStream<S> {
    pub(crate) fn open(socket: Socket<S>, write_frame_size: usize) -> Self {
        Self { state: State::Open(Box::new(Open::new(socket))), write_frame_size }
    }

    pub(crate) fn handshaking(handshake: BoxFuture<'static, io::Result<Socket<S>>>, write_frame_size: usize) -> Self {
        Self { state: State::Handshaking(handshake), write_frame_size }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// The open WebSocket, once the handshake (if any) is done.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut Open<S>>> {
        if let State::Handshaking(handshake) = &mut self.state {
            match ready!(handshake.as_mut().poll(cx)) {
                Ok(socket) => {
                    tracing::trace!("websocket: inbound upgrade done");
                    self.state = State::Open(Box::new(Open::new(socket)));
                }
                Err(error) => {
                    tracing::debug!(%error, "websocket: inbound handshake failed");
                    self.state = State::Failed;
                    return Poll::Ready(Err(error));
                }
            }
        }
        Poll::Ready(match &mut self.state {
            State::Open(open) => Ok(open),
            State::Handshaking(_) | State::Failed => {
                Err(io::Error::new(io::ErrorKind::NotConnected, "the WebSocket handshake failed"))
            }
        })
    }
}

/// tungstenite's error as an I/O error of the kind the layers above act on.
pub(crate) fn io_error(error: tungstenite::Error) -> io::Error {
    use tungstenite::Error as E;
    match error {
        E::Io(error) => error,
        E::ConnectionClosed | E::AlreadyClosed | E::Protocol(ProtocolError::SendAfterClosing) => {
            io::Error::new(io::ErrorKind::BrokenPipe, error)
        }
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            io::Error::new(io::ErrorKind::ConnectionReset, error)
        }
        E::Capacity(_) | E::Protocol(_) | E::Utf8(_) | E::AttackAttempt => {
            io::Error::new(io::ErrorKind::InvalidData, error)
        }
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let open = ready!(self.poll_open(cx))?;
        loop {
            if !open.unread.is_empty() {
                let n = open.unread.len().min(buf.remaining());
                buf.put_slice(&open.unread[..n]);
                open.unread.advance(n);
                return Poll::Ready(Ok(()));
            }
            if open.read_closed {
                if open.close_answer_queued {
                    // Errors are for the writer to see; reading has ended.
                    let _ = ready!(open.socket.poll_flush_unpin(cx));
                    open.close_answer_queued = false;
                }
                return Poll::Ready(Ok(()));
            }
            match ready!(open.socket.poll_next_unpin(cx)) {
                Some(Ok(Message::Binary(payload))) => open.unread = payload,
                // Pings are answered by tungstenite; pongs and raw frames
                // carry nothing for us.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    tracing::trace!(?frame, "websocket: peer closed");
                    open.read_closed = true;
                    open.close_answer_queued = true;
                }
                None => open.read_closed = true,
                Some(Ok(Message::Text(_))) => {
                    tracing::debug!("websocket: text frame received; failing the connection");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "WebSocket text frame: libp2p over WebSocket is binary only",
                    )));
                }
                Some(Err(error)) => {
                    tracing::debug!(%error, "websocket: read failed");
                    return Poll::Ready(Err(io_error(error)));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let max = self.write_frame_size;
        let open = ready!(self.poll_open(cx))?;
        ready!(open.socket.poll_ready_unpin(cx)).map_err(io_error)?;
        let n = buf.len().min(max);
        open.socket.start_send_unpin(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).map_err(io_error)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let open = ready!(self.poll_open(cx))?;
        open.socket.poll_flush_unpin(cx).map_err(io_error)
    }

    /// Sends a Close frame: the WebSocket's end of writing.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if matches!(self.state, State::Failed) {
            return Poll::Ready(Ok(()));
        }
        let open = ready!(self.poll_open(cx))?;
        open.socket.poll_close_unpin(cx).map_err(io_error)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

impl<S> std::fmt::Debug for WsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Handshaking(_) => "handshaking",
            State::Open(open) if open.read_closed => "closed by peer",
            State::Open(_) => "open",
            State::Failed => "failed",
        };
        f.debug_struct("WsStream").field("state", &state).finish_non_exhaustive()
    }
}
