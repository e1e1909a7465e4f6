//! The state one yamux connection's driver task and its stream handles
//! share: the sans-IO [`Session`] plus the wakers and the encoded bytes
//! waiting for the socket.
//!
//! ```text
//! stream handles ──poll_write──▶ Session ──frames──▶ outbound bytes ──▶ driver ──▶ socket
//!                ◀──poll_read─── Session ◀──receive── driver ◀── socket
//! ```
//!
//! Everything runs under one `std::sync::Mutex`, taken for a few
//! instructions at a time and never across an `.await`. After every call
//! into the session, [`Inner::pump`] encodes the frames it queued and
//! wakes the driver, and [`Inner::dispatch`] turns its events into wakes.

use std::{
    collections::{HashMap, VecDeque},
    io,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
    time::Instant,
};

use bytes::BytesMut;
use tokio::io::ReadBuf;

use crate::{
    Config, Error, Result,
    frame::Frame,
    session::{Event, Role, Session, SessionError, StreamError},
};

/// Where the connection is in its life.
#[derive(Clone, Debug)]
pub(crate) enum Status {
    /// Streams open and flow.
    Open,
    /// Closing (by us, or after a protocol error): no new streams; what is
    /// queued is being flushed.
    Closing,
    /// Ended cleanly, by either side.
    Closed,
    /// Ended by an error.
    Failed(Error),
}

/// The most one `poll_write` takes.
const WRITE_TURN: usize = 64 * 1024;

/// The wakers of one stream's handle.
#[derive(Debug, Default)]
struct Wakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

impl Wakers {
    fn wake_read(&mut self) {
        if let Some(waker) = self.read.take() {
            waker.wake();
        }
    }

    fn wake_write(&mut self) {
        if let Some(waker) = self.write.take() {
            waker.wake();
        }
    }
}

/// The shared state, behind its mutex.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn new(role: Role, config: Config) -> Self {
        Self { inner: Mutex::new(Inner::new(role, config)) }
    }

    /// The state, for a few instructions. A poisoned lock is taken as is:
    /// a panic elsewhere cannot leave it half-updated in a way that matters.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn stream_error(kind: io::ErrorKind, what: &'static str) -> io::Error {
    io::Error::new(kind, format!("yamux: {what}"))
}

fn io_error(error: StreamError) -> io::Error {
    match error {
        StreamError::Unknown | StreamError::Reset => {
            stream_error(io::ErrorKind::ConnectionReset, "the stream was reset")
        }
        StreamError::Closed => stream_error(io::ErrorKind::BrokenPipe, "write after close"),
        _ => stream_error(io::ErrorKind::ConnectionAborted, "the connection ended"),
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) session: Session,
    pub(crate) config: Config,
    wakers: HashMap<u32, Wakers>,
    inbound: VecDeque<u32>,
    accept_waker: Option<Waker>,
    open_waiters: Vec<Waker>,
    driver_waker: Option<Waker>,
    /// What the session had queued when the driver was last woken for it.
    pumped_total: u64,
    flushed_total: u64,
    /// Writers waiting for room in `outbound`, or for a flush.
    write_waiters: Vec<Waker>,
    pub(crate) status: Status,
    /// The driver stopped reading: streams hold too much unread.
    pub(crate) paused: bool,
    /// What this connection added to the node's memory budget.
    accounted: usize,
    /// The error the connection is closing for (its go-away still going out).
    failing: Option<Error>,
}

