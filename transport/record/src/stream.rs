//! `Recorded`: a byte stream that copies what crosses it to a recorder.
//!
//! Reads are recorded as `Inbound` once they have filled the caller's
//! buffer, writes as `Outbound` for the bytes the inner stream accepted;
//! a read of end-of-stream and a shutdown are recorded as `Closed`. The
//! inner stream is boxed, so that the security wrapper can recognise a
//! recorded stream (and its connection number) whatever transport made it.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use strata_core::ByteStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{Direction, Record, Recorder, Tap};

/// A stream whose bytes go to a [`Recorder`] as they pass.
pub struct Recorded {
    inner: Pin<Box<dyn ByteStream>>,
    recorder: Recorder,
    connection: u64,
    tap: Tap,
    read_closed: bool,
    write_closed: bool,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded").field("connection", &self.connection).field("tap", &self.tap).finish_non_exhaustive()
    }
}

impl Recorded {
    pub(crate) fn new(inner: impl ByteStream, recorder: Recorder, connection: u64, tap: Tap) -> Self {
        Self { inner: Box::pin(inner), recorder, connection, tap, read_closed: false, write_closed: false }
    }

    /// The connection's number in its recorder.
    pub fn connection(&self) -> u64 {
        self.connection
    }

    /// Where this stream records.
    pub fn tap(&self) -> Tap {
        self.tap
    }
}

impl AsyncRead for Recorded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(self.inner.as_mut().poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if read.is_empty() {
            if buf.remaining() > 0 && !self.read_closed {
                self.read_closed = true;
                let record =
                    Record::Closed { connection: self.connection, tap: self.tap, direction: Direction::Inbound };
                self.recorder.push(record);
            }
        } else {
            self.recorder.data(self.connection, self.tap, Direction::Inbound, read);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = ready!(self.inner.as_mut().poll_write(cx, buf))?;
        self.recorder.data(self.connection, self.tap, Direction::Outbound, &buf[..written]);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.inner.as_mut().poll_shutdown(cx))?;
        if std::mem::replace(&mut self.write_closed, true) {
            return Poll::Ready(Ok(()));
        }
        let record = Record::Closed { connection: self.connection, tap: self.tap, direction: Direction::Outbound };
        self.recorder.push(record);
        Poll::Ready(Ok(()))
    }
}
