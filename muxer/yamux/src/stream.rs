//! `YamuxStream`: one logical stream, as a tokio byte stream.
//!
//! A thin handle: every call locks the connection's shared state for a
//! moment and returns. A write takes as much as the stream's send window
//! allows (and waits for a window update when it is spent); `flush` waits
//! until the driver has written everything queued; `shutdown` sends FIN
//! (a half-close: reading goes on).
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

use crate::shared::Shared;

/// One stream of a yamux connection.
pub struct YamuxStream {
    id: u32,
    shared: Arc<Shared>,
}

impl YamuxStream {
    pub(crate) fn new(id: u32, shared: Arc<Shared>) -> Self {
        Self { id, shared }
    }

    /// The stream's id (odd: opened by the dialer, even: by the listener).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Resets the stream at once: both sides' reads and writes fail.
    pub fn reset(&mut self) {
        self.shared.lock().reset(self.id);
    }
}

impl AsyncRead for YamuxStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.shared.lock().poll_read(self.id, cx, buf)
    }
}

impl AsyncWrite for YamuxStream {
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

impl Drop for YamuxStream {
    fn drop(&mut self) {
        self.shared.lock().drop_stream(self.id);
    }
}

impl fmt::Debug for YamuxStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YamuxStream").field("id", &self.id).finish_non_exhaustive()
    }
}
