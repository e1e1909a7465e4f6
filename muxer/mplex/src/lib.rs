#![doc = include_str!("../README.md")]

mod config;
mod error;
pub mod frame;
mod session;

use strata_core::{ByteStream, Endpoint, StreamMuxer, muxer};

pub use config::{Config, Overflow};
pub use error::{Error, ProtocolError, Result};
pub use frame::{FrameError, MAX_FRAME_LEN, StreamId};
pub use session::Session;

/// A live mplex connection (the one muxer driver over an mplex [`Session`]).
pub type MplexConnection = muxer::Connection<Session>;
/// One stream of an mplex connection; its [`StreamId`] says who opened it.
pub type MplexStream = muxer::Stream<Session>;

impl StreamMuxer for Config {
    const PROTOCOL_NAME: &'static str = "/mplex/6.7.0";

    type Connection<S: ByteStream> = MplexConnection;
    type Error = Error;

    /// Starts the connection's driver task on the current tokio runtime.
    /// mplex numbers streams per side, so the endpoint plays no part.
    async fn upgrade<S: ByteStream>(&self, stream: S, _endpoint: Endpoint) -> Result<MplexConnection> {
        Ok(muxer::Connection::spawn(stream, Session::new(self.clone()), self.connection.clone()))
    }
}
