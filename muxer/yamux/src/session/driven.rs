//! The session as the one muxer driver sees it: `strata_core::muxer::Session`
//! for yamux. Connection calls (input, deadlines, outbound bytes) and the
//! stream calls of the handles.

use std::time::Instant;

use bytes::BytesMut;
use strata_core::{
    StreamState,
    muxer::{self, Event, Outbound, StreamError},
};

use super::{RTT_PING, Session, Stream};
use crate::{
    INITIAL_WINDOW, ProtocolError,
    frame::{Flags, GoAway, Header},
};

impl muxer::Session for Session {
    type Id = u32;
    type ProtocolError = ProtocolError;
    const NAME: &'static str = "yamux";

    /// Measures the round trip (window growth uses it) and starts the
    /// keep-alive clock.
    fn start(&mut self, now: Instant) {
        self.measure_rtt(RTT_PING, now);
        self.deadlines.start(now);
    }

    fn handle_input(&mut self, input: &mut BytesMut, now: Instant) -> Result<bool, ProtocolError> {
        let frame = match self.decoder.decode(input) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(false),
            Err(error) => {
                self.go_away_with(GoAway::ProtocolError); // the spec's answer
                return Err(ProtocolError::Frame(error));
            }
        };
        self.receive(frame, now)?;
        if self.owes_too_much() {
            self.deadlines.stall(now);
        }
        Ok(true)
    }

    fn reading_paused(&mut self) -> bool {
        self.buffered as u64 > self.config.max_connection_window || self.owes_too_much()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), muxer::Error<ProtocolError>> {
        if !self.owes_too_much() {
            self.deadlines.unstall();
        }
        if self.deadlines.expire(now, self.probe_in_flight())? {
            self.measure_rtt(RTT_PING, now);
        }
        Ok(())
    }

    fn close(&mut self, now: Instant) {
        self.go_away();
        self.deadlines.close(now);
    }

    fn is_ended(&self) -> bool {
        self.ended
    }

    fn next_event(&mut self) -> Option<Event<u32>> {
        self.events.pop_front()
    }

    fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        if !self.outbound.take(buf) {
            return false;
        }
        self.provoked = 0;
        self.deadlines.unstall();
        true
    }

    fn flushed(&mut self, _total: u64) {
        self.outbound.release_if_idle();
    }

    fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    fn buffered(&self) -> usize {
        self.buffered
    }

    fn max_streams(&self) -> usize {
        self.config.max_streams
    }

    /// An empty window update with SYN announces the stream at once, so
    /// the remote sees it even before data.
    fn open(&mut self, now: Instant) -> Result<u32, StreamError> {
        if self.ended {
            return Err(StreamError::SessionEnded);
        }
        if self.streams.len() >= self.config.max_streams {
            return Err(StreamError::TooMany);
        }
        if self.backlog >= self.config.max_ack_backlog {
            return Err(StreamError::AckBacklog);
        }
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(2).ok_or(StreamError::TooMany)?;
        self.streams.insert(id, Stream::new(true, now));
        self.window_total += u64::from(INITIAL_WINDOW);
        self.backlog += 1;
        self.announce(id);
        Ok(id)
    }

    /// Its ACK goes out now.
    fn accept(&mut self, id: u32) {
        self.announce(id);
    }

    fn writable(&self, id: u32) -> Result<(), StreamError> {
        match self.streams.get(&id).map(|stream| stream.state) {
            None => Err(StreamError::Unknown),
            Some(StreamState::Reset) => Err(StreamError::Reset),
            Some(state) if !state.can_write() => Err(StreamError::Closed),
            Some(_) => Ok(()),
        }
    }

    /// Queues up to the stream's send window of `data`; returns how much
    /// (0: the window is spent, wait for [`Event::Writable`]).
    fn write(&mut self, id: u32, data: &[u8]) -> Result<usize, StreamError> {
        if self.ended {
            return Err(StreamError::SessionEnded);
        }
        let max_frame = self.config.max_frame_len;
        let stream = self.streams.get_mut(&id).ok_or(StreamError::Unknown)?;
        match stream.state {
            StreamState::Reset => return Err(StreamError::Reset),
            state if !state.can_write() => return Err(StreamError::Closed),
            _ => {}
        }
        let window = usize::try_from(stream.send_window).unwrap_or(usize::MAX);
        let n = data.len().min(window);
        self.outbound.reserve(n + n.div_ceil(max_frame.max(1)) * crate::frame::HEADER_LEN);
        for chunk in data[..n].chunks(max_frame.max(1)) {
            let flags = stream.take_open_flags();
            let length = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            self.outbound.put(&Header { length, ..Header::data(id, flags, 0) }.to_bytes());
            self.outbound.put(chunk);
        }
        stream.send_window -= u32::try_from(n).unwrap_or(u32::MAX);
        Ok(n)
    }

    fn read_with(&mut self, id: u32, max: usize, now: Instant, put: impl FnMut(&[u8])) -> Result<usize, StreamError> {
        let room = self.config.max_connection_window.saturating_sub(self.window_total);
        let room = u32::try_from(room).unwrap_or(u32::MAX);
        let (rtt, max_window) = (self.rtt, self.config.max_stream_window);
        let stream = self.streams.get_mut(&id).ok_or(StreamError::Unknown)?;
        if stream.state == StreamState::Reset {
            // Drain what came before the reset; no window to grant.
            if stream.recv.is_empty() {
                return Err(StreamError::Reset);
            }
            let n = stream.read_into(max, put);
            self.buffered -= n;
            return Ok(n);
        }
        let n = stream.read_into(max, put);
        let before = stream.window;
        if let Some(delta) = stream.window_update(now, rtt, max_window, room) {
            let flags = stream.take_open_flags();
            if stream.window > before {
                tracing::trace!(id, window = stream.window, "yamux: a receive window grows");
            }
            self.window_total += u64::from(stream.window - before);
            self.send(Header::window_update(id, flags, delta));
        }
        self.buffered -= n;
        Ok(n)
    }

    /// Whether nothing more will arrive on the stream: the remote closed
    /// it and everything it sent was read (or the stream is gone).
    fn is_finished_reading(&self, id: u32) -> bool {
        self.streams.get(&id).is_none_or(|stream| !stream.state.can_receive() && stream.recv.is_empty())
    }

    /// Half-closes the stream: a FIN goes out.
    fn close_stream(&mut self, id: u32) -> Result<(), StreamError> {
        let stream = self.stream(id)?;
        if stream.state.close_local() {
            let flags = stream.take_open_flags() | Flags::FIN;
            self.send(Header::window_update(id, flags, 0));
        }
        Ok(())
    }

    /// Resets the stream: an RST goes out.
    fn reset(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id)
            && stream.state != StreamState::Reset
        {
            stream.state = StreamState::Reset;
            self.buffered -= stream.discard();
            self.send(Header::window_update(id, Flags::RST, 0));
            self.forget_if_finished(id);
        }
    }

    /// The application let go of the stream. One not closed for writing is
    /// reset (so the remote learns it will get nothing more); a closed one
    /// is forgotten once the remote closes too, unless the remote writes to
    /// it (or has spent its window on it already): nobody will read that,
    /// so it is reset then.
    fn drop_stream(&mut self, id: u32) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        stream.dropped = true;
        self.buffered -= stream.discard();
        // A remote out of credit on a stream nobody will read again waits
        // forever for a window update: reset it (one with credit left is
        // reset when its next data arrives, see `stream_frame`).
        if stream.state.can_write() || (stream.state.can_receive() && stream.recv_window == 0) {
            muxer::Session::reset(self, id);
        }
        self.forget_if_finished(id);
    }
}
