#![doc = include_str!("../README.md")]

mod config;
mod connection;
mod error;
pub mod frame;
mod session;
mod shared;
mod stream;

use strata_core::{ByteStream, Endpoint, StreamMuxer};

pub use config::{Config, Overflow};
pub use connection::MplexConnection;
pub use error::{Error, Result};
pub use frame::{FrameError, MAX_FRAME_LEN};
pub use stream::MplexStream;

impl StreamMuxer for Config {
    const PROTOCOL_NAME: &'static str = "/mplex/6.7.0";

    type Connection<S: ByteStream> = MplexConnection;
    type Error = Error;

    /// Starts the connection's driver task on the current tokio runtime.
    /// mplex numbers streams per side, so the endpoint plays no part.
    async fn upgrade<S: ByteStream>(&self, stream: S, _endpoint: Endpoint) -> Result<MplexConnection> {
        Ok(MplexConnection::spawn(stream, self.clone()))
    }
}
