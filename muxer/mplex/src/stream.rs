//! `MplexStream`: one logical stream, as a tokio byte stream.
//!
//! A thin handle: every call locks the connection's shared state for a moment
//! and returns. Writes are split into frames of at most the configured
//! size and queued for the driver; `flush` waits until the driver has
//! written them; `shutdown` sends Close (a half-close: reading goes on).
//!
//! Dropping a handle: a stream already closed for writing (`shutdown`) ends
//! gracefully; one that was not is **reset**, and the remote's reads fail.
//! So finish a stream with `shutdown` before dropping it.

use std::{
    fmt, io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{frame::StreamId, shared::Shared};

/// One stream of an mplex connection.
pub struct MplexStream {
    id: StreamId,
    shared: Arc<Shared>,
}

impl MplexStream {
    pub(crate) fn new(id: StreamId, shared: Arc<Shared>) -> Self {
        Self { id, shared }
    }

    /// The stream's number, as its opener allocated it.
    pub fn number(&self) -> u64 {
        self.id.num
    }

    /// Whether we opened this stream (`false`: the remote did).
    pub fn is_outbound(&self) -> bool {
        self.id.ours
    }
}

impl AsyncRead for MplexStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.shared.lock().poll_read(self.id, cx, buf)
    }
}

impl AsyncWrite for MplexStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.shared.lock().poll_write(self.id, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.lock().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        state.close(self.id)?;
        ready!(state.poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }
}

impl Drop for MplexStream {
    fn drop(&mut self) {
        self.shared.lock().drop_stream(self.id);
    }
}

impl fmt::Debug for MplexStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MplexStream")
            .field("number", &self.id.num)
            .field("outbound", &self.id.ours)
            .finish_non_exhaustive()
    }
}
