//! The socket half of the muxer driver: writing the frames all streams
//! queued as one batch, and reading the socket in chunks.
//!
//! The muxer driver ([`crate::muxer::Connection`], serving yamux and
//! mplex) is one task that owns the secure stream. Its stream handles encode frames into one shared outbound
//! buffer; the driver swaps that buffer out under the lock and writes it
//! with the lock released, so frames of many streams leave in one write
//! and no handle waits on a syscall:
//!
//! ```text
//! handles ──encode──▶ shared outbound ──take (swap)──▶ BatchWriter ──write, flush──▶ socket
//!                                     ◀──flushed(total)── (flush waiters wake)
//! ```
//!
//! Both buffers give their memory back when the connection is idle, so an
//! idle connection holds no read or write buffer.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

/// The write half of a muxer driver. See the module documentation.
#[derive(Debug, Default)]
pub struct BatchWriter {
    writing: BytesMut,
    write_pos: usize,
    written_total: u64,
    unflushed: bool,
}

impl BatchWriter {
    /// A writer with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes what is in flight, takes more with `take` (which swaps the
    /// queued bytes into the empty buffer it is given and says whether
    /// there were any), and flushes once nothing more is queued, telling
    /// `flushed` how many bytes were ever written and flushed (it returns
    /// whether nothing more waits: the buffer's memory goes then).
    /// Returns whether anything moved.
    pub fn poll_write<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut BytesMut) -> bool,
        mut flushed: impl FnMut(u64) -> bool,
    ) -> io::Result<bool> {
        let mut progress = false;
        loop {
            if self.write_pos == self.writing.len() {
                self.writing.clear();
                self.write_pos = 0;
                if take(&mut self.writing) {
                    progress = true;
                    continue;
                }
                if self.unflushed
                    && let Poll::Ready(result) = Pin::new(&mut *io).poll_flush(cx)
                {
                    result?;
                    self.unflushed = false;
                    progress = true;
                    if flushed(self.written_total) {
                        self.writing = BytesMut::new(); // idle: let the memory go
                    }
                }
                return Ok(progress);
            }
            match Pin::new(&mut *io).poll_write(cx, &self.writing[self.write_pos..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    self.write_pos += n;
                    self.written_total += n as u64;
                    self.unflushed = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(progress),
            }
        }
    }

    /// Whether bytes were taken but are not yet written and flushed.
    pub fn in_flight(&self) -> bool {
        self.write_pos < self.writing.len() || self.unflushed
    }
}

/// Reads what the socket has into `buf`, making room for `chunk` bytes
/// first: `Ready(Ok(0))` at its clean end. When nothing is there and
/// `buf` is empty, its memory goes (an idle connection holds no buffer).
pub fn poll_read_chunk<S: AsyncRead + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
    chunk: usize,
) -> Poll<io::Result<usize>> {
    buf.reserve(chunk);
    let result = tokio_util::io::poll_read_buf(Pin::new(io), cx, buf);
    if result.is_pending() && buf.is_empty() {
        *buf = BytesMut::new();
    }
    result
}
