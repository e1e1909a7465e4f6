//! `muxer::Connection` and its driver: the one task per connection that
//! owns the socket, for every muxer.
//!
//! The driver loops over its jobs until the connection ends:
//!
//! 1. **write**: take every encoded frame the streams queued (one swap
//!    under the lock) and write it out, flushing when nothing more waits,
//!    so frames of many streams leave in one batch
//!    ([`BatchWriter`]; the security layer below cuts it into its frames);
//! 2. **read**: read what the socket has and hand it to the session frame
//!    by frame, unless the session or the node's memory budget says
//!    reading must pause (then the remote waits, through TCP);
//! 3. **time**: sleep until the session's next deadline and hand it `now`
//!    ([`Session::handle_timeout`]): keep-alive, stall and close live in
//!    the session, not here;
//! 4. **close**: once closing (asked, or after a protocol error, whose
//!    answer goes out first), flush and shut the socket down.
//!
//! It sleeps when none of them can move, woken by the socket, its one
//! timer, the memory budget, or a handle that gave it work.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Instant,
};

use bytes::BytesMut;
use tokio::{task::JoinHandle, time::Sleep};

use super::{
    ConnectionConfig, Error, Session, Stream, now,
    shared::{Shared, Status},
};
use crate::{
    ByteStream, MuxedConnection,
    muxer_io::{BatchWriter, poll_read_chunk},
};

/// How much room the driver makes before each socket read.
const READ_CHUNK: usize = 64 * 1024;

/// A live muxed connection over the session `S`: opens and accepts
/// streams. Dropping it closes the connection and every stream on it.
pub struct Connection<S: Session> {
    shared: Arc<Shared<S>>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl<S: Session> Connection<S> {
    /// Starts the driver task of `session` over `io`, on the current tokio
    /// runtime.
    pub fn spawn<IO: ByteStream>(io: IO, mut session: S, config: ConnectionConfig) -> Self {
        session.start(now());
        let shared = Arc::new(Shared::new(session, config));
        shared.lock().pump();
        let driver = Driver {
            io,
            shared: Arc::clone(&shared),
            read_buf: BytesMut::new(),
            writer: BatchWriter::new(),
            timer: None,
            failure: None,
        };
        let handle = tokio::spawn(driver);
        Self { shared, driver: Mutex::new(Some(handle)) }
    }
}

type Result<T, P> = std::result::Result<T, Error<P>>;

impl<S: Session> MuxedConnection for Connection<S> {
    type Stream = Stream<S>;
    type Error = Error<S::ProtocolError>;

    async fn open_stream(&self) -> Result<Stream<S>, S::ProtocolError> {
        let id = std::future::poll_fn(|cx| self.shared.lock().poll_open(cx)).await?;
        Ok(Stream::new(id, Arc::clone(&self.shared)))
    }

    async fn accept_stream(&self) -> Result<Option<Stream<S>>, S::ProtocolError> {
        let id = std::future::poll_fn(|cx| self.shared.lock().poll_accept(cx)).await?;
        Ok(id.map(|id| Stream::new(id, Arc::clone(&self.shared))))
    }

    async fn close(&self) -> Result<(), S::ProtocolError> {
        self.shared.lock().start_close();
        let driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(driver) = driver {
            driver.await.map_err(io::Error::other)?;
        }
        match &self.shared.lock().status {
            Status::Failed(error) => Err(error.clone()),
            _ => Ok(()),
        }
    }
}

impl<S: Session> Drop for Connection<S> {
    fn drop(&mut self) {
        self.shared.lock().start_close();
    }
}

impl<S: Session> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("muxer", &S::NAME)
            .field("status", &self.shared.lock().status)
            .finish_non_exhaustive()
    }
}

/// The task that owns the socket. See the module documentation.
struct Driver<S: Session, IO> {
    io: IO,
    shared: Arc<Shared<S>>,
    read_buf: BytesMut,
    writer: BatchWriter,
    /// The session's next deadline, and the sleep until it (made on the
    /// first deadline: most connections never have one).
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
    /// The protocol error that made us close, reported once closed.
    failure: Option<Error<S::ProtocolError>>,
}

impl<S: Session, IO: ByteStream> Driver<S, IO> {
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

