//! The state one mplex connection's driver task and its stream handles
//! share: the sans-IO [`Session`] plus the wakers and the connection's
//! status.
//!
//! ```text
//! stream handles ──poll_write──▶ Session ──outbound bytes──▶ driver ──▶ socket
//!                ◀──poll_read─── Session ◀──receive── driver ◀── socket
//! ```
//!
//! Everything runs under one `std::sync::Mutex`, taken for a few
//! instructions at a time and never across an `.await`. After every call
//! into the session, [`State::dispatch`] turns its events into wakes, and
//! the driver is woken when frames were queued.

use std::{
    collections::{HashMap, VecDeque},
    io,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use bytes::BytesMut;
use tokio::io::ReadBuf;

use crate::{
    Error, Result,
    frame::{Frame, StreamId},
    session::{Event, Session, StreamError},
};

/// Where the connection is in its life.
#[derive(Clone, Debug)]
pub(crate) enum Status {
    /// Streams open and flow.
    Open,
    /// We are closing: no new streams; queued frames are being flushed.
    Closing,
    /// Ended cleanly, by either side.
    Closed,
    /// Ended by an error.
    Failed(Error),
}

/// The shared state, behind its mutex.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: crate::Config) -> Self {
        Self { state: Mutex::new(State::new(config)) }
    }

    /// The state, for a few instructions. A panic elsewhere while it was
    /// held cannot leave it half-updated in a way that matters here, so a
    /// poisoned lock is taken as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn stream_error(kind: io::ErrorKind, what: &'static str) -> io::Error {
    io::Error::new(kind, format!("mplex: {what}"))
}

fn io_error(error: StreamError) -> io::Error {
    match error {
        StreamError::Reset => stream_error(io::ErrorKind::ConnectionReset, "the stream was reset"),
        StreamError::Closed => stream_error(io::ErrorKind::BrokenPipe, "write after close"),
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) session: Session,
    read_wakers: HashMap<StreamId, Waker>,
    inbound: VecDeque<StreamId>,
    accept_waker: Option<Waker>,
    /// Writers waiting for room in the outbound queue, or for a flush.
    write_waiters: Vec<Waker>,
    driver_waker: Option<Waker>,
    /// What the session had queued when the driver was last woken for it.
    pumped_total: u64,
    flushed_total: u64,
    pub(crate) status: Status,
}

impl State {
    fn new(config: crate::Config) -> Self {
        Self {
            session: Session::new(config),
            read_wakers: HashMap::new(),
            inbound: VecDeque::new(),
            accept_waker: None,
            write_waiters: Vec::new(),
            driver_waker: None,
            pumped_total: 0,
            flushed_total: 0,
            status: Status::Open,
        }
    }

    fn is_open(&self) -> bool {
        matches!(self.status, Status::Open)
    }

    fn wake_driver(&mut self) {
        if let Some(waker) = self.driver_waker.take() {
            waker.wake();
        }
    }

    fn wake_writers(&mut self) {
        for waker in self.write_waiters.drain(..) {
            waker.wake();
        }
    }

    /// Turns the session's events into wakes, and wakes the driver for
    /// frames queued since last time.
    fn dispatch(&mut self) {
        while let Some(event) = self.session.next_event() {
            match event {
                Event::Inbound(id) => {
                    self.inbound.push_back(id);
                    if let Some(waker) = self.accept_waker.take() {
                        waker.wake();
                    }
                }
                Event::Readable(id) => {
                    if let Some(waker) = self.read_wakers.remove(&id) {
                        waker.wake();
                    }
                }
                Event::Reset(_) => self.wake_writers(),
                Event::Unblocked => self.wake_driver(),
            }
        }
        let queued = self.session.queued_total();
        if queued != self.pumped_total {
            self.pumped_total = queued;
            self.wake_driver();
        }
    }

    // ----- the driver's side -----

