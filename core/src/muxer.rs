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
//! The connection's I/O is owned by the implementation (typically one task
//! per connection that it spawns); the `MuxedConnection` is a handle to it,
//! usable from many tasks at once.

use std::future::Future;

use crate::{ByteStream, Endpoint};

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
