//! The mplex session: streams and their buffers, as a state machine with
//! no I/O, no wakers and no tokio. Frames from the remote go in
//! ([`Session::receive`], or raw bytes through [`Session::feed`]); the
//! application opens, writes, reads, closes and drops streams; encoded
//! frames to send come out ([`Session::take_outbound`]) and so do events
//! ([`Session::next_event`]). `shared.rs` wraps it with the wakers the
//! driver and the stream handles need; `session/tests.rs` tests it with
//! bytes.
//!
//! Spec: `libp2p-mplex.md`. Each stream is in one [`StreamState`]: mplex's
//! Close is a half-close (the other direction goes on), Reset ends both.
//! mplex has no flow control, so what the remote sends is buffered up to
//! the limits in `session/backpressure.rs`.
//!
//! ```text
//! remote frames ──receive──▶ per-stream queues ──read──▶ application
//! application ──open/write/close/drop──▶ outbound bytes ──take_outbound──▶ driver
//! ```

use std::collections::{HashMap, VecDeque};

use bytes::{Buf, Bytes, BytesMut};
use strata_core::StreamState;

mod backpressure;
#[cfg(test)]
mod tests;

use crate::{
    Config, Error, Overflow, Result,
    frame::{self, Frame, Kind, StreamId},
};

/// What the session reports to whoever waits on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The remote opened a stream.
    Inbound(StreamId),
    /// Data, a close or a reset arrived on a stream: its reader may move.
    Readable(StreamId),
    /// A stream was reset (by the remote, or by us for overflowing): its
    /// writer must learn it.
    Reset(StreamId),
    /// A stream stopped holding reading back: the driver may read again.
    Unblocked,
}

/// Why an application call on a stream failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// Reset, by either side (or forgotten).
    Reset,
    /// Written after our own close.
    Closed,
}

