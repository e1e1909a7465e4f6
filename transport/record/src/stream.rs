//! `Recorded`: a byte stream that copies what crosses it to a recorder.
//!
//! Reads are recorded as `Inbound` once they have filled the caller's
//! buffer, writes as `Outbound` for the bytes the inner stream accepted;
//! a read of end-of-stream and a shutdown are recorded as `Closed`. The
//! inner stream is boxed: one type whatever transport made it.
//!
//! **Finding a stream's connection through wrappers.** Between the
//! transport and the security layer the host boxes the raw stream and
//! multistream-select may wrap it, so the security wrapper cannot name the
//! [`Recorded`] below it. It asks instead: a [`Probe`] around the stream it
//! is given marks the thread while it polls its inner stream, and the first
//! `Recorded` polled under that mark (the same call, down through every
//! wrapper) leaves its connection number in the probe. Exact even with
//! many connections upgrading at once.

use std::{
    cell::Cell,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
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

thread_local! {
    /// While a probe polls: where the first raw `Recorded` below it leaves
    /// its connection number.
    static PROBING: Cell<Option<u64>> = const { Cell::new(None) };
    static PROBE_ACTIVE: Cell<bool> = const { Cell::new(false) };
}

impl Recorded {
    /// Answers a probe polling above this stream, if any.
    fn answer_probe(&self) {
        if self.tap == Tap::Raw && PROBE_ACTIVE.get() && PROBING.get().is_none() {
            PROBING.set(Some(self.connection));
        }
    }
}

/// A stream that learns the connection number of the raw [`Recorded`]
/// somewhere below it (see the module docs).
pub(crate) struct Probe<S> {
    inner: S,
    found: Arc<AtomicU64>,
}

impl<S> Probe<S> {
    /// A probe around `inner`, and where it will put the number (0 until
    /// found).
    pub(crate) fn new(inner: S) -> (Self, Arc<AtomicU64>) {
        let found = Arc::new(AtomicU64::new(0));
        (Self { inner, found: Arc::clone(&found) }, found)
    }

    /// Runs one poll of the inner stream under the mark, until found.
    fn probing<T>(&mut self, poll: impl FnOnce(&mut S) -> T) -> T {
        if self.found.load(Ordering::Relaxed) != 0 {
            return poll(&mut self.inner);
        }
        let outer = (PROBE_ACTIVE.replace(true), PROBING.take());
        let result = poll(&mut self.inner);
        if let Some(connection) = PROBING.get() {
            self.found.store(connection, Ordering::Relaxed);
        }
        PROBE_ACTIVE.set(outer.0);
        PROBING.set(outer.1);
        result
    }
}

impl<S: ByteStream> AsyncRead for Probe<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.probing(|inner| Pin::new(inner).poll_read(cx, buf))
    }
}

impl<S: ByteStream> AsyncWrite for Probe<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.probing(|inner| Pin::new(inner).poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.probing(|inner| Pin::new(inner).poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.probing(|inner| Pin::new(inner).poll_shutdown(cx))
    }
}

impl AsyncRead for Recorded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.answer_probe();
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
        self.answer_probe();
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
