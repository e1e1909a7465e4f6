//! `muxer::Session`: the sans-IO core every muxer implements, and the
//! words it speaks (its events and how its stream calls fail).
//!
//! A session is a plain state machine: bytes from the remote and the time
//! go in ([`Session::handle_input`], [`Session::handle_timeout`]); encoded
//! frames ([`Session::take_outbound`]), events ([`Session::next_event`])
//! and the next deadline ([`Session::poll_timeout`]) come out, in the
//! style of `quinn-proto`. It owns every timer of the connection
//! (keep-alive, stall, close), so its timing is tested with plain
//! `Instant` arithmetic. The one driver in [`super::Connection`] owns the
//! socket, the wakers and the sleeping, for every muxer.

use std::{fmt::Debug, hash::Hash, io, time::Instant};

use bytes::BytesMut;

use super::{Error, Outbound};

/// What a session reports to whoever waits on it (the driver turns each
/// into a wake).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<Id> {
    /// The remote opened a stream (hand it out with [`Session::accept`]).
    Inbound(Id),
    /// Data arrived on a stream.
    Readable(Id),
    /// The remote half-closed a stream: its reader reaches the end.
    RemoteClosed(Id),
    /// More of a stream's send window is free.
    Writable(Id),
    /// A stream was reset (by the remote, or by us for a rule it broke).
    Reset(Id),
    /// The remote ends the session: no more streams either way.
    GoAway,
}

/// Why a call on a stream (or an open) failed.
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
    /// Too many streams are open.
    #[error("too many streams")]
    TooMany,
    /// Too many of our streams are not acknowledged yet: wait (the driver
    /// retries after the next frames from the remote).
    #[error("too many streams not acknowledged by the remote yet")]
    AckBacklog,
    /// The session has ended.
    #[error("the session has ended")]
    SessionEnded,
}

impl From<StreamError> for io::Error {
    /// A stream is a byte stream: `ConnectionReset` for a reset (or
    /// forgotten) stream, `BrokenPipe` for a write after close,
    /// `ConnectionAborted` for a stream whose session ended.
    fn from(error: StreamError) -> Self {
        let kind = match error {
            StreamError::Unknown | StreamError::Reset => io::ErrorKind::ConnectionReset,
            StreamError::Closed => io::ErrorKind::BrokenPipe,
            _ => io::ErrorKind::ConnectionAborted,
        };
        io::Error::new(kind, error)
    }
}

/// The sans-IO core of one muxed connection. See the module documentation.
///
/// Every method returns at once; none blocks, sleeps or reads a clock.
pub trait Session: Send + 'static {
    /// How the session names a stream.
    type Id: Copy + Eq + Hash + Debug + Send + Sync + Unpin + 'static;
    /// The muxer's kinds of protocol violation (the `P` of [`Error`]).
    type ProtocolError: std::error::Error + Clone + Send + Sync + Unpin + 'static;
    /// The muxer's name, for logs (`"yamux"`).
    const NAME: &'static str;

    // ----- the connection -----

    /// The connection starts at `now` (a session that measures the round
    /// trip or keeps the connection alive pings here).
    fn start(&mut self, _now: Instant) {}

    /// Decodes and applies at most one complete frame from the front of
    /// `input`; returns whether it did. A violation ends the session (any
    /// answer the spec asks for, such as a go-away, is queued first).
    fn handle_input(&mut self, input: &mut BytesMut, now: Instant) -> Result<bool, Self::ProtocolError>;

    /// Whether the driver must stop reading the socket for now: the
    /// streams hold too much unread, or the remote provoked more frames
    /// than it reads. Asked between frames.
    fn reading_paused(&mut self) -> bool;

    /// The next deadline (keep-alive, stall, close), if any.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Does what is due at `now`; a deadline that ends the connection is
    /// the error ([`Error::Stalled`], [`Error::KeepAliveTimeout`],
    /// [`Error::CloseTimeout`]).
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error<Self::ProtocolError>>;

    /// Starts closing at `now`: no new streams, a go-away if the protocol
    /// has one, and the close deadline runs.
    fn close(&mut self, now: Instant);

    /// Whether no new stream will come from the remote (it went away, or
    /// the session ended).
    fn is_ended(&self) -> bool;

    /// The next event, if any.
    fn next_event(&mut self) -> Option<Event<Self::Id>>;

    /// Swaps every encoded frame queued into `buf` (which must be empty);
    /// returns whether there were any.
    fn take_outbound(&mut self, buf: &mut BytesMut) -> bool;

    /// The first `total` bytes ever queued are written and flushed; the
    /// outbound buffer's memory may go if nothing waits.
    fn flushed(&mut self, total: u64);

    /// The encoded frames waiting for the socket.
    fn outbound(&self) -> &Outbound;

    /// Unread bytes of all streams (what the node's memory budget counts).
    fn buffered(&self) -> usize;

    /// The stream limit ([`Error::TooManyStreams`] reports it).
    fn max_streams(&self) -> usize;

    /// The most one write of a stream hands the session at once.
    fn write_turn(&self) -> usize {
        64 * 1024
    }

    // ----- the streams -----

    /// Opens a stream at `now`.
    fn open(&mut self, now: Instant) -> Result<Self::Id, StreamError>;

    /// The application takes an inbound stream (yamux acknowledges it).
    fn accept(&mut self, id: Self::Id);

    /// Hands up to `max` received bytes of the stream to `put`, in order;
    /// returns how many (0: nothing yet, or the end: see
    /// [`Session::is_finished_reading`]).
    fn read_with(
        &mut self,
        id: Self::Id,
        max: usize,
        now: Instant,
        put: impl FnMut(&[u8]),
    ) -> Result<usize, StreamError>;

    /// Whether nothing more will arrive: the remote closed the stream and
    /// everything it sent was read.
    fn is_finished_reading(&self, id: Self::Id) -> bool;

    /// Whether the stream may be written (not reset, not closed by us).
    fn writable(&self, id: Self::Id) -> Result<(), StreamError>;

    /// Queues some of `data`; returns how much (0: the stream's send
    /// window is spent, wait for [`Event::Writable`]).
    fn write(&mut self, id: Self::Id, data: &[u8]) -> Result<usize, StreamError>;

    /// Half-closes the stream: we write no more.
    fn close_stream(&mut self, id: Self::Id) -> Result<(), StreamError>;

    /// Resets the stream: neither side reads or writes it any more.
    fn reset(&mut self, id: Self::Id);

    /// The application let go of the stream: one not closed for writing is
    /// reset; a closed one is forgotten once the remote closes too.
    fn drop_stream(&mut self, id: Self::Id);
}
