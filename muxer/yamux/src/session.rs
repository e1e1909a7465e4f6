//! The yamux session: streams and their windows, as a state machine with
//! no I/O. Frames from the remote go in ([`Session::receive`]); the
//! application opens, writes, reads, closes and resets streams; frames to
//! send come out ([`Session::next_frame`]) and so do events
//! ([`Session::next_event`]). Time comes in as an argument where it
//! matters (round trips and window growth). The driver
//! (`connection.rs`) owns the socket and the wakers; this file is tested
//! with frames alone.
//!
//! Spec: `libp2p-yamux.md`, "Message Flow", "Flow Control", "Session
//! termination" and "ACK backlog & backpressure":
//!
//! ```text
//! open:    SYN (on the first data or window update) ──▶   ◀── ACK (on accept), or RST (refused)
//! data:    at most the peer's window for the stream; each Data frame spends it
//! window:  the reader grants more with a Window Update once it consumed half;
//!          the grant doubles while it comes within two round trips (BDP)
//! close:   FIN each way (half-close); RST at once
//! ids:     the client (dialer) opens odd ids, the server even ones; 0 is the session
//! ping:    SYN with a value ──▶ ◀── ACK with the same value
//! go-away: the session ends; the code says why
//! ```
//!
//! Protocol errors the spec names (a stream id of the wrong parity or
//! reused, data past the window granted, a window overflow) end the
//! session: a go-away with the protocol-error code is queued and
//! [`Session::receive`] returns the error.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use bytes::{BufMut, Bytes, BytesMut};
use strata_core::StreamState;

use crate::{
    INITIAL_WINDOW,
    frame::{Decoder, Flags, Frame, GoAway, Header, Type},
};

mod stream;
mod types;

use stream::Stream;
pub use types::{Event, Role, SessionConfig, SessionError, StreamError};

/// One yamux session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: SessionConfig,
    next_id: u32,
    streams: HashMap<u32, Stream>,
    /// Our streams not acknowledged yet.
    backlog: usize,
    /// Unread bytes of all streams.
    buffered: usize,
    /// The receive windows of all streams, added up.
    window_total: u64,
    /// Our round-trip probe in flight: its value and when it left.
    rtt_probe: Option<(u32, Instant)>,
    rtt: Option<Duration>,
    /// Frames to send, encoded.
    outbound: BytesMut,
    /// Bytes ever queued in `outbound`.
    queued_total: u64,
    /// Bytes of frames the remote provoked (pongs, refusals) in `outbound`.
    provoked: usize,
    events: VecDeque<Event>,
    ended: bool,
}

impl Session {
    /// A new session on our side `role`.
    pub fn new(role: Role, config: SessionConfig) -> Self {
        let next_id = match role {
            Role::Client => 1,
            Role::Server => 2,
        };
        Self {
            role,
            config,
            next_id,
            streams: HashMap::new(),
            backlog: 0,
            buffered: 0,
            window_total: 0,
            rtt_probe: None,
            rtt: None,
            outbound: BytesMut::new(),
            queued_total: 0,
            provoked: 0,
            events: VecDeque::new(),
            ended: false,
        }
    }

    /// The next frame to send, if any (one at a time, decoded again: for
    /// tests and tools; a driver takes the bytes with
    /// [`Session::take_outbound`]).
    pub fn next_frame(&mut self) -> Option<Frame> {
        Decoder::new(usize::MAX).decode(&mut self.outbound).ok().flatten()
    }

    /// Swaps every frame queued, encoded, into `buf` (which should be
    /// empty); returns whether there were any.
    pub fn take_outbound(&mut self, buf: &mut BytesMut) -> bool {
        if self.outbound.is_empty() {
            return false;
        }
        std::mem::swap(&mut self.outbound, buf);
        self.provoked = 0;
        true
    }

    /// Bytes of frames the remote provoked (answers to its pings, resets of
    /// streams it opened past the limit) waiting to be taken. They wait
    /// only while the remote does not read: a driver stops reading from it
    /// past a bound, so a peer cannot make us queue without end.
    pub fn provoked_unsent(&self) -> usize {
        self.provoked
    }

    /// Lets the outbound buffer's memory go if nothing waits in it (an
    /// idle connection holds no buffer).
    pub fn shrink_outbound(&mut self) {
        if self.outbound.is_empty() {
            self.outbound = BytesMut::new();
        }
    }

    /// How many encoded bytes wait to be taken.
    pub fn outbound_len(&self) -> usize {
        self.outbound.len()
    }

    /// How many bytes were ever queued to send.
    pub fn queued_total(&self) -> u64 {
        self.queued_total
    }