/// One stream's side of the session.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    pub(crate) state: StreamState,
    /// The handle is gone; the stream waits only for the remote to finish.
    pub(crate) dropped: bool,
    recv: VecDeque<Bytes>,
    pub(crate) recv_len: usize,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Session {
    config: Config,
    streams: HashMap<StreamId, Stream>,
    next_num: u64,
    events: VecDeque<Event>,
    outbound: BytesMut,
    queued_total: u64,
    /// Reading holds for this stream's full buffer ([`Overflow::Block`]).
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

impl Session {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            streams: HashMap::new(),
            next_num: 0,
            events: VecDeque::new(),
            outbound: BytesMut::new(),
            queued_total: 0,
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

    /// The next event, if any.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many streams the session tracks.
    #[cfg(test)]
    pub(crate) fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Encodes a frame into the outbound queue.
    fn queue(&mut self, kind: Kind, id: StreamId, data: &[u8]) {
        let before = self.outbound.len();
        frame::encode(kind, id, data, &mut self.outbound);
        self.queued_total += (self.outbound.len() - before) as u64;
    }

    /// Bytes ever queued to send.
    pub(crate) fn queued_total(&self) -> u64 {
        self.queued_total
    }

    /// How many encoded bytes wait to be taken.
    pub(crate) fn outbound_len(&self) -> usize {
        self.outbound.len()
    }

    /// Swaps the queued frames into `buf` (which must be empty). The
    /// driver calls it once it has written all it took before.
    pub(crate) fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        self.release_owed(self.taken_total);
        if self.outbound.is_empty() {
            return false;
        }
        self.taken_total = self.queued_total;
        std::mem::swap(&mut self.outbound, buf);
        true
    }

    /// The first `total` bytes ever queued are written and flushed; lets
    /// the buffer's memory go when nothing waits.
    pub(crate) fn flushed(&mut self, total: u64) {
        self.release_owed(total);
        if self.outbound.is_empty() {
            self.outbound = BytesMut::new();
        }
    }

    /// Decodes and applies every complete frame in `buf` (for tests and
    /// tools; the driver decodes frame by frame, between its checks).
    #[cfg(test)]
    pub(crate) fn feed(&mut self, buf: &mut BytesMut) -> Result<()> {
        let max = self.config.max_frame_len;
        while let Some(frame) = frame::decode(buf, max)? {
            self.receive(frame)?;
        }
        Ok(())
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
                if let Some(stream) = self.streams.get_mut(&id)
                    && stream.state.close_remote()
                {
                    self.events.push_back(Event::Readable(id));
                    self.forget_if_finished(id);
                }
                Ok(())
            }
            Kind::Reset => {
                if self.streams.get(&id).is_some_and(|stream| stream.state != StreamState::Reset) {
                    tracing::debug!(?id, "mplex: stream reset by the remote");
                    self.mark_reset(id);
                    self.forget_if_finished(id);
                }
                Ok(())
            }
        }
    }

    /// A stream is reset: its buffer goes, its reader and writer learn it.
    fn mark_reset(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        stream.state = StreamState::Reset;
        let freed = std::mem::take(&mut stream.recv_len);
        stream.recv.clear();
        self.release_buffered(freed);
        self.events.push_back(Event::Readable(id));
        self.events.push_back(Event::Reset(id));
    }

    /// `bytes` of received data are no longer held.
    fn release_buffered(&mut self, bytes: usize) {
        self.recv_total -= bytes;
        if let Some(budget) = &self.config.memory_budget {
            budget.remove(bytes);
        }
    }

    fn forget_if_finished(&mut self, id: StreamId) {
        if self.streams.get(&id).is_some_and(|stream| stream.dropped && stream.state.is_over()) {
            self.streams.remove(&id);
        }
    }

    fn remote_opened(&mut self, id: StreamId) -> Result<()> {
        if self.streams.contains_key(&id) {
            return Err(Error::Protocol(format!("stream {} opened twice", id.num)));
        }
        if self.streams.len() >= self.config.max_streams {
            tracing::debug!(?id, limit = self.config.max_streams, "mplex: refusing a stream past the limit");
            self.queue_owed(Kind::Reset, id);
            return Ok(());
        }
        self.streams.insert(id, Stream::default());
        self.events.push_back(Event::Inbound(id));
        Ok(())
    }

    fn remote_data(&mut self, id: StreamId, data: Bytes) {
        let (max, overflow) = (self.config.max_buffer, self.config.overflow);
        let Some(stream) = self.streams.get_mut(&id) else {
            return; // a stream reset or refused here; its last frames may still arrive
        };
        if !stream.state.can_receive() || stream.dropped || data.is_empty() {
            return;
        }
        stream.recv_len += data.len();
        let full = stream.recv_len > max;
        self.recv_total += data.len();
        if let Some(budget) = &self.config.memory_budget {
            budget.add(data.len());
        }
        stream.recv.push_back(data);
        self.events.push_back(Event::Readable(id));
        if full {
            match overflow {
                Overflow::Block => self.blocked_on = Some(id),
                Overflow::ResetStream => {
                    tracing::debug!(?id, max, "mplex: resetting a stream whose reader fell behind");
                    self.mark_reset(id);
                    self.queue_owed(Kind::Reset, id);
                }
            }
        }
    }

    /// Opens and announces a new outbound stream.
    pub(crate) fn open(&mut self) -> Result<StreamId> {
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

    /// Copies what the stream received into `buf`; returns how much (0:
    /// nothing yet, or the end: see [`Session::is_finished_reading`]).
    #[cfg(test)]
    pub(crate) fn read(&mut self, id: StreamId, buf: &mut [u8]) -> Result<usize, StreamError> {
        let mut filled = 0;
        self.read_with(id, buf.len(), |chunk| {
            buf[filled..filled + chunk.len()].copy_from_slice(chunk);
            filled += chunk.len();
        })
    }

    /// [`Session::read`], handing up to `max` bytes to `put` in order (for
    /// a caller whose buffer is not a plain slice).
    pub(crate) fn read_with(
        &mut self,
        id: StreamId,
        max: usize,
        mut put: impl FnMut(&[u8]),
    ) -> Result<usize, StreamError> {
        let max_buffer = self.config.max_buffer;
        let stream = self.streams.get_mut(&id).ok_or(StreamError::Reset)?;
        if stream.state == StreamState::Reset {
            return Err(StreamError::Reset);
        }
        let mut n = 0;
        while n < max {
            let Some(front) = stream.recv.front_mut() else { break };
            let take = front.len().min(max - n);
            put(&front[..take]);
            front.advance(take);
            n += take;
            if front.is_empty() {
                stream.recv.pop_front();
            }
        }
        stream.recv_len -= n;
        let unblocked = self.blocked_on == Some(id) && stream.recv_len <= max_buffer;
        self.release_buffered(n);
        if n > 0 && (unblocked || self.under_budget_again()) {
            self.events.push_back(Event::Unblocked);
        }
        Ok(n)
    }

    /// Whether nothing more will arrive: the remote closed the stream and
    /// everything it sent was read.
    pub(crate) fn is_finished_reading(&self, id: StreamId) -> bool {
        self.streams.get(&id).is_some_and(|stream| !stream.state.can_receive() && stream.recv.is_empty())
    }

    /// Whether the stream may be written: not reset, not closed by us.
    pub(crate) fn check_writable(&self, id: StreamId) -> Result<(), StreamError> {
        match self.streams.get(&id).map(|stream| stream.state) {
            None | Some(StreamState::Reset) => Err(StreamError::Reset),
            Some(state) if !state.can_write() => Err(StreamError::Closed),
            Some(_) => Ok(()),
        }
    }

    /// Queues one data frame of up to the split size of `data`; returns
    /// how much it took.
    pub(crate) fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        self.check_writable(id)?;
        let n = data.len().min(self.config.split_send_size);
        self.queue(Kind::Data, id, &data[..n]);
        Ok(n)
    }

    /// Half-closes the stream: sends Close once.
    pub(crate) fn close(&mut self, id: StreamId) -> Result<(), StreamError> {
        let stream = self.streams.get_mut(&id).ok_or(StreamError::Reset)?;
        if stream.state == StreamState::Reset {
            return Err(StreamError::Reset);
        }
        if stream.state.close_local() {
            self.queue(Kind::Close, id, &[]);
            self.forget_if_finished(id);
        }
        Ok(())
    }

    /// The handle is gone. A stream not closed for writing is reset (the
    /// remote learns it gets nothing more); a closed one waits for the
    /// remote's Close before it is forgotten, dropping what arrives.
    /// `send` is false once the connection is closing (no new frames).
    pub(crate) fn drop_stream(&mut self, id: StreamId, send: bool) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        stream.dropped = true;
        let freed = std::mem::take(&mut stream.recv_len);
        stream.recv = VecDeque::new();
        if stream.state.can_write() {
            stream.state = StreamState::Reset;
            if send {
                self.queue(Kind::Reset, id, &[]);
            }
        }
        self.release_buffered(freed);
        self.forget_if_finished(id);
        if self.blocked_on == Some(id) {
            self.blocked_on = None;
            self.events.push_back(Event::Unblocked);
        } else if self.under_budget_again() {
            self.events.push_back(Event::Unblocked);
        }
    }
}
