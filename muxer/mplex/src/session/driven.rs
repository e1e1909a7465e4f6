//! The session as the one muxer driver sees it: `strata_core::muxer::Session`
//! for mplex. Connection calls (input, deadlines, outbound bytes) and the
//! stream calls of the handles.

use std::time::Instant;

use bytes::BytesMut;
use strata_core::{
    StreamState,
    muxer::{self, Event, Outbound, StreamError},
};

use super::Session;
use crate::{
    ProtocolError,
    frame::{self, Kind, MAX_FRAME_LEN, StreamId},
};

impl muxer::Session for Session {
    type Id = StreamId;
    type ProtocolError = ProtocolError;
    const NAME: &'static str = "mplex";

    fn handle_input(&mut self, input: &mut BytesMut, now: Instant) -> Result<bool, ProtocolError> {
        let Some(frame) = frame::decode(input, self.config.max_frame_len.min(MAX_FRAME_LEN))? else {
            return Ok(false);
        };
        self.receive(frame)?;
        if self.owes_too_much() {
            self.deadlines.stall(now);
        }
        Ok(true)
    }

    fn reading_paused(&mut self) -> bool {
        self.reading_blocked()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), muxer::Error<ProtocolError>> {
        if !self.owes_too_much() {
            self.deadlines.unstall();
        }
        self.deadlines.expire(now, false).map(drop)
    }

    /// mplex has no go-away: closing flushes what is queued, and streams
    /// dropped from now on send nothing.
    fn close(&mut self, now: Instant) {
        self.closing = true;
        self.deadlines.close(now);
    }

    fn is_ended(&self) -> bool {
        false // mplex ends with the socket
    }

    fn next_event(&mut self) -> Option<Event<StreamId>> {
        self.events.pop_front()
    }

    /// Called once the driver has written all it took before.
    fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        self.release_owed(self.taken_total);
        self.taken_total = self.outbound.total();
        self.outbound.take(buf)
    }

    fn flushed(&mut self, total: u64) {
        self.release_owed(total);
        if !self.owes_too_much() {
            self.deadlines.unstall();
        }
        self.outbound.release_if_idle();
    }

    fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    fn buffered(&self) -> usize {
        self.recv_total
    }

    fn max_streams(&self) -> usize {
        self.config.max_streams
    }

    fn write_turn(&self) -> usize {
        self.config.split_send_size.max(64 * 1024)
    }

    /// Opens and announces a stream: a `NewStream` frame named by its number.
    fn open(&mut self, _now: Instant) -> Result<StreamId, StreamError> {
        if self.closing {
            return Err(StreamError::SessionEnded);
        }
        if self.streams.len() >= self.config.max_streams {
            return Err(StreamError::TooMany);
        }
        let id = StreamId { num: self.next_num, ours: true };
        self.next_num += 1;
        self.streams.insert(id, super::Stream::default());
        let name = id.num.to_string();
        self.queue(Kind::Open, id, name.as_bytes());
        Ok(id)
    }

    fn accept(&mut self, _id: StreamId) {} // mplex does not acknowledge

    fn read_with(
        &mut self,
        id: StreamId,
        max: usize,
        _now: Instant,
        put: impl FnMut(&[u8]),
    ) -> Result<usize, StreamError> {
        let stream = self.streams.get_mut(&id).ok_or(StreamError::Reset)?;
        if stream.state == StreamState::Reset {
            return Err(StreamError::Reset);
        }
        let n = stream.recv.read_into(max, put);
        self.recv_total -= n;
        Ok(n)
    }

    fn is_finished_reading(&self, id: StreamId) -> bool {
        self.streams.get(&id).is_some_and(|stream| !stream.state.can_receive() && stream.recv.is_empty())
    }

    fn writable(&self, id: StreamId) -> Result<(), StreamError> {
        match self.streams.get(&id).map(|stream| stream.state) {
            None | Some(StreamState::Reset) => Err(StreamError::Reset),
            Some(state) if !state.can_write() => Err(StreamError::Closed),
            Some(_) => Ok(()),
        }
    }

    /// Queues one data frame of up to the split size of `data`.
    fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        self.writable(id)?;
        let n = data.len().min(self.config.split_send_size);
        self.queue(Kind::Data, id, &data[..n]);
        Ok(n)
    }

    /// Sends Close once.
    fn close_stream(&mut self, id: StreamId) -> Result<(), StreamError> {
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

    fn reset(&mut self, id: StreamId) {
        if self.streams.get(&id).is_some_and(|stream| stream.state != StreamState::Reset) {
            self.mark_reset(id);
            if !self.closing {
                self.queue(Kind::Reset, id, &[]);
            }
            self.forget_if_finished(id);
        }
    }

    /// What still arrives on a closed stream let go is dropped; once the
    /// connection is closing, no reset is sent.
    fn drop_stream(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        stream.dropped = true;
        self.recv_total -= stream.recv.clear();
        if stream.state.can_write() {
            stream.state = StreamState::Reset;
            if !self.closing {
                self.queue(Kind::Reset, id, &[]);
            }
        }
        self.forget_if_finished(id);
        if self.blocked_on == Some(id) {
            self.blocked_on = None;
        }
    }
}