    /// Queues a frame the remote's own frame calls for.
    fn send_provoked(&mut self, header: Header) {
        self.send(header);
        self.provoked += crate::frame::HEADER_LEN;
    }

    /// Queues a frame without payload.
    fn send(&mut self, header: Header) {
        self.outbound.put_slice(&header.to_bytes());
        self.queued_total += crate::frame::HEADER_LEN as u64;
    }

    /// The next event, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many streams are open (or closed with their handle still held).
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Unread bytes of all streams.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// The last measured round trip, if any.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Whether a round-trip ping of ours is unanswered.
    pub fn probe_in_flight(&self) -> bool {
        self.rtt_probe.is_some()
    }

    /// Whether the session has ended (a go-away either way, or an error).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    fn is_ours(&self, id: u32) -> bool {
        match self.role {
            Role::Client => !id.is_multiple_of(2),
            Role::Server => id.is_multiple_of(2),
        }
    }

    /// Ends the session for a protocol error: a go-away goes out.
    fn fail(&mut self, error: SessionError) -> Result<(), SessionError> {
        if !self.ended {
            self.ended = true;
            self.send(Header::go_away(GoAway::ProtocolError));
        }
        Err(error)
    }

    /// Applies one frame from the remote, received at `now`.
    pub fn receive(&mut self, frame: Frame, now: Instant) -> Result<(), SessionError> {
        let Frame { header, payload } = frame;
        match header.kind {
            Type::Ping => {
                if !header.flags.contains(Flags::ACK) {
                    self.send_provoked(Header::ping(true, header.length));
                } else if let Some((value, sent)) = self.rtt_probe
                    && value == header.length
                {
                    self.rtt_probe = None;
                    self.rtt = Some(now.saturating_duration_since(sent));
                } else {
                    self.events.push_back(Event::Pong(header.length));
                }
                Ok(())
            }
            Type::GoAway => {
                self.ended = true;
                self.events.push_back(Event::GoAway(GoAway::from_code(header.length)));
                Ok(())
            }
            Type::Data | Type::WindowUpdate => self.stream_frame(header, payload, now),
        }
    }

    fn stream_frame(&mut self, header: Header, payload: Bytes, now: Instant) -> Result<(), SessionError> {
        let id = header.stream;
        if header.flags.contains(Flags::SYN) {
            if id == 0 || self.is_ours(id) || self.streams.contains_key(&id) {
                return self.fail(SessionError::BadStreamId(id));
            }
            if self.ended || self.streams.len() >= self.config.max_streams {
                tracing::debug!(id, limit = self.config.max_streams, "yamux: refusing a stream past the limit");
                self.send_provoked(Header::window_update(id, Flags::RST, 0));
                return Ok(());
            }
            self.streams.insert(id, Stream::new(false, now));
            self.window_total += u64::from(INITIAL_WINDOW);
            self.events.push_back(Event::Inbound(id));
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(()); // a stream reset or forgotten here: its last frames may still come
        };
        if header.flags.contains(Flags::ACK) && stream.awaiting_ack {
            stream.awaiting_ack = false;
            self.backlog -= 1;
        }
        if header.kind == Type::WindowUpdate {
            let Some(window) = stream.send_window.checked_add(header.length) else {
                return self.fail(SessionError::WindowOverflow(id));
            };
            stream.send_window = window;
            if header.length > 0 {
                self.events.push_back(Event::Writable(id));
            }
        } else {
            let window = stream.recv_window;
            let Some(left) = u32::try_from(payload.len()).ok().and_then(|len| window.checked_sub(len)) else {
                return self.fail(SessionError::WindowExceeded { stream: id, len: payload.len(), window });
            };
            stream.recv_window = left;
            if !payload.is_empty() && stream.state.can_receive() && !stream.dropped {
                stream.buffered += payload.len();
                self.buffered += payload.len();
                stream.recv.push_back(payload);
                self.events.push_back(Event::Readable(id));
            }
        }
        if header.flags.contains(Flags::FIN) && stream.state.close_remote() {
            self.events.push_back(Event::RemoteClosed(id));
        }
        if header.flags.contains(Flags::RST) && stream.state != StreamState::Reset {
            // What arrived before the reset stays readable (as rust-libp2p's
            // yamux does): a peer that writes its last message and then
            // drops the stream loses nothing it had sent. Reads report the
            // reset once it is drained; dropping the handle frees it.
            stream.state = StreamState::Reset;
            self.events.push_back(Event::Reset(id));
        }
        self.forget_if_finished(id);
        Ok(())
    }

    fn forget_if_finished(&mut self, id: u32) {
        if self.streams.get(&id).is_some_and(Stream::finished)
            && let Some(mut stream) = self.streams.remove(&id)
        {
            if stream.awaiting_ack {
                self.backlog -= 1;
            }
            self.buffered -= stream.discard();
            self.window_total -= u64::from(stream.window);
        }
    }

    /// Opens a stream at `now`: an empty window update with SYN announces
    /// it at once, so the remote sees it even before data.
    pub fn open(&mut self, now: Instant) -> Result<u32, StreamError> {
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

    /// Accepts an inbound stream: its ACK goes out now.
    pub fn accept(&mut self, id: u32) -> Result<(), StreamError> {
        self.stream(id)?;
        self.announce(id);
        Ok(())
    }

    /// Sends an empty window update carrying a pending SYN or ACK.
    fn announce(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            let flags = stream.take_open_flags();
            if flags != Flags::NONE {
                self.send(Header::window_update(id, flags, 0));
            }
        }
    }

    fn stream(&mut self, id: u32) -> Result<&mut Stream, StreamError> {
        let stream = self.streams.get_mut(&id).ok_or(StreamError::Unknown)?;
        if stream.state == StreamState::Reset {
            return Err(StreamError::Reset);
        }
        Ok(stream)
    }

    /// Queues up to the stream's send window of `data`; returns how much
    /// (0: the window is spent, wait for [`Event::Writable`]).
    pub fn write(&mut self, id: u32, data: &[u8]) -> Result<usize, StreamError> {
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
            self.outbound.put_slice(&Header { length, ..Header::data(id, flags, 0) }.to_bytes());
            self.outbound.put_slice(chunk);
            self.queued_total += (crate::frame::HEADER_LEN + chunk.len()) as u64;
        }
        stream.send_window -= u32::try_from(n).unwrap_or(u32::MAX);
        Ok(n)
    }

    /// How much may be written on the stream now (its send window).
    pub fn send_window(&self, id: u32) -> u32 {
        self.streams.get(&id).map_or(0, |stream| stream.send_window)
    }

    /// Reads what arrived on the stream into `buf` at `now`; returns how
    /// much (0: nothing yet, or the end: see
    /// [`Session::is_finished_reading`]). Grants the remote more window
    /// once half of it was consumed, growing it with the measured BDP.
    pub fn read(&mut self, id: u32, buf: &mut [u8], now: Instant) -> Result<usize, StreamError> {
        let mut filled = 0;
        self.read_with(id, buf.len(), now, |chunk| {
            buf[filled..filled + chunk.len()].copy_from_slice(chunk);
            filled += chunk.len();
        })
    }

    /// [`Session::read`], handing up to `max` bytes to `put` in order
    /// (for a caller whose buffer is not a plain slice).
    pub fn read_with(
        &mut self,
        id: u32,
        max: usize,
        now: Instant,
        put: impl FnMut(&[u8]),
    ) -> Result<usize, StreamError> {
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
    pub fn is_finished_reading(&self, id: u32) -> bool {
        self.streams.get(&id).is_none_or(|stream| !stream.state.can_receive() && stream.recv.is_empty())
    }

    /// Half-closes the stream: a FIN goes out.
    pub fn close(&mut self, id: u32) -> Result<(), StreamError> {
        let stream = self.stream(id)?;
        if stream.state.close_local() {
            let flags = stream.take_open_flags() | Flags::FIN;
            self.send(Header::window_update(id, flags, 0));
        }
        Ok(())
    }

    /// Resets the stream: an RST goes out.
    pub fn reset(&mut self, id: u32) {
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
    /// is forgotten once the remote closes too, and what still arrives on
    /// it is dropped.
    pub fn drop_stream(&mut self, id: u32) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        stream.dropped = true;
        self.buffered -= stream.discard();
        if stream.state.can_write() {
            self.reset(id);
        }
        self.forget_if_finished(id);
    }

    /// Sends a ping carrying `value` (the answer comes as [`Event::Pong`]).
    pub fn ping(&mut self, value: u32) {
        self.send(Header::ping(false, value));
    }

    /// Measures the round trip with a ping sent at `now` (unless one is in
    /// flight); [`Session::rtt`] has the answer once it comes.
    pub fn measure_rtt(&mut self, value: u32, now: Instant) {
        if self.rtt_probe.is_none() && !self.ended {
            self.rtt_probe = Some((value, now));
            self.ping(value);
        }
    }

    /// Ends the session normally: a go-away goes out, no new streams.
    pub fn go_away(&mut self) {
        self.go_away_with(GoAway::Normal);
    }

    /// Ends the session with a go-away carrying `code` (a frame that does
    /// not decode is a [`GoAway::ProtocolError`]).
    pub fn go_away_with(&mut self, code: GoAway) {
        if !self.ended {
            self.ended = true;
            self.send(Header::go_away(code));
        }
    }
}
