//! A QUIC connection as core's `MuxedConnection`: QUIC's own streams are
//! the muxer.
//!
//! Spec: `libp2p-quic.md`. libp2p uses bidirectional streams only; each
//! is a [`QuicStream`] (quinn's send and receive halves as one
//! `AsyncRead + AsyncWrite`), and multistream-select runs on it as on any
//! stream. Closing our half is QUIC's FIN (`finish`); a stream dropped
//! without that is reset, as yamux and mplex streams are, so the remote
//! can tell an abort from an end.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use strata_core::MuxedConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An established QUIC connection. Cheap to clone.
#[derive(Clone, Debug)]
pub struct QuicConnection {
    inner: quinn::Connection,
}

impl QuicConnection {
    pub(crate) fn new(inner: quinn::Connection) -> Self {
        Self { inner }
    }

    /// The current round-trip estimate.
    pub fn rtt(&self) -> std::time::Duration {
        self.inner.rtt()
    }
}

/// Whether a connection error is just the end of the connection.
fn is_end(error: &quinn::ConnectionError) -> bool {
    matches!(
        error,
        quinn::ConnectionError::ApplicationClosed(_)
            | quinn::ConnectionError::ConnectionClosed(_)
            | quinn::ConnectionError::LocallyClosed
    )
}

impl MuxedConnection for QuicConnection {
    type Stream = QuicStream;
    type Error = quinn::ConnectionError;

    async fn open_stream(&self) -> Result<QuicStream, quinn::ConnectionError> {
        let (send, recv) = self.inner.open_bi().await?;
        Ok(QuicStream::new(send, recv))
    }

    async fn accept_stream(&self) -> Result<Option<QuicStream>, quinn::ConnectionError> {
        match self.inner.accept_bi().await {
            Ok((send, recv)) => Ok(Some(QuicStream::new(send, recv))),
            Err(error) if is_end(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn close(&self) -> Result<(), quinn::ConnectionError> {
        self.inner.close(0u32.into(), b"");
        Ok(())
    }
}

/// One bidirectional QUIC stream.
#[derive(Debug)]
pub struct QuicStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    finished: bool,
}

impl QuicStream {
    fn new(send: quinn::SendStream, recv: quinn::RecvStream) -> Self {
        Self { send, recv, finished: false }
    }
}

impl Drop for QuicStream {
    fn drop(&mut self) {
        if !self.finished {
            // Dropped without a close: an abort, not an end.
            let _ = self.send.reset(0u32.into());
        }
    }
}

impl AsyncRead for QuicStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.recv).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuicStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.send).poll_write(cx, buf).map_err(io::Error::from)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.send).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.finished {
            self.finished = true;
            // An already reset or stopped stream cannot finish: the remote
            // is gone, which is what a later read or write reports.
            let _ = self.send.finish();
        }
        Poll::Ready(Ok(()))
    }
}
