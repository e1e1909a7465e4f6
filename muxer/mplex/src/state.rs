//! The state of one mplex connection, shared by its driver task and its
//! stream handles: a state machine with no I/O.
//!
//! ```text
//! stream handles ──poll_write──▶ outbound (encoded frames) ──▶ driver ──▶ socket
//!                ◀──poll_read─── per-stream receive queues ◀── driver ◀── socket
//! ```
//!
//! Everything here runs under one `std::sync::Mutex`, taken for a few
//! instructions at a time and never across an `.await`. The driver hands
//! in decoded frames ([`State::receive`]) and takes out encoded ones
//! ([`State::take_outbound`]); handles read, write, close and drop through
//! the other methods. Wakers connect the two sides: a handle that finds
//! nothing to read, or a full outbound queue, leaves its waker; the driver
//! leaves its own for handles that queue frames or drain a blocked stream.

use std::{
    collections::{HashMap, VecDeque},
    io,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::ReadBuf;

mod backpressure;

use crate::{
    Config, Error, Overflow, Result,
    frame::{self, Frame, Kind, StreamId},
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

/// One stream's side of the state.
#[derive(Debug, Default)]
#[allow(clippy::struct_excessive_bools)] // four independent facts, not one state
struct Stream {
    recv: VecDeque<Bytes>,
    recv_len: usize,
    read_waker: Option<Waker>,
    /// The remote sent Close: EOF once `recv` is drained.
    remote_closed: bool,
    /// We sent Close: no more writes.
    local_closed: bool,
    /// Reset, by either side: reads and writes fail.
    reset: bool,
    /// The handle is gone; the state waits only for the remote to finish.
    dropped: bool,
}

/// The shared state, behind its mutex.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self { state: Mutex::new(State::new(config)) }
    }

    /// The state, for a few instructions. A panic elsewhere while it was
    /// held cannot leave it half-updated in a way that matters here, so a
    /// poisoned lock is taken as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct State {
    config: Config,
    streams: HashMap<StreamId, Stream>,
    next_num: u64,
    inbound: VecDeque<StreamId>,
    accept_waker: Option<Waker>,
    outbound: BytesMut,
    queued_total: u64,
    flushed_total: u64,
    write_waiters: Vec<Waker>,
    driver_waker: Option<Waker>,
    pub(crate) status: Status,
    blocked_on: Option<StreamId>,
    /// Unread received bytes of all streams.
    recv_total: usize,
    /// Frames the remote made us owe it (resets of streams it opened past
    /// the limit or overflowed), not yet written: where each ends in the
    /// outbound byte count, and its length.
    control_marks: VecDeque<(u64, usize)>,
    control_owed: usize,
    /// `queued_total` when the driver last took the outbound queue.
    taken_total: u64,
    /// Reading stopped because `recv_total` passed the connection budget.
    over_budget: bool,
}

fn stream_error(kind: io::ErrorKind, what: &'static str) -> io::Error {
    io::Error::new(kind, format!("mplex: {what}"))
}

impl State {
    fn new(config: Config) -> Self {
        Self {
            config,
            streams: HashMap::new(),
            next_num: 0,
            inbound: VecDeque::new(),
            accept_waker: None,
            outbound: BytesMut::new(),
            queued_total: 0,
            flushed_total: 0,
            write_waiters: Vec::new(),
            driver_waker: None,
            status: Status::Open,
            blocked_on: None,
            recv_total: 0,
            control_marks: VecDeque::new(),
            control_owed: 0,
            taken_total: 0,
            over_budget: false,
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
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

    /// Leaves the driver's waker, for handles that give it work.
    pub(crate) fn set_driver_waker(&mut self, waker: &Waker) {
        if !self.driver_waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.driver_waker = Some(waker.clone());
        }
    }

    /// Encodes a frame into the outbound queue and wakes the driver.
    fn queue(&mut self, kind: Kind, id: StreamId, data: &[u8]) {
        let before = self.outbound.len();
        frame::encode(kind, id, data, &mut self.outbound);
        self.queued_total += (self.outbound.len() - before) as u64;
        self.wake_driver();
    }

    // ----- the driver's side -----

    /// Swaps the queued frames into `buf` (which must be empty), freeing
    /// the queue for writers. The driver calls it once it has written all
    /// it took before.
    pub(crate) fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        self.release_owed(self.taken_total);
        if self.outbound.is_empty() {
            return false;
        }
        self.taken_total = self.queued_total;
        std::mem::swap(&mut self.outbound, buf);
        self.wake_writers();
        true
    }

