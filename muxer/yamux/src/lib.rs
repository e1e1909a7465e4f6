#![doc = include_str!("../README.md")]

mod config;
mod connection;
mod error;
pub mod frame;
pub mod session;
mod shared;
mod stream;

use strata_core::{ByteStream, Endpoint, StreamMuxer};

pub use config::Config;
pub use connection::YamuxConnection;
pub use error::{Error, Result};
pub use frame::{Decoder, Flags, Frame, FrameError, GoAway, Header, Type};
pub use session::{Event, Role, Session, SessionConfig, SessionError, StreamError};
pub use stream::YamuxStream;

/// The protocol id negotiated with multistream-select.
pub const PROTOCOL_NAME: &str = "/yamux/1.0.0";

/// Every stream's receive window before any window update (spec: "Flow
/// Control"): 256 KiB.
pub const INITIAL_WINDOW: u32 = 256 * 1024;

impl StreamMuxer for Config {
    const PROTOCOL_NAME: &'static str = PROTOCOL_NAME;

    type Connection<S: ByteStream> = YamuxConnection;
    type Error = Error;

    /// Starts the connection's driver task on the current tokio runtime.
    /// The dialer is the yamux client (odd stream ids), the listener the
    /// server (even ones).
    async fn upgrade<S: ByteStream>(&self, stream: S, endpoint: Endpoint) -> Result<YamuxConnection> {
        let role = match endpoint {
            Endpoint::Dialer => Role::Client,
            Endpoint::Listener => Role::Server,
        };
        Ok(YamuxConnection::spawn(stream, role, self))
    }
}
