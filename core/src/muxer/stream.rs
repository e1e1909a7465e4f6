//! `muxer::Stream`: one logical stream of any muxer, as a tokio byte
//! stream.
//!
//! A thin handle: every call locks the connection's shared state for a
//! moment and returns. A write takes what the session accepts (up to the
//! stream's send window, where the protocol has one, and the room in the
//! outbound queue) and waits when there is none; `flush` waits until the
//! driver has written everything queued; `shutdown` half-closes (reading
//! goes on).
//!
//! Dropping a handle: a stream already closed for writing (`shutdown`)
//! ends gracefully; one that was not is **reset**, and the remote's reads
//! fail. So finish a stream with `shutdown` before dropping it.

use std::{
    fmt, io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Session, shared::Shared};

/// One stream of a muxed connection over the session `S`.
pub struct Stream<S: Session> {
    id: S::Id,
    shared: Arc<Shared<S>>,
}

impl<S: Session> Stream<S> {
    pub(super) fn new(id: S::Id, shared: Arc<Shared<S>>) -> Self {
        Self { id, shared }
    }

    /// The stream's id, as its session names it.
    pub fn id(&self) -> S::Id {
        self.id
    }

    /// Resets the stream at once: both sides' reads and writes fail.
    pub fn reset(&mut self) {
        self.shared.lock().reset(self.id);
    }
}

impl<S: Session> AsyncRead for Stream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.shared.lock().poll_read(self.id, cx, buf)
    }
}

impl<S: Session> AsyncWrite for Stream<S> {
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
        let mut shared = self.shared.lock();
        shared.close(self.id)?;
        ready!(shared.poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }
}

impl<S: Session> Drop for Stream<S> {
    fn drop(&mut self) {
        self.shared.lock().drop_stream(self.id);
    }
}

impl<S: Session> fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("muxer", &S::NAME).field("id", &self.id).finish_non_exhaustive()
    }
}