impl Inner {
    fn new(role: Role, config: Config) -> Self {
        Self {
            session: Session::new(role, config.session.clone()),
            config,
            wakers: HashMap::new(),
            inbound: VecDeque::new(),
            accept_waker: None,
            open_waiters: Vec::new(),
            driver_waker: None,
            pumped_total: 0,
            flushed_total: 0,
            write_waiters: Vec::new(),
            status: Status::Open,
            paused: false,
            accounted: 0,
            failing: None,
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

    fn wake_all(waiters: &mut Vec<Waker>) {
        for waker in waiters.drain(..) {
            waker.wake();
        }
    }

    /// Wakes the driver if the session queued frames since last time.
    pub(crate) fn pump(&mut self) {
        let queued = self.session.queued_total();
        if queued != self.pumped_total {
            self.pumped_total = queued;
            self.wake_driver();
        }
    }

    /// Turns the session's events into wakes.
    fn dispatch(&mut self) {
        while let Some(event) = self.session.next_event() {
            match event {
                Event::Inbound(id) => {
                    self.wakers.insert(id, Wakers::default());
                    self.inbound.push_back(id);
                    if let Some(waker) = self.accept_waker.take() {
                        waker.wake();
                    }
                }
                Event::Readable(id) | Event::RemoteClosed(id) => {
                    if let Some(wakers) = self.wakers.get_mut(&id) {
                        wakers.wake_read();
                    }
                }
                Event::Writable(id) => {
                    if let Some(wakers) = self.wakers.get_mut(&id) {
                        wakers.wake_write();
                    }
                }
                Event::Reset(id) => {
                    tracing::debug!(id, "yamux: stream reset by the remote");
                    if let Some(wakers) = self.wakers.get_mut(&id) {
                        wakers.wake_read();
                        wakers.wake_write();
                    }
                }
                Event::GoAway(code) => {
                    tracing::debug!(?code, "yamux: the remote is going away");
                    if let Some(waker) = self.accept_waker.take() {
                        waker.wake();
                    }
                    Self::wake_all(&mut self.open_waiters);
                }
                Event::Pong(_) => {}
            }
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
    /// Applies one frame from the remote; what it wakes waits for
    /// [`Inner::received_batch`].
    pub(crate) fn receive(&mut self, frame: Frame, now: Instant) -> Result<(), SessionError> {
        self.session.receive(frame, now)
    }

    /// After a batch of frames: readers, writers and acceptors are woken
    /// once for the whole batch (not once per frame, each to wait for the
    /// lock the driver still holds), answers go out, and openers waiting
    /// for the ACK backlog to shrink look again.
    pub(crate) fn received_batch(&mut self) {
        self.account();
        self.dispatch();
        self.pump();
        Self::wake_all(&mut self.open_waiters);
    }

    /// Whether reading must pause: the streams hold too much unread, the
    /// node's memory budget is spent, or the remote provoked more frames
    /// than it reads (see [`Inner::owes_too_much`]).
    pub(crate) fn over_window(&self) -> bool {
        self.session.buffered() as u64 > self.config.session.max_connection_window
            || self.node_over_budget()
            || self.owes_too_much()
    }

    /// Whether the frames the remote provoked and does not read pass the
    /// outbound queue's size. Only those count: our own data is bounded by
    /// the windows and the queue already, and pausing for it could leave
    /// two peers that write to each other each waiting for the other.
    pub(crate) fn owes_too_much(&self) -> bool {
        self.session.provoked_unsent() >= self.config.max_outbound_queue
    }

    /// Whether the node's memory budget (if any) is spent.
    pub(crate) fn node_over_budget(&self) -> bool {
        self.config.memory_budget.as_ref().is_some_and(strata_core::MemoryBudget::is_over)
    }

    /// Brings the node's memory budget up to date with what the streams
    /// hold unread now.
    fn account(&mut self) {
        let Some(budget) = &self.config.memory_budget else { return };
        if matches!(self.status, Status::Closed | Status::Failed(_)) {
            return; // released at the end, whatever is still read after
        }
        let now = self.session.buffered();
        if now > self.accounted {
            budget.add(now - self.accounted);
        } else {
            budget.remove(self.accounted - now);
        }
        self.accounted = now;
    }

    /// Swaps the queued bytes into `buf` (which must be empty).
    pub(crate) fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        if !self.session.take_outbound(buf) {
            return false;
        }
        Self::wake_all(&mut self.write_waiters);
        true
    }

    /// Whether bytes wait in the outbound queue.
    pub(crate) fn has_outbound(&self) -> bool {
        self.session.outbound_len() > 0
    }

    /// Records that the first `total` bytes ever queued are written and
    /// flushed; returns whether nothing more waits.
    pub(crate) fn flushed(&mut self, total: u64) -> bool {
        self.flushed_total = total;
        Self::wake_all(&mut self.write_waiters);
        self.session.shrink_outbound();
        !self.has_outbound()
    }

    /// Starts closing: a go-away goes out, no new streams.
    pub(crate) fn start_close(&mut self) {
        if self.is_open() {
            self.status = Status::Closing;
            self.session.go_away();
            self.pump();
            self.wake_driver();
            self.wake_everyone();
        }
    }

    /// Starts closing for `error`: the go-away the session queued goes
    /// out, and waiting parties learn the error at once.
    pub(crate) fn start_failing(&mut self, error: Error) {
        self.failing = Some(error);
        self.start_close();
    }

    fn wake_everyone(&mut self) {
        for wakers in self.wakers.values_mut() {
            wakers.wake_read();
            wakers.wake_write();
        }
        if let Some(waker) = self.accept_waker.take() {
            waker.wake();
        }
        Self::wake_all(&mut self.open_waiters);
        Self::wake_all(&mut self.write_waiters);
    }

    /// Ends the connection: every waiting party learns it.
    pub(crate) fn finish(&mut self, result: Result<()>) {
        self.status = match result {
            Ok(()) => Status::Closed,
            Err(error) => {
                tracing::debug!(%error, "yamux: connection failed");
                Status::Failed(error)
            }
        };
        if let Some(budget) = &self.config.memory_budget {
            budget.remove(std::mem::take(&mut self.accounted)); // the connection's buffers go with it
        }
        self.wake_everyone();
    }

    // ----- the connection handle's side -----

    /// Opens a stream, or waits while the remote has too many of ours
    /// unacknowledged.
    pub(crate) fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<u32>> {
        if !self.is_open() {
            return Poll::Ready(Err(self.ended_error()));
        }
        match self.session.open(Instant::now()) {
            Ok(id) => {
                self.wakers.insert(id, Wakers::default());
                self.pump();
                Poll::Ready(Ok(id))
            }
            Err(StreamError::AckBacklog) => {
                self.open_waiters.push(cx.waker().clone());
                Poll::Pending
            }
            Err(StreamError::TooMany) => Poll::Ready(Err(Error::TooManyStreams(self.config.session.max_streams))),
            Err(_) => Poll::Ready(Err(Error::Closed)),
        }
    }

    fn ended_error(&self) -> Error {
        match (&self.status, &self.failing) {
            (Status::Failed(error), _) | (_, Some(error)) => error.clone(),
            _ => Error::Closed,
        }
    }

    /// The next stream the remote opened (acknowledged now), or the end.
    pub(crate) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<u32>>> {
        if let Some(id) = self.inbound.pop_front() {
            // A stream reset before it was accepted is still handed out:
            // its reads fail, as they would have a moment later.
            let _ = self.session.accept(id);
            self.pump();
            return Poll::Ready(Ok(Some(id)));
        }
        match &self.status {
            Status::Open if !self.session.is_ended() => {
                self.accept_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Status::Failed(_) => Poll::Ready(Err(self.ended_error())),
            _ if self.failing.is_some() => Poll::Ready(Err(self.ended_error())),
            _ => Poll::Ready(Ok(None)),
        }
    }

    // ----- the stream handles' side -----

    pub(crate) fn poll_read(&mut self, id: u32, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Straight into the caller's buffer, initialised or not.
        let n = self
            .session
            .read_with(id, buf.remaining(), Instant::now(), |chunk| buf.put_slice(chunk))
            .map_err(io_error)?;
        if n > 0 {
            self.account();
            self.pump();
            if self.paused && !self.over_window() {
                self.wake_driver();
            }
            return Poll::Ready(Ok(()));
        }
        if self.session.is_finished_reading(id) {
            return Poll::Ready(Ok(()));
        }
        if matches!(self.status, Status::Closed | Status::Failed(_)) {
            return Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection ended")));
        }
        if let Some(wakers) = self.wakers.get_mut(&id) {
            wakers.read = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    pub(crate) fn poll_write(&mut self, id: u32, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if !self.is_open() {
            return Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection is closed")));
        }
        let room = self.config.max_outbound_queue.saturating_sub(self.session.outbound_len());
        if room == 0 {
            self.write_waiters.push(cx.waker().clone());
            return Poll::Pending;
        }
        // At most 64 KiB at a time: a large write goes out in turns, and
        // the buffers stay small enough for the allocator to reuse (a
        // buffer of hundreds of KiB is mapped fresh, and faulted in page by
        // page, on every batch).
        let turn = data.len().min(room).min(WRITE_TURN);
        match self.session.write(id, &data[..turn]).map_err(io_error)? {
            0 => {
                if let Some(wakers) = self.wakers.get_mut(&id) {
                    wakers.write = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            n => {
                self.pump();
                Poll::Ready(Ok(n))
            }
        }
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

    /// Half-closes the stream: a FIN goes out.
    pub(crate) fn close(&mut self, id: u32) -> io::Result<()> {
        if !self.is_open() {
            return Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection is closed"));
        }
        self.session.close(id).map_err(io_error)?;
        self.pump();
        Ok(())
    }

    /// Resets the stream: an RST goes out.
    pub(crate) fn reset(&mut self, id: u32) {
        self.session.reset(id);
        self.account();
        self.pump();
    }

    /// The handle is gone: see [`Session::drop_stream`].
    pub(crate) fn drop_stream(&mut self, id: u32) {
        self.wakers.remove(&id);
        self.inbound.retain(|queued| *queued != id);
        self.session.drop_stream(id);
        self.account();
        self.pump();
        if self.paused && !self.over_window() {
            self.wake_driver();
        }
    }
}
