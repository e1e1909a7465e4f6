//! `StreamMuxer`: many logical streams over one secure connection.
//!
//! The third layer of a connection (`libp2p-connections.md`, "Upgrading
//! connections"): after multistream-select has agreed on the muxer's
//! protocol name (`/mplex/6.7.0`), the muxer takes the encrypted stream and
//! yields a [`MuxedConnection`], on which either side opens streams. Each
//! stream is again a [`ByteStream`], and gets its own multistream-select to
//! pick an application protocol.
//!
//! ```text
//! encrypted stream ──upgrade(endpoint)──▶ MuxedConnection ──open_stream()───▶ stream
//!                                                          └─accept_stream()─▶ stream
//! ```
//!
//! The connection's I/O is owned by the implementation; the
//! `MuxedConnection` is a handle to it, usable from many tasks at once.
//!
//! Muxers over a byte stream (yamux, mplex) share everything but their
//! protocol: each implements the sans-IO [`Session`] (bytes and `now` in;
//! frames, events and the next deadline out), and one driver serves them
//! all: [`Connection`] (one task per connection owning the socket, with
//! [`muxer_io`](crate::muxer_io)'s batch writer), its wakers and memory
//! budget, and [`Stream`], the one stream handle.
//!
//! ```text
//! socket ──read──▶ Session::handle_input ──events──▶ wake readers, writers, acceptors
//! Stream::poll_write ──▶ Session::write ──take_outbound──▶ BatchWriter ──▶ socket
//! driver's one timer ──Session::poll_timeout / handle_timeout(now)──▶ keep-alive, stall, close
//! ```

use std::{future::Future, time::Instant};

use crate::{ByteStream, Endpoint};

mod buffers;
mod config;
mod driver;
mod error;
mod session;
mod shared;
mod stream;
mod timers;

pub use buffers::{Outbound, RecvBuffer};
pub use config::ConnectionConfig;
pub use driver::Connection;
pub use error::Error;
pub use session::{Event, Session, StreamError};
pub use stream::Stream;
pub use timers::Deadlines;

/// The driver's clock: tokio's, so that tests on a paused runtime clock
/// move every muxer deadline with it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A stream multiplexing protocol.
pub trait StreamMuxer: Clone + Send + Sync + 'static {
    /// The protocol name negotiated with multistream-select
    /// (`"/mplex/6.7.0"`).
    const PROTOCOL_NAME: &'static str;

    /// The multiplexed connection over an `S`.
    type Connection<S: ByteStream>: MuxedConnection;
    /// What setting up the muxer can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Starts multiplexing over `stream`; `endpoint` says whether we dialed
    /// the connection or accepted it.
    fn upgrade<S: ByteStream>(
        &self,
        stream: S,
        endpoint: Endpoint,
    ) -> impl Future<Output = Result<Self::Connection<S>, Self::Error>> + Send;
}

/// A live multiplexed connection: a handle shared by the tasks that use it.
pub trait MuxedConnection: Send + Sync + 'static {
    /// One logical stream.
    type Stream: ByteStream;
    /// What opening, accepting or closing can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new outbound stream.
    fn open_stream(&self) -> impl Future<Output = Result<Self::Stream, Self::Error>> + Send;

    /// Waits for the next stream the remote opens; `Ok(None)` once the
    /// connection is closed. Cancel-safe, so it can sit in a `select!`.
    fn accept_stream(&self) -> impl Future<Output = Result<Option<Self::Stream>, Self::Error>> + Send;

    /// Closes the connection and every stream on it, and waits until its I/O
    /// has stopped.
    fn close(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Where one multiplexed stream is in its life, as both muxers track it.
///
/// The two halves close independently (a FIN or Close frame each way); a
/// reset, from either side, ends both at once.
///
/// ```text
/// Open ──we close──▶ LocalClosed ──they close──▶ Closed
///   └──they close──▶ RemoteClosed ──we close──▶ Closed
/// any ──reset──▶ Reset
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamState {
    /// Both halves open.
    #[default]
    Open,
    /// We closed our half: we write no more; the remote may.
    LocalClosed,
    /// The remote closed its half: it writes no more; we may.
    RemoteClosed,
    /// Both halves closed.
    Closed,
    /// Reset by either side: neither reads nor writes.
    Reset,
}

impl StreamState {
    /// Our half closes; returns whether this changed anything.
    pub fn close_local(&mut self) -> bool {
        let next = match self {
            Self::Open => Self::LocalClosed,
            Self::RemoteClosed => Self::Closed,
            _ => return false,
        };
        *self = next;
        true
    }

    /// The remote's half closes; returns whether this changed anything.
    pub fn close_remote(&mut self) -> bool {
        let next = match self {
            Self::Open => Self::RemoteClosed,
            Self::LocalClosed => Self::Closed,
            _ => return false,
        };
        *self = next;
        true
    }

    /// Whether we may still write.
    pub fn can_write(self) -> bool {
        matches!(self, Self::Open | Self::RemoteClosed)
    }

    /// Whether the remote may still send data.
    pub fn can_receive(self) -> bool {
        matches!(self, Self::Open | Self::LocalClosed)
    }

    /// Whether the stream is over both ways (closed or reset).
    pub fn is_over(self) -> bool {
        matches!(self, Self::Closed | Self::Reset)
    }
}
