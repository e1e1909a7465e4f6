//! `YamuxConnection` and its driver: the one task that owns the socket.
//!
//! The driver loops over its jobs until the connection ends:
//!
//! 1. **write**: take every encoded frame the streams queued (one swap
//!    under the lock) and write it out, flushing when nothing more waits,
//!    so frames of many streams leave in one batch (the Noise layer below
//!    cuts it into frames of its own maximum size);
//! 2. **read**: read what the socket has, decode every complete frame and
//!    apply it to the session, unless the streams hold more unread than
//!    the connection window allows (then the remote waits, through TCP);
//! 3. **keep-alive**: ping on the configured interval (the first ping,
//!    at the start, measures the round trip that window growth uses);
//! 4. **close**: once closing (asked, or after a protocol error, whose
//!    go-away goes out first), flush and shut the socket down within the
//!    close timeout.
//!
//! It sleeps when none of them can move, woken by the socket, a timer or a
//! handle that gave it work.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::BytesMut;
use strata_core::{
    ByteStream, MuxedConnection,
    muxer_io::{BatchWriter, poll_read_chunk},
};
use tokio::{task::JoinHandle, time::Sleep};

use crate::{
    Config, Error, Result, YamuxStream,
    frame::{Decoder, GoAway},
    session::Role,
    shared::{Shared, Status},
};

/// How much room the driver makes before each socket read.
const READ_CHUNK: usize = 64 * 1024;

/// How often a driver held back by the node's memory budget looks again
/// (other connections free it, with no way to wake this one).
const BUDGET_RETRY: Duration = Duration::from_millis(20);

/// The value of the round-trip pings (any value works; the answer echoes it).
const RTT_PING: u32 = 0x7961_6d78;

/// A live yamux connection: opens and accepts streams. Dropping it closes
/// the connection and every stream on it.
pub struct YamuxConnection {
    shared: Arc<Shared>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl YamuxConnection {
    /// Starts the driver task over `io` (on the current tokio runtime).
    pub(crate) fn spawn<S: ByteStream>(io: S, role: Role, config: &Config) -> Self {
        let shared = Arc::new(Shared::new(role, config.clone()));
        {
            let mut inner = shared.lock();
            inner.session.measure_rtt(RTT_PING, Instant::now());
            inner.pump();
        }
        let driver = Driver {
            io,
            shared: Arc::clone(&shared),
            decoder: Decoder::new(config.max_frame_len),
            read_buf: BytesMut::new(),
            writer: BatchWriter::new(),
            close_deadline: None,
            close_timeout: config.close_timeout,
            keep_alive: config.keep_alive.map(|interval| (interval, Box::pin(tokio::time::sleep(interval)))),
            budget_retry: None,
            stalled: None,
            stall_timeout: config.stall_timeout,
            failure: None,
        };
        let handle = tokio::spawn(driver);
        Self { shared, driver: Mutex::new(Some(handle)) }
    }
}

impl MuxedConnection for YamuxConnection {
    type Stream = YamuxStream;
    type Error = Error;

    async fn open_stream(&self) -> Result<YamuxStream> {
        let id = std::future::poll_fn(|cx| self.shared.lock().poll_open(cx)).await?;
        Ok(YamuxStream::new(id, Arc::clone(&self.shared)))
    }

    async fn accept_stream(&self) -> Result<Option<YamuxStream>> {
        let id = std::future::poll_fn(|cx| self.shared.lock().poll_accept(cx)).await?;
        Ok(id.map(|id| YamuxStream::new(id, Arc::clone(&self.shared))))
    }

    async fn close(&self) -> Result<()> {
        self.shared.lock().start_close();
        let driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(driver) = driver {
            driver.await.map_err(|e| Error::Io(format!("the driver task failed: {e}")))?;
        }
        match &self.shared.lock().status {
            Status::Failed(error) => Err(error.clone()),
            _ => Ok(()),
        }
    }
}

impl Drop for YamuxConnection {
    fn drop(&mut self) {
        self.shared.lock().start_close();
    }
}

impl std::fmt::Debug for YamuxConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YamuxConnection").field("status", &self.shared.lock().status).finish_non_exhaustive()
    }
}

/// The task that owns the socket. See the module documentation.
struct Driver<S> {
    io: S,
    shared: Arc<Shared>,
    decoder: Decoder,
    read_buf: BytesMut,
    writer: BatchWriter,
    close_deadline: Option<Pin<Box<Sleep>>>,
    close_timeout: Duration,
    keep_alive: Option<(Duration, Pin<Box<Sleep>>)>,
    /// While the node's memory budget holds reading back: when to look again.
    budget_retry: Option<Pin<Box<Sleep>>>,
    /// Since reading paused for frames the peer provoked and does not read.
    stalled: Option<Pin<Box<Sleep>>>,
    stall_timeout: Duration,
    /// The protocol error that made us close, reported once closed.
    failure: Option<Error>,
}