    /// Whether frames wait in the outbound queue.
    pub(crate) fn has_outbound(&self) -> bool {
        !self.outbound.is_empty()
    }

    /// Records that the first `total` bytes ever queued are written and
    /// flushed; when nothing more waits, lets the buffers go.
    pub(crate) fn flushed(&mut self, total: u64) -> bool {
        self.flushed_total = total;
        self.release_owed(total);
        self.wake_writers();
        let idle = self.outbound.is_empty();
        if idle {
            self.outbound = BytesMut::new();
        }
        idle
    }

    /// Applies one frame from the remote.
    pub(crate) fn receive(&mut self, frame: Frame) -> Result<()> {
        let Frame { kind, id, data } = frame;
        match kind {
            Kind::Open => self.remote_opened(id),
            Kind::Data => {
                self.remote_data(id, data);
                Ok(())
            }
            Kind::Close => {
                if let Some(stream) = self.streams.get_mut(&id) {
                    stream.remote_closed = true;
                    if let Some(waker) = stream.read_waker.take() {
                        waker.wake();
                    }
                    if stream.dropped {
                        self.streams.remove(&id);
                    }
                }
                Ok(())
            }
            Kind::Reset => {
                if let Some(stream) = self.streams.get_mut(&id) {
                    tracing::debug!(?id, "mplex: stream reset by the remote");
                    stream.reset = true;
                    self.recv_total -= stream.recv_len;
                    if let Some(budget) = &self.config.memory_budget {
                        budget.remove(stream.recv_len);
                    }
                    stream.recv.clear();
                    stream.recv_len = 0;
                    if let Some(waker) = stream.read_waker.take() {
                        waker.wake();
                    }
                    if stream.dropped {
                        self.streams.remove(&id);
                    }
                    self.wake_writers();
                }
                Ok(())
            }
        }
    }

    fn remote_opened(&mut self, id: StreamId) -> Result<()> {
        if self.streams.contains_key(&id) {
            return Err(Error::Protocol(format!("stream {} opened twice", id.num)));
        }
        if !self.is_open() || self.streams.len() >= self.config.max_streams {
            tracing::debug!(?id, limit = self.config.max_streams, "mplex: refusing a stream past the limit");
            self.queue_owed(Kind::Reset, id);
            return Ok(());
        }
        self.streams.insert(id, Stream::default());
        self.inbound.push_back(id);
        if let Some(waker) = self.accept_waker.take() {
            waker.wake();
        }
        Ok(())
    }

