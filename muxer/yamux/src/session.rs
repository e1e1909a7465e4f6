//! The yamux session: streams and their windows, as a state machine with
//! no I/O. Frames from the remote go in ([`Session::receive`]); the
//! application opens, writes, reads, closes and resets streams; frames to
//! send come out ([`Session::next_frame`]) and so do events
//! ([`Session::next_event`]). A driver (next) owns the socket and the
//! wakers; this file is tested with frames alone.
//!
//! Spec: `libp2p-yamux.md`, "Message Flow", "Flow Control", "Session
//! termination" and "ACK backlog & backpressure":
//!
//! ```text
//! open:    SYN (on the first data or window update) ──▶   ◀── ACK (on accept), or RST (refused)
//! data:    at most the peer's window for the stream; each Data frame spends it
//! window:  the reader grants more with a Window Update once it consumed half
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

use std::collections::{HashMap, VecDeque};

use bytes::{Buf, Bytes};

use crate::{
    INITIAL_WINDOW,
    frame::{Flags, Frame, GoAway, Header, Type},
};

/// Which side of the connection we are: it decides stream id parity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We dialed: our streams have odd ids.
    Client,
    /// We accepted: our streams have even ids.
    Server,
}

/// Limits of a session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Streams open at once (both directions); past it, the remote's new
    /// streams are reset and ours refused.
    pub max_streams: usize,
    /// Our streams the remote has not acknowledged yet (the spec's ACK
    /// backlog, 256); past it, opening waits.
    pub max_ack_backlog: usize,
    /// The largest data frame we send (and accept).
    pub max_frame_len: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { max_streams: 512, max_ack_backlog: 256, max_frame_len: 256 * 1024 }
    }
}

/// What the session reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The remote opened a stream (accept it with [`Session::accept`]).
    Inbound(u32),
    /// Data arrived on a stream.
    Readable(u32),
    /// More of a stream's send window is free.
    Writable(u32),
    /// The remote half-closed a stream.
    RemoteClosed(u32),
    /// A stream was reset by the remote.
    Reset(u32),
    /// The answer to one of our pings.
    Pong(u32),
    /// The remote ends the session.
    GoAway(Option<GoAway>),
}

/// Why the session failed (a go-away with the protocol-error code is
/// queued for the remote).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The remote opened a stream with our parity, id 0, or an id in use.
    #[error("the remote opened stream {0}, which it may not")]
    BadStreamId(u32),
    /// The remote sent more than the window we granted.
    #[error("the remote sent {len} bytes on stream {stream} past a window of {window}")]
    WindowExceeded {
        /// The stream.
        stream: u32,
        /// The bytes sent.
        len: usize,
        /// The window left.
        window: u32,
    },
    /// A window update overflowed the window.
    #[error("a window update overflowed stream {0}'s window")]
    WindowOverflow(u32),
}

/// Why an application call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// No such stream (never opened, or closed and forgotten).
    #[error("no such stream")]
    Unknown,
    /// The stream was reset.
    #[error("the stream was reset")]
    Reset,
    /// We closed it for writing.
    #[error("write after close")]
    Closed,
    /// Too many streams, or too many not acknowledged yet.
    #[error("too many streams")]
    TooMany,
    /// The session has ended.
    #[error("the session has ended")]
    SessionEnded,
}

#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // independent facts of a stream's two halves
struct Stream {
    /// We have not sent its SYN yet (it goes with the first frame).
    syn_pending: bool,
    /// The remote opened it and we have not acknowledged it yet.
    ack_pending: bool,
    /// We opened it and the remote has not acknowledged it yet.
    awaiting_ack: bool,
    /// What we may still send.
    send_window: u32,
    /// What the remote may still send.
    recv_window: u32,
    /// Bytes consumed since the last window update we sent.
    consumed: u32,
    recv: VecDeque<Bytes>,
    local_closed: bool,
    remote_closed: bool,
    reset: bool,
}

