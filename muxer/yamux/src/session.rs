//! The yamux session: streams and their windows, as a state machine with
//! no I/O, implementing [`strata_core::muxer::Session`] (in `driven.rs`).
//! Bytes or frames from the remote go in (`handle_input`,
//! [`Session::receive`]); the application opens, writes, reads, closes
//! and resets streams; frames to send come out ([`Session::next_frame`])
//! and so do events. Time comes in as an argument where it matters (round
//! trips, window growth, and the keep-alive, stall and close deadlines of
//! `poll_timeout` and `handle_timeout`). `strata_core::muxer::Connection`
//! drives it; it is tested with frames and a fake clock alone.
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
//!
//! The remote can make us queue frames it asks for (pong answers, resets
//! of streams past the limit): past the outbound queue's size of them
//! unread, reading from it pauses, and after the stall timeout the
//! connection fails.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use bytes::Bytes;
use strata_core::{
    StreamState,
    muxer::{Deadlines, Event, Outbound, Session as _, StreamError},
};

use crate::{
    INITIAL_WINDOW, ProtocolError,
    frame::{Decoder, Flags, Frame, GoAway, Header, Type},
};

mod driven;
mod stream;
mod types;

use stream::Stream;
pub use types::{Role, SessionConfig};

/// The value of the round-trip and keep-alive pings (any value works; the
/// answer echoes it).
const RTT_PING: u32 = 0x7961_6d78;

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
    outbound: Outbound,
    /// Bytes of frames the remote provoked (pongs, refusals) in `outbound`.
    provoked: usize,
    events: VecDeque<Event<u32>>,
    ended: bool,
    /// The value of the last answer to a ping of ours other than the
    /// round-trip probe.
    last_pong: Option<u32>,
    decoder: Decoder,
    deadlines: Deadlines,
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
            decoder: Decoder::new(config.max_received_frame_len),
            deadlines: Deadlines::new(&config.connection, config.keep_alive),
            config,
            next_id,
            streams: HashMap::new(),
            backlog: 0,
            buffered: 0,
            window_total: 0,
            rtt_probe: None,
            rtt: None,
            outbound: Outbound::default(),
            provoked: 0,
            events: VecDeque::new(),
            ended: false,
            last_pong: None,
        }
    }

    /// The next frame to send, if any (one at a time, decoded again: for
    /// tests and tools; a driver takes the bytes with
    /// [`Session::take_outbound`]).
    pub fn next_frame(&mut self) -> Option<Frame> {
        Decoder::new(usize::MAX).decode(self.outbound.queued_mut()).ok().flatten()
    }

    /// Bytes of frames the remote provoked (answers to its pings, resets of
    /// streams it opened past the limit) waiting to be taken. They wait
    /// only while the remote does not read: a driver stops reading from it
    /// past a bound, so a peer cannot make us queue without end.
    pub fn provoked_unsent(&self) -> usize {
        self.provoked
    }

    /// Queues a frame the remote's own frame calls for.
    fn send_provoked(&mut self, header: Header) {
        self.send(header);
        self.provoked += crate::frame::HEADER_LEN;
    }

    /// Queues a frame without payload.
    fn send(&mut self, header: Header) {
        self.outbound.put(&header.to_bytes());
    }

    /// How many streams are open (or closed with their handle still held).
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The last measured round trip, if any.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Whether a round-trip ping of ours is unanswered.
    pub fn probe_in_flight(&self) -> bool {
        self.rtt_probe.is_some()
    }

    /// The value of the last answer to one of our pings (other than the
    /// round-trip probe).
    pub fn last_pong(&self) -> Option<u32> {
        self.last_pong
    }

    /// Whether the frames the remote provoked and does not read pass the
    /// outbound queue's size. Only those count: our own data is bounded by
    /// the windows and the queue already, and pausing for it could leave
    /// two peers that write to each other each waiting for the other.
    pub fn owes_too_much(&self) -> bool {
        self.provoked >= self.config.connection.max_outbound_queue
    }

    fn is_ours(&self, id: u32) -> bool {
        match self.role {
            Role::Client => !id.is_multiple_of(2),
            Role::Server => id.is_multiple_of(2),
        }
    }

    /// Ends the session for a protocol error: a go-away goes out.
    fn fail(&mut self, error: ProtocolError) -> Result<(), ProtocolError> {
        if !self.ended {
            self.ended = true;
            self.send(Header::go_away(GoAway::ProtocolError));
        }
        Err(error)
    }

    /// Applies one frame from the remote, received at `now`.
    pub fn receive(&mut self, frame: Frame, now: Instant) -> Result<(), ProtocolError> {
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
                    self.last_pong = Some(header.length);
                }
                Ok(())
            }
            Type::GoAway => {
                tracing::debug!(code = ?GoAway::from_code(header.length), "yamux: the remote is going away");
                self.ended = true;
                self.events.push_back(Event::GoAway);
                Ok(())
            }
            Type::Data | Type::WindowUpdate => self.stream_frame(header, payload, now),
        }
    }

    fn stream_frame(&mut self, header: Header, payload: Bytes, now: Instant) -> Result<(), ProtocolError> {
        let id = header.stream;
        if header.flags.contains(Flags::SYN) {
            if id == 0 || self.is_ours(id) || self.streams.contains_key(&id) {
                return self.fail(ProtocolError::BadStreamId(id));
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
                return self.fail(ProtocolError::WindowOverflow(id));
            };
            stream.send_window = window;
            if header.length > 0 {
                self.events.push_back(Event::Writable(id));
            }
        } else {
            let window = stream.recv_window;
            let Some(left) = u32::try_from(payload.len()).ok().and_then(|len| window.checked_sub(len)) else {
                return self.fail(ProtocolError::WindowExceeded { stream: id, len: payload.len(), window });
            };
            stream.recv_window = left;
            if !payload.is_empty() && stream.state.can_receive() {
                if stream.dropped {
                    // Its handle is gone (after closing its writing half):
                    // nobody will read this. Data with the remote's FIN is
                    // its last: dropped, and the stream ends normally
                    // below. Data without one gets a reset, which tells the
                    // remote to stop writing; else it writes until its
                    // window is spent and then waits forever.
                    if !header.flags.contains(Flags::FIN) {
                        strata_core::muxer::Session::reset(self, id);
                        return Ok(());
                    }
                } else {
                    self.buffered += payload.len();
                    stream.recv.push(payload);
                    self.events.push_back(Event::Readable(id));
                }
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

    /// Sends a ping carrying `value` (its answer shows in [`Session::last_pong`]).
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