    fn remote_data(&mut self, id: StreamId, data: Bytes) {
        let (max, overflow) = (self.config.max_buffer, self.config.overflow);
        let Some(stream) = self.streams.get_mut(&id) else {
            return; // a stream reset or refused here; its last frames may still arrive
        };
        if stream.reset || stream.dropped || stream.remote_closed || data.is_empty() {
            return;
        }
        stream.recv_len += data.len();
        self.recv_total += data.len();
        if let Some(budget) = &self.config.memory_budget {
            budget.add(data.len());
        }
        stream.recv.push_back(data);
        if let Some(waker) = stream.read_waker.take() {
            waker.wake();
        }
        if stream.recv_len > max {
            match overflow {
                Overflow::Block => self.blocked_on = Some(id),
                Overflow::ResetStream => {
                    tracing::debug!(?id, max, "mplex: resetting a stream whose reader fell behind");
                    stream.reset = true;
                    self.recv_total -= stream.recv_len;
                    if let Some(budget) = &self.config.memory_budget {
                        budget.remove(stream.recv_len);
                    }
                    stream.recv.clear();
                    stream.recv_len = 0;
                    self.queue_owed(Kind::Reset, id);
                }
            }
        }
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
        for stream in self.streams.values_mut() {
            if let Some(waker) = stream.read_waker.take() {
                waker.wake();
            }
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
        if self.streams.len() >= self.config.max_streams {
            return Err(Error::TooManyStreams(self.config.max_streams));
        }
        let id = StreamId { num: self.next_num, ours: true };
        self.next_num += 1;
        self.streams.insert(id, Stream::default());
        let name = id.num.to_string();
        self.queue(Kind::Open, id, name.as_bytes());
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
        let max = self.config.max_buffer;
        let connection_over = !matches!(self.status, Status::Open | Status::Closing);
        let Some(stream) = self.streams.get_mut(&id) else {
            return Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionReset, "the stream was reset")));
        };
        if stream.reset {
            return Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionReset, "the stream was reset")));
        }
        if !stream.recv.is_empty() {
            while buf.remaining() > 0 {
                let Some(front) = stream.recv.front_mut() else { break };
                let n = front.len().min(buf.remaining());
                buf.put_slice(&front[..n]);
                front.advance(n);
                stream.recv_len -= n;
                self.recv_total -= n;
                if let Some(budget) = &self.config.memory_budget {
                    budget.remove(n);
                }
                if front.is_empty() {
                    stream.recv.pop_front();
                }
            }
            let unblocked = self.blocked_on == Some(id) && stream.recv_len <= max;
            if unblocked || self.under_budget_again() {
                self.wake_driver();
            }
            return Poll::Ready(Ok(()));
        }
        if stream.remote_closed {
            return Poll::Ready(Ok(()));
        }
        if connection_over {
            return Poll::Ready(Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection ended")));
        }
        stream.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn check_writable(&self, id: StreamId) -> io::Result<()> {
        if !self.is_open() {
            return Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection is closed"));
        }
        match self.streams.get(&id) {
            None => Err(stream_error(io::ErrorKind::ConnectionReset, "the stream was reset")),
            Some(stream) if stream.reset => Err(stream_error(io::ErrorKind::ConnectionReset, "the stream was reset")),
            Some(stream) if stream.local_closed => Err(stream_error(io::ErrorKind::BrokenPipe, "write after close")),
            Some(_) => Ok(()),
        }
    }

    pub(crate) fn poll_write(&mut self, id: StreamId, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.check_writable(id)?;
        if self.outbound.len() >= self.config.max_outbound_queue {
            self.write_waiters.push(cx.waker().clone());
            return Poll::Pending;
        }
        let n = data.len().min(self.config.split_send_size);
        self.queue(Kind::Data, id, &data[..n]);
        Poll::Ready(Ok(n))
    }

    /// Ready once every byte queued so far is written and flushed.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.flushed_total >= self.queued_total {
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
        let open = self.is_open();
        match self.streams.get_mut(&id) {
            Some(stream) if stream.local_closed => Ok(()),
            Some(stream) if stream.reset => Err(stream_error(io::ErrorKind::ConnectionReset, "the stream was reset")),
            Some(stream) if open => {
                stream.local_closed = true;
                self.queue(Kind::Close, id, &[]);
                Ok(())
            }
            _ => Err(stream_error(io::ErrorKind::ConnectionAborted, "the connection is closed")),
        }
    }

    /// The handle is gone. A stream not closed for writing is reset; a
    /// closed one waits for the remote's Close before it is forgotten.
    pub(crate) fn drop_stream(&mut self, id: StreamId) {
        let open = self.is_open();
        let Some(stream) = self.streams.get_mut(&id) else { return };
        stream.dropped = true;
        self.recv_total -= stream.recv_len;
        if let Some(budget) = &self.config.memory_budget {
            budget.remove(stream.recv_len);
        }
        stream.recv = VecDeque::new();
        stream.recv_len = 0;
        stream.read_waker = None;
        let forget = if stream.reset || stream.remote_closed && stream.local_closed {
            true
        } else if !stream.local_closed {
            if open {
                self.queue(Kind::Reset, id, &[]);
            }
            true
        } else {
            false
        };
        if forget {
            self.streams.remove(&id);
        }
        self.inbound.retain(|queued| *queued != id);
        if self.blocked_on == Some(id) {
            self.blocked_on = None;
            self.wake_driver();
        } else if self.under_budget_again() {
            self.wake_driver();
        }
    }
}