impl<S: ByteStream> Driver<S> {
    /// Writes what is queued; flushes when nothing more is. Returns whether
    /// anything moved.
    fn poll_write_side(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let shared = &self.shared;
        self.writer.poll_write(
            &mut self.io,
            cx,
            |buf| shared.lock().take_outbound(buf),
            |total| shared.lock().flushed(total),
        )
    }

    /// Applies every complete frame read so far, then reads more. Returns
    /// whether anything moved, or `None` at the socket's clean end.
    fn poll_read_side(&mut self, cx: &mut Context<'_>) -> Result<Option<bool>> {
        let mut progress = false;
        loop {
            {
                let mut inner = self.shared.lock();
                let now = Instant::now();
                let mut received = false;
                while !inner.over_window() {
                    let decoded = self.decoder.decode(&mut self.read_buf).inspect_err(|_| {
                        inner.session.go_away_with(GoAway::ProtocolError); // the spec's answer
                    });
                    match decoded? {
                        Some(frame) => {
                            inner.receive(frame, now)?;
                            received = true;
                        }
                        None => break,
                    }
                }
                if received {
                    inner.received_batch();
                    progress = true;
                }
                inner.paused = inner.over_window();
                if inner.owes_too_much() {
                    // A peer that provokes frames and reads none of them
                    // loses its connection once this has lasted.
                    let timeout = self.stall_timeout;
                    let stall = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                    if stall.as_mut().poll(cx).is_ready() {
                        return Err(Error::Stalled(timeout));
                    }
                } else {
                    self.stalled = None;
                }
                if inner.paused {
                    // A reading handle wakes us; for the node's budget, a timer too.
                    if inner.node_over_budget() {
                        drop(inner);
                        let retry = self.budget_retry.get_or_insert_with(|| Box::pin(tokio::time::sleep(BUDGET_RETRY)));
                        if retry.as_mut().poll(cx).is_ready() {
                            self.budget_retry = None;
                            progress = true; // run the loop again: the budget may have room now
                        }
                    }
                    return Ok(Some(progress));
                }
            }
            match poll_read_chunk(&mut self.io, cx, &mut self.read_buf, READ_CHUNK) {
                Poll::Ready(Ok(0)) => return Ok(None),
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(e)) => return Err(Error::Io(e.to_string())),
                Poll::Pending => return Ok(Some(progress)),
            }
        }
    }

    /// Pings on the keep-alive interval; fails if the last ping is still
    /// unanswered.
    fn poll_keep_alive(&mut self, cx: &mut Context<'_>) -> Result<()> {
        let Some((interval, timer)) = &mut self.keep_alive else { return Ok(()) };
        while timer.as_mut().poll(cx).is_ready() {
            let mut inner = self.shared.lock();
            if inner.session.probe_in_flight() {
                return Err(Error::KeepAliveTimeout(*interval));
            }
            let now = Instant::now();
            inner.session.measure_rtt(RTT_PING, now);
            inner.pump();
            timer.as_mut().reset((now + *interval).into());
        }
        Ok(())
    }

    /// Once closing: ready when everything queued is out and the socket is
    /// shut down.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let deadline = self.close_deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(self.close_timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(self
                .failure
                .take()
                .unwrap_or_else(|| Error::Io("closing timed out with frames unsent".into()))));
        }
        if self.writer.in_flight() || self.shared.lock().has_outbound() {
            return Poll::Pending; // the write side is still at work, and will wake us
        }
        let shutdown = std::task::ready!(Pin::new(&mut self.io).poll_shutdown(cx));
        Poll::Ready(match self.failure.take() {
            Some(error) => Err(error),
            None => shutdown.map_err(|e| Error::Io(e.to_string())),
        })
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            let closing = {
                let mut inner = self.shared.lock();
                inner.set_driver_waker(cx.waker());
                matches!(inner.status, Status::Closing)
            };
            let wrote = self.poll_write_side(cx).map_err(|e| Error::Io(e.to_string()))?;
            if closing {
                match self.poll_close(cx) {
                    Poll::Ready(result) => return Poll::Ready(result),
                    Poll::Pending if wrote => continue,
                    Poll::Pending => return Poll::Pending,
                }
            }
            let read = match self.poll_read_side(cx) {
                Ok(Some(read)) => read,
                Ok(None) => return Poll::Ready(Ok(())), // the remote closed the connection
                Err(error @ (Error::Protocol(_) | Error::Frame(_))) => {
                    // A protocol error: the session queued its go-away;
                    // send it, then end with the error.
                    tracing::debug!(%error, "yamux: closing the connection");
                    self.failure = Some(error.clone());
                    self.shared.lock().start_failing(error);
                    continue;
                }
                Err(error) => return Poll::Ready(Err(error)), // nothing more can be sent
            };
            if let Err(error) = self.poll_keep_alive(cx) {
                return Poll::Ready(Err(error));
            }
            if !wrote && !read {
                return Poll::Pending;
            }
        }
    }
}

impl<S: ByteStream> Future for Driver<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let result = std::task::ready!(this.poll_run(cx));
        this.shared.lock().finish(result);
        Poll::Ready(())
    }
}