    /// Hands every complete frame read so far to the session, then reads
    /// more. Returns whether anything moved, or `None` at the socket's
    /// clean end.
    fn poll_read_side(&mut self, cx: &mut Context<'_>) -> Result<Option<bool>, S::ProtocolError> {
        let mut progress = false;
        loop {
            {
                let mut inner = self.shared.lock();
                let now = now();
                let mut received = false;
                let mut outcome = Ok(());
                while !inner.reading_paused() {
                    match inner.session.handle_input(&mut self.read_buf, now) {
                        Ok(true) => {
                            received = true;
                            inner.account(); // the budget is checked between frames
                        }
                        Ok(false) => break,
                        Err(error) => {
                            outcome = Err(Error::Protocol(error));
                            break;
                        }
                    }
                }
                if received {
                    inner.received_batch();
                    progress = true;
                }
                outcome?;
                inner.paused = inner.reading_paused();
                if inner.paused {
                    // Paused by our own streams: a reading handle wakes
                    // us. Paused by the node's budget alone: wait on the
                    // budget, whose `poll_room` registers us and looks
                    // again, so room freed by another connection's reader
                    // at any moment since `reading_paused` is not missed.
                    let budget = inner.config.memory_budget.clone();
                    let by_session = inner.session.reading_paused();
                    drop(inner);
                    if !by_session
                        && let Some(budget) = budget
                        && budget.poll_room(cx).is_ready()
                    {
                        continue; // the budget has room again
                    }
                    return Ok(Some(progress));
                }
            }
            match poll_read_chunk(&mut self.io, cx, &mut self.read_buf, READ_CHUNK) {
                Poll::Ready(Ok(0)) => return Ok(None),
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(e)) => return Err(e.into()),
                Poll::Pending => return Ok(Some(progress)),
            }
        }
    }

    /// Sleeps until the session's next deadline (as it was at the top of
    /// the loop); when it comes, hands the session `now`. Returns whether
    /// anything was due.
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Result<bool, S::ProtocolError> {
        let Some(deadline) = deadline else {
            self.timer = None;
            return Ok(false);
        };
        let at = tokio::time::Instant::from_std(deadline);
        let (armed, sleep) = self.timer.get_or_insert_with(|| (deadline, Box::pin(tokio::time::sleep_until(at))));
        if *armed != deadline {
            *armed = deadline;
            sleep.as_mut().reset(at);
        }
        if sleep.as_mut().poll(cx).is_pending() {
            return Ok(false);
        }
        self.timer = None;
        let mut inner = self.shared.lock();
        inner.session.handle_timeout(now())?;
        inner.pump();
        Ok(true)
    }

    /// Once closing: ready when everything queued is out and the socket is
    /// shut down.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::ProtocolError>> {
        if self.writer.in_flight() || self.shared.lock().has_outbound() {
            return Poll::Pending; // the write side is still at work, and will wake us
        }
        let shutdown = std::task::ready!(Pin::new(&mut self.io).poll_shutdown(cx));
        Poll::Ready(match self.failure.take() {
            Some(error) => Err(error),
            None => shutdown.map_err(Error::from),
        })
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::ProtocolError>> {
        loop {
            let (closing, deadline) = {
                let mut inner = self.shared.lock();
                inner.set_driver_waker(cx.waker());
                (matches!(inner.status, Status::Closing), inner.session.poll_timeout())
            };
            let wrote = self.poll_write_side(cx)?;
            let mut read = false;
            if closing {
                if let Poll::Ready(result) = self.poll_close(cx) {
                    return Poll::Ready(result);
                }
            } else {
                match self.poll_read_side(cx) {
                    Ok(Some(moved)) => read = moved,
                    Ok(None) => return Poll::Ready(Ok(())), // the remote closed the connection
                    Err(error @ Error::Protocol(_)) => {
                        // The session queued its answer (a go-away): send
                        // it, then end with the error.
                        tracing::debug!(muxer = S::NAME, %error, "closing the connection");
                        self.failure = Some(error.clone());
                        self.shared.lock().start_failing(error);
                        continue;
                    }
                    Err(error) => return Poll::Ready(Err(error)), // nothing more can be sent
                }
            }
            let timed = match self.poll_timer(cx, deadline) {
                Ok(timed) => timed,
                // Past the close deadline, the error we were closing for.
                Err(error) => return Poll::Ready(Err(self.failure.take().unwrap_or(error))),
            };
            if !wrote && !read && !timed {
                return Poll::Pending;
            }
        }
    }
}

impl<S: Session, IO: ByteStream> Future for Driver<S, IO> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let result = std::task::ready!(this.poll_run(cx));
        this.shared.lock().finish(result);
        Poll::Ready(())
    }
}
