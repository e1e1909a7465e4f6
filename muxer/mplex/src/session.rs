//! The mplex session: streams and their buffers, as a state machine with
//! no I/O, no wakers and no tokio, implementing
//! [`strata_core::muxer::Session`]. Bytes from the remote go in
//! (`handle_input`, or [`Session::receive`] a frame at a time); the
//! application opens, writes, reads, closes and drops streams; encoded
//! frames to send come out (`take_outbound`) and so do events and the next
//! deadline (stall, close). `strata_core::muxer::Connection` drives it;
//! `session/tests.rs` tests it with bytes and a fake clock.
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

use bytes::Bytes;
use strata_core::{
    StreamState,
    muxer::{Deadlines, Event, Outbound, RecvBuffer},
};
#[cfg(test)]
use {
    bytes::BytesMut,
    std::time::Instant,
    strata_core::muxer::{self, StreamError},
};

mod backpressure;
mod driven;
#[cfg(test)]
mod tests;

use crate::{
    Config, Overflow, ProtocolError,
    frame::{self, Frame, Kind, StreamId},
};

/// One stream's side of the session.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    pub(crate) state: StreamState,
    /// The handle is gone; the stream waits only for the remote to finish.
    pub(crate) dropped: bool,
    recv: RecvBuffer,
}

/// One mplex session, sans-IO. See the module documentation.
#[derive(Debug)]
pub struct Session {
    config: Config,
    streams: HashMap<StreamId, Stream>,
    next_num: u64,
    events: VecDeque<Event<StreamId>>,
    outbound: Outbound,
    /// Reading holds for this stream's full buffer ([`Overflow::Block`]).
    blocked_on: Option<StreamId>,
    /// Unread received bytes of all streams.
    recv_total: usize,
    /// Frames the remote made us owe it (resets of streams it opened past
    /// the limit or overflowed), not yet written: where each ends in the
    /// outbound byte count, and its length.
    control_marks: VecDeque<(u64, usize)>,
    control_owed: usize,
    /// The outbound total when the driver last took the outbound queue.
    taken_total: u64,
    /// The connection is closing: no new frames for dropped streams.
    closing: bool,
    deadlines: Deadlines,
}

impl Session {
    /// A new session with the limits of `config`.
    pub fn new(config: Config) -> Self {
        Self {
            deadlines: Deadlines::new(&config.connection, None),
            config,
            streams: HashMap::new(),
            next_num: 0,
            events: VecDeque::new(),
            outbound: Outbound::default(),
            blocked_on: None,
            recv_total: 0,
            control_marks: VecDeque::new(),
            control_owed: 0,
            taken_total: 0,
            closing: false,
        }
    }

    /// How many streams the session tracks.
    #[cfg(test)]
    pub(crate) fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Encodes a frame into the outbound queue.
    fn queue(&mut self, kind: Kind, id: StreamId, data: &[u8]) {
        self.outbound.encode(|buf| frame::encode(kind, id, data, buf));
    }

    /// Decodes and applies every complete frame in `buf` (for tests and
    /// tools; the driver decodes frame by frame, between its checks).
    #[cfg(test)]
    pub(crate) fn feed(&mut self, buf: &mut BytesMut) -> Result<(), ProtocolError> {
        while muxer::Session::handle_input(self, buf, Instant::now())? {}
        Ok(())
    }

    /// Applies one frame from the remote.
    pub(crate) fn receive(&mut self, frame: Frame) -> Result<(), ProtocolError> {
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
        self.recv_total -= stream.recv.clear();
        self.events.push_back(Event::Reset(id));
    }

    fn forget_if_finished(&mut self, id: StreamId) {
        if self.streams.get(&id).is_some_and(|stream| stream.dropped && stream.state.is_over()) {
            self.streams.remove(&id);
        }
    }

    fn remote_opened(&mut self, id: StreamId) -> Result<(), ProtocolError> {
        if self.streams.contains_key(&id) {
            return Err(ProtocolError::OpenedTwice(id.num));
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
        if !stream.state.can_receive() || data.is_empty() {
            return;
        }
        if stream.dropped {
            // Its handle is gone (after closing its writing half): nobody
            // will read this. A reset tells the remote to stop writing,
            // else it writes into the void for as long as it likes.
            stream.state = StreamState::Reset;
            if !self.closing {
                self.queue(Kind::Reset, id, &[]);
            }
            self.forget_if_finished(id);
            return;
        }
        self.recv_total += data.len();
        stream.recv.push(data);
        let full = stream.recv.len() > max;
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

    /// Copies what the stream received into `buf`; returns how much (0:
    /// nothing yet, or the end).
    #[cfg(test)]
    pub(crate) fn read(&mut self, id: StreamId, buf: &mut [u8]) -> Result<usize, StreamError> {
        let mut filled = 0;
        muxer::Session::read_with(self, id, buf.len(), Instant::now(), |chunk| {
            buf[filled..filled + chunk.len()].copy_from_slice(chunk);
            filled += chunk.len();
        })
    }
}