    /// Leaves the driver's waker, for handles that give it work.
    pub(crate) fn set_driver_waker(&mut self, waker: &Waker) {
        if !self.driver_waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.driver_waker = Some(waker.clone());
        }
    }

    /// Applies one frame from the remote.
    pub(crate) fn receive(&mut self, frame: Frame) -> Result<()> {
        let result = self.session.receive(frame);
        self.dispatch();
        result
    }

    /// Swaps the queued frames into `buf` (which must be empty), freeing
    /// the queue for writers.
    pub(crate) fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        let took = self.session.take_outbound(buf);
        if took {
            self.wake_writers();
        }
        took
    }

    /// Whether frames wait in the outbound queue.
    pub(crate) fn has_outbound(&self) -> bool {
        self.session.outbound_len() > 0
    }

    /// Records that the first `total` bytes ever queued are written and
    /// flushed; returns whether nothing more waits.
    pub(crate) fn flushed(&mut self, total: u64) -> bool {
        self.flushed_total = total;
        self.session.flushed(total);
        self.wake_writers();
        !self.has_outbound()
    }

    /// Ends the connection: every waiting party learns it.
    pub(crate) fn finish(&mut self, result: Result<()>) {
        self.status = match result {
            Ok(()) => Status::Closed,
            Err(error) => {
                tracing::debug!(%error, "mplex: connection failed");
                Status::Failed(error)
            }
        };
        for (_, waker) in self.read_wakers.drain() {
            waker.wake();
        }
        if let Some(waker) = self.accept_waker.take() {
            waker.wake();
        }
        self.wake_writers();
    }

    /// Starts a local close.
    pub(crate) fn start_close(&mut self) {
        if self.is_open() {
            self.status = Status::Closing;
            self.wake_driver();
        }
    }

    // ----- the connection handle's side -----

    /// Allocates and announces a new outbound stream.
    pub(crate) fn open(&mut self) -> Result<StreamId> {
        if !self.is_open() {
            return Err(Error::Closed);
        }
        let id = self.session.open()?;
        self.dispatch();
        Ok(id)
    }

    /// The next stream the remote opened, or the end of the connection.
    pub(crate) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<StreamId>>> {
        if let Some(id) = self.inbound.pop_front() {
            return Poll::Ready(Ok(Some(id)));
        }
        match &self.status {
            Status::Open => {
                self.accept_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Status::Closing | Status::Closed => Poll::Ready(Ok(None)),
            Status::Failed(error) => Poll::Ready(Err(error.clone())),
        }
    }

    // ----- the stream handles' side -----

    pub(crate) fn poll_read(
        &mut self,
        id: StreamId,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Straight into the caller's buffer, initialised or not.
        let n = self.session.read_with(id, buf.remaining(), |chunk| buf.put_slice(chunk)).map_err(io_error)?;
        if n > 0 {
            self.dispatch();
            return Poll::Ready(Ok(()));
        }
        if self.session.is_finished_reading(id) {
            return Poll::Ready(Ok(()));
        }
        if !matches!(self.status, Status::Open | Status::Closing) {
            return Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection ended")));
        }
        self.read_wakers.insert(id, cx.waker().clone());
        Poll::Pending
    }

    pub(crate) fn poll_write(&mut self, id: StreamId, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if !self.is_open() {
            return Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection is closed")));
        }
        if self.session.outbound_len() >= self.session.config().max_outbound_queue {
            self.session.check_writable(id).map_err(io_error)?; // a reset stream fails now, not later
            self.write_waiters.push(cx.waker().clone());
            return Poll::Pending;
        }
        let n = self.session.write(id, data).map_err(io_error)?;
        self.dispatch();
        Poll::Ready(Ok(n))
    }

    /// Ready once every byte queued so far is written and flushed.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.flushed_total >= self.session.queued_total() {
            return Poll::Ready(Ok(()));
        }
        match &self.status {
            Status::Open | Status::Closing => {
                self.write_waiters.push(cx.waker().clone());
                Poll::Pending
            }
            Status::Closed | Status::Failed(_) => {
                Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection ended")))
            }
        }
    }

    /// Half-closes the stream: sends Close once.
    pub(crate) fn close(&mut self, id: StreamId) -> io::Result<()> {
        if !self.is_open() {
            return Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection is closed"));
        }
        self.session.close(id).map_err(io_error)?;
        self.dispatch();
        Ok(())
    }

    /// The handle is gone: see [`Session::drop_stream`].
    pub(crate) fn drop_stream(&mut self, id: StreamId) {
        let open = self.is_open();
        self.read_wakers.remove(&id);
        self.inbound.retain(|queued| *queued != id);
        self.session.drop_stream(id, open);
        self.dispatch();
    }
}
