//! The state one connection's driver task and its handles share: the
//! sans-IO [`Session`], the wakers, the node's memory budget and the
//! connection's status, behind one `std::sync::Mutex`.
//!
//! ```text
//! stream handles ──poll_write──▶ Session ──outbound bytes──▶ driver ──▶ socket
//!                ◀──poll_read─── Session ◀──handle_input── driver ◀── socket
//! ```
//!
//! The lock is taken for a few instructions at a time and never across an
//! `.await`. After every call into the session, [`Inner::dispatch`] turns
//! its events into wakes and [`Inner::pump`] wakes the driver when frames
//! were queued.

use std::{
    collections::{HashMap, VecDeque},
    io,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use bytes::BytesMut;
use tokio::io::ReadBuf;

use super::{ConnectionConfig, Error, Event, Session, StreamError, now};

/// What a connection call gives back.
type Answer<S, T> = Poll<Result<T, Error<<S as Session>::ProtocolError>>>;

/// Where the connection is in its life.
#[derive(Clone, Debug)]
pub(super) enum Status<P> {
    /// Streams open and flow.
    Open,
    /// Closing (by us, or after a protocol error): no new streams; what is
    /// queued is being flushed.
    Closing,
    /// Ended cleanly, by either side.
    Closed,
    /// Ended by an error.
    Failed(Error<P>),
}

/// The wakers of one stream's handle.
#[derive(Debug, Default)]
struct Wakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}

fn wake_all(waiters: &mut Vec<Waker>) {
    for waker in waiters.drain(..) {
        waker.wake();
    }
}

fn ended() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the muxed connection ended")
}

/// The shared state, behind its mutex.
#[derive(Debug)]
pub(super) struct Shared<S: Session> {
    inner: Mutex<Inner<S>>,
}

impl<S: Session> Shared<S> {
    pub(super) fn new(session: S, config: ConnectionConfig) -> Self {
        Self { inner: Mutex::new(Inner::new(session, config)) }
    }

    /// The state, for a few instructions. A poisoned lock is taken as is:
    /// a panic elsewhere cannot leave it half-updated in a way that matters.
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(super) struct Inner<S: Session> {
    pub(super) session: S,
    pub(super) config: ConnectionConfig,
    wakers: HashMap<S::Id, Wakers>,
    inbound: VecDeque<S::Id>,
    accept_waker: Option<Waker>,
    open_waiters: Vec<Waker>,
    driver_waker: Option<Waker>,
    /// What the session had queued when the driver was last woken for it.
    pumped_total: u64,
    flushed_total: u64,
    /// Writers waiting for room in the outbound queue, or for a flush.
    write_waiters: Vec<Waker>,
    pub(super) status: Status<S::ProtocolError>,
    /// The driver stopped reading: streams hold too much unread.
    pub(super) paused: bool,
    /// What this connection added to the node's memory budget.
    accounted: usize,
    /// The error the connection is closing for (its go-away still going out).
    failing: Option<Error<S::ProtocolError>>,
}

impl<S: Session> Inner<S> {
    fn new(session: S, config: ConnectionConfig) -> Self {
        Self {
            session,
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

    fn is_over(&self) -> bool {
        matches!(self.status, Status::Closed | Status::Failed(_))
    }

    fn wake_driver(&mut self) {
        wake(&mut self.driver_waker);
    }

    /// Wakes the driver if the session queued frames since last time.
    pub(super) fn pump(&mut self) {
        let queued = self.session.outbound().total();
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
                    wake(&mut self.accept_waker);
                }
                Event::Readable(id) | Event::RemoteClosed(id) => {
                    if let Some(wakers) = self.wakers.get_mut(&id) {
                        wake(&mut wakers.read);
                    }
                }
                Event::Writable(id) => {
                    if let Some(wakers) = self.wakers.get_mut(&id) {
                        wake(&mut wakers.write);
                    }
                }
                Event::Reset(id) => {
                    tracing::debug!(muxer = S::NAME, ?id, "stream reset");
                    if let Some(wakers) = self.wakers.get_mut(&id) {
                        wake(&mut wakers.read);
                        wake(&mut wakers.write);
                    }
                    wake_all(&mut self.write_waiters); // its writer may wait for queue room
                }
                Event::GoAway => {
                    tracing::debug!(muxer = S::NAME, "the remote is going away");
                    wake(&mut self.accept_waker);
                    wake_all(&mut self.open_waiters);
                }
            }
        }
    }