impl Stream {
    fn new(ours: bool) -> Self {
        Self {
            syn_pending: ours,
            ack_pending: !ours,
            awaiting_ack: ours,
            send_window: INITIAL_WINDOW,
            recv_window: INITIAL_WINDOW,
            consumed: 0,
            recv: VecDeque::new(),
            local_closed: false,
            remote_closed: false,
            reset: false,
        }
    }

    /// The flags an outgoing frame carries for opening or accepting.
    fn take_open_flags(&mut self) -> Flags {
        let mut flags = Flags::NONE;
        if self.syn_pending {
            self.syn_pending = false;
            flags = flags | Flags::SYN;
        }
        if self.ack_pending {
            self.ack_pending = false;
            flags = flags | Flags::ACK;
        }
        flags
    }

    fn finished(&self) -> bool {
        self.reset || (self.local_closed && self.remote_closed && self.recv.is_empty())
    }
}

/// One yamux session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: SessionConfig,
    next_id: u32,
    streams: HashMap<u32, Stream>,
    /// Our streams not acknowledged yet.
    backlog: usize,
    outbound: VecDeque<Frame>,
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
            outbound: VecDeque::new(),
            events: VecDeque::new(),
            ended: false,
        }
    }

    /// The next frame to send, if any.
    pub fn next_frame(&mut self) -> Option<Frame> {
        self.outbound.pop_front()
    }

    /// The next event, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many streams are open.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
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
            self.outbound.push_back(Frame::control(Header::go_away(GoAway::ProtocolError)));
        }
        Err(error)
    }

    /// Applies one frame from the remote.
    pub fn receive(&mut self, frame: Frame) -> Result<(), SessionError> {
        let Frame { header, payload } = frame;
        match header.kind {
            Type::Ping => {
                if header.flags.contains(Flags::ACK) {
                    self.events.push_back(Event::Pong(header.length));
                } else {
                    self.outbound.push_back(Frame::control(Header::ping(true, header.length)));
                }
                Ok(())
            }
            Type::GoAway => {
                self.ended = true;
                self.events.push_back(Event::GoAway(GoAway::from_code(header.length)));
                Ok(())
            }
            Type::Data | Type::WindowUpdate => self.stream_frame(header, payload),
        }
    }

    fn stream_frame(&mut self, header: Header, payload: Bytes) -> Result<(), SessionError> {
        let id = header.stream;
        if header.flags.contains(Flags::SYN) {
            if id == 0 || self.is_ours(id) || self.streams.contains_key(&id) {
                return self.fail(SessionError::BadStreamId(id));
            }
            if self.ended || self.streams.len() >= self.config.max_streams {
                self.outbound.push_back(Frame::control(Header::window_update(id, Flags::RST, 0)));
                return Ok(());
            }
            self.streams.insert(id, Stream::new(false));
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
            if payload.len() > usize::try_from(window).unwrap_or(usize::MAX) {
                return self.fail(SessionError::WindowExceeded { stream: id, len: payload.len(), window });
            }
            stream.recv_window -= u32::try_from(payload.len()).unwrap_or(u32::MAX);
            if !payload.is_empty() && !stream.reset && !stream.remote_closed {
                stream.recv.push_back(payload);
                self.events.push_back(Event::Readable(id));
            }
        }
        if header.flags.contains(Flags::FIN) && !stream.remote_closed {
            stream.remote_closed = true;
            self.events.push_back(Event::RemoteClosed(id));
        }
        if header.flags.contains(Flags::RST) {
            stream.reset = true;
            stream.recv.clear();
            self.events.push_back(Event::Reset(id));
        }
        self.forget_if_finished(id);
        Ok(())
    }

    fn forget_if_finished(&mut self, id: u32) {
        if self.streams.get(&id).is_some_and(Stream::finished)
            && let Some(stream) = self.streams.remove(&id)
            && stream.awaiting_ack
        {
            self.backlog -= 1;
        }
    }

    /// Opens a stream; its SYN goes with its first frame.
    pub fn open(&mut self) -> Result<u32, StreamError> {
        if self.ended {
            return Err(StreamError::SessionEnded);
        }
        if self.streams.len() >= self.config.max_streams || self.backlog >= self.config.max_ack_backlog {
            return Err(StreamError::TooMany);
        }
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(2).ok_or(StreamError::TooMany)?;
        self.streams.insert(id, Stream::new(true));
        self.backlog += 1;
        // Announce it at once with an empty window update carrying SYN, so
        // the remote sees the stream even before data.
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
                self.outbound.push_back(Frame::control(Header::window_update(id, flags, 0)));
            }
        }
    }

    fn stream(&mut self, id: u32) -> Result<&mut Stream, StreamError> {
        let stream = self.streams.get_mut(&id).ok_or(StreamError::Unknown)?;
        if stream.reset {
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
        let stream = self.stream(id)?;
        if stream.local_closed {
            return Err(StreamError::Closed);
        }
        let window = usize::try_from(stream.send_window).unwrap_or(usize::MAX);
        let n = data.len().min(window).min(max_frame);
        if n == 0 {
            return Ok(0);
        }
        let flags = stream.take_open_flags();
        stream.send_window -= u32::try_from(n).unwrap_or(u32::MAX);
        let frame = Frame::data(Header::data(id, flags, 0), Bytes::copy_from_slice(&data[..n]));
        self.outbound.push_back(frame);
        Ok(n)
    }

    /// Reads what arrived on the stream into `buf`; returns how much (0
    /// with data pending: none yet; see [`Session::is_finished_reading`]).
    /// Grants the remote more window once half of it was consumed.
    pub fn read(&mut self, id: u32, buf: &mut [u8]) -> Result<usize, StreamError> {
        let stream = self.stream(id)?;
        let mut n = 0;
        while n < buf.len() {
            let Some(front) = stream.recv.front_mut() else { break };
            let take = front.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&front[..take]);
            front.advance(take);
            n += take;
            if front.is_empty() {
                stream.recv.pop_front();
            }
        }
        stream.consumed += u32::try_from(n).unwrap_or(u32::MAX);
        // Window updates when half the window was consumed, not per read.
        if stream.consumed >= INITIAL_WINDOW / 2 && !stream.remote_closed {
            let delta = stream.consumed;
            stream.consumed = 0;
            stream.recv_window += delta;
            let flags = stream.take_open_flags();
            self.outbound.push_back(Frame::control(Header::window_update(id, flags, delta)));
        }
        self.forget_if_finished(id);
        Ok(n)
    }

    /// Whether the remote closed the stream and everything it sent was read.
    pub fn is_finished_reading(&self, id: u32) -> bool {
        self.streams.get(&id).is_none_or(|stream| stream.remote_closed && stream.recv.is_empty())
    }

    /// Half-closes the stream: a FIN goes out.
    pub fn close(&mut self, id: u32) -> Result<(), StreamError> {
        let stream = self.stream(id)?;
        if stream.local_closed {
            return Ok(());
        }
        stream.local_closed = true;
        let flags = stream.take_open_flags() | Flags::FIN;
        self.outbound.push_back(Frame::control(Header::window_update(id, flags, 0)));
        self.forget_if_finished(id);
        Ok(())
    }

    /// Resets the stream: an RST goes out and it is forgotten.
    pub fn reset(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id)
            && !stream.reset
        {
            stream.reset = true;
            stream.recv.clear();
            self.outbound.push_back(Frame::control(Header::window_update(id, Flags::RST, 0)));
            self.forget_if_finished(id);
        }
    }

    /// Sends a ping carrying `value` (the answer comes as [`Event::Pong`]).
    pub fn ping(&mut self, value: u32) {
        self.outbound.push_back(Frame::control(Header::ping(false, value)));
    }

    /// Ends the session normally: a go-away goes out, no new streams.
    pub fn go_away(&mut self) {
        if !self.ended {
            self.ended = true;
            self.outbound.push_back(Frame::control(Header::go_away(GoAway::Normal)));
        }
    }
}