    /// After the session changed: wakes, frames out, and the node's budget
    /// brought up to date.
    fn settle(&mut self) {
        self.account();
        self.dispatch();
        self.pump();
    }

    // ----- the driver's side -----

    /// Leaves the driver's waker, for handles that give it work.
    pub(super) fn set_driver_waker(&mut self, waker: &Waker) {
        if !self.driver_waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.driver_waker = Some(waker.clone());
        }
    }

    /// After a batch of frames: readers, writers and acceptors are woken
    /// once for the whole batch (not once per frame, each to wait for the
    /// lock the driver still holds), answers go out, and openers waiting
    /// for the ACK backlog to shrink look again.
    pub(super) fn received_batch(&mut self) {
        self.settle();
        wake_all(&mut self.open_waiters);
    }

    /// Whether reading must pause: the session says so, or the node's
    /// memory budget is spent.
    pub(super) fn reading_paused(&mut self) -> bool {
        self.session.reading_paused() || self.node_over_budget()
    }

    /// Whether the node's memory budget (if any) is spent.
    pub(super) fn node_over_budget(&self) -> bool {
        self.config.memory_budget.as_ref().is_some_and(crate::MemoryBudget::is_over)
    }

    /// Brings the node's memory budget up to date with what the streams
    /// hold unread now.
    pub(super) fn account(&mut self) {
        let Some(budget) = &self.config.memory_budget else { return };
        if self.is_over() {
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
    pub(super) fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        if !self.session.take_outbound(buf) {
            return false;
        }
        wake_all(&mut self.write_waiters);
        true
    }

    /// Whether bytes wait in the outbound queue.
    pub(super) fn has_outbound(&self) -> bool {
        !self.session.outbound().is_empty()
    }

    /// Records that the first `total` bytes ever queued are written and
    /// flushed; returns whether nothing more waits.
    pub(super) fn flushed(&mut self, total: u64) -> bool {
        self.flushed_total = total;
        self.session.flushed(total);
        wake_all(&mut self.write_waiters);
        !self.has_outbound()
    }

    /// Starts closing: a go-away goes out (if the protocol has one), no
    /// new streams.
    pub(super) fn start_close(&mut self) {
        if self.is_open() {
            self.status = Status::Closing;
            self.session.close(now());
            self.pump();
            self.wake_driver();
            self.wake_everyone();
        }
    }

    /// Starts closing for `error`: what the session queued goes out, and
    /// waiting parties learn the error at once.
    pub(super) fn start_failing(&mut self, error: Error<S::ProtocolError>) {
        self.failing = Some(error);
        self.start_close();
    }

    fn wake_everyone(&mut self) {
        for wakers in self.wakers.values_mut() {
            wake(&mut wakers.read);
            wake(&mut wakers.write);
        }
        wake(&mut self.accept_waker);
        wake_all(&mut self.open_waiters);
        wake_all(&mut self.write_waiters);
    }

    /// Ends the connection: every waiting party learns it.
    pub(super) fn finish(&mut self, result: Result<(), Error<S::ProtocolError>>) {
        self.status = match result {
            Ok(()) => Status::Closed,
            Err(error) => {
                tracing::debug!(muxer = S::NAME, %error, "connection failed");
                Status::Failed(error)
            }
        };
        if let Some(budget) = &self.config.memory_budget {
            budget.remove(std::mem::take(&mut self.accounted)); // the connection's buffers go with it
        }
        self.wake_everyone();
    }

    /// What a connection call reports once the connection has ended.
    pub(super) fn ended_error(&self) -> Error<S::ProtocolError> {
        match (&self.status, &self.failing) {
            (Status::Failed(error), _) | (_, Some(error)) => error.clone(),
            _ => Error::Closed,
        }
    }

    // ----- the connection handle's side -----

    /// Opens a stream, or waits while the remote has too many of ours
    /// unacknowledged.
    pub(super) fn poll_open(&mut self, cx: &mut Context<'_>) -> Answer<S, S::Id> {
        if !self.is_open() {
            return Poll::Ready(Err(self.ended_error()));
        }
        match self.session.open(now()) {
            Ok(id) => {
                self.wakers.insert(id, Wakers::default());
                self.pump();
                Poll::Ready(Ok(id))
            }
            Err(StreamError::AckBacklog) => {
                register(&mut self.open_waiters, cx);
                Poll::Pending
            }
            Err(StreamError::TooMany) => Poll::Ready(Err(Error::TooManyStreams(self.session.max_streams()))),
            Err(_) => Poll::Ready(Err(Error::Closed)),
        }
    }

    /// The next stream the remote opened (accepted now), or the end.
    pub(super) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Answer<S, Option<S::Id>> {
        if let Some(id) = self.inbound.pop_front() {
            // A stream reset before it was accepted is still handed out:
            // its reads fail, as they would have a moment later.
            self.session.accept(id);
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

    pub(super) fn poll_read(&mut self, id: S::Id, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Straight into the caller's buffer, initialised or not.
        let n = self.session.read_with(id, buf.remaining(), now(), |chunk| buf.put_slice(chunk))?;
        if n > 0 {
            self.account();
            self.pump();
            self.resume_reading();
            return Poll::Ready(Ok(()));
        }
        if self.session.is_finished_reading(id) {
            return Poll::Ready(Ok(()));
        }
        if self.is_over() {
            return Poll::Ready(Err(ended()));
        }
        if let Some(wakers) = self.wakers.get_mut(&id) {
            wakers.read = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Wakes the driver if reading was paused and may go on now.
    fn resume_reading(&mut self) {
        if self.paused && !self.reading_paused() {
            self.wake_driver();
        }
    }

    pub(super) fn poll_write(&mut self, id: S::Id, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if !self.is_open() {
            return Poll::Ready(Err(ended()));
        }
        let room = self.config.max_outbound_queue.saturating_sub(self.session.outbound().len());
        if room == 0 {
            self.session.writable(id)?; // a reset stream fails now, not once there is room
            register(&mut self.write_waiters, cx);
            return Poll::Pending;
        }
        // A turn at a time: a large write goes out in turns, and the
        // buffers stay small enough for the allocator to reuse (a buffer
        // of hundreds of KiB is mapped fresh, and faulted in page by page,
        // on every batch).
        let turn = data.len().min(room).min(self.session.write_turn());
        match self.session.write(id, &data[..turn])? {
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
    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.flushed_total >= self.session.outbound().total() {
            return Poll::Ready(Ok(()));
        }
        if self.is_over() {
            return Poll::Ready(Err(ended()));
        }
        register(&mut self.write_waiters, cx);
        Poll::Pending
    }

    /// Half-closes the stream.
    pub(super) fn close(&mut self, id: S::Id) -> io::Result<()> {
        if !self.is_open() {
            return Err(ended());
        }
        self.session.close_stream(id)?;
        self.pump();
        Ok(())
    }

    /// Resets the stream.
    pub(super) fn reset(&mut self, id: S::Id) {
        self.session.reset(id);
        self.settle();
        self.resume_reading();
    }

    /// The handle is gone: see [`Session::drop_stream`].
    pub(super) fn drop_stream(&mut self, id: S::Id) {
        self.wakers.remove(&id);
        self.inbound.retain(|queued| *queued != id);
        self.session.drop_stream(id);
        self.settle();
        self.resume_reading();
    }
}

/// Adds the task of `cx` to `waiters` unless a waker there already wakes
/// it: a task polled again and again while it waits (a `select!` with a
/// tick, a flush against a remote that never reads) stays one entry.
fn register(waiters: &mut Vec<Waker>, cx: &Context<'_>) {
    if !waiters.iter().any(|waiter| waiter.will_wake(cx.waker())) {
        waiters.push(cx.waker().clone());
    }
}
