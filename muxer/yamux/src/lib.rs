#![doc = include_str!("../README.md")]

mod config;
mod error;
pub mod frame;
pub mod session;

use strata_core::{ByteStream, Endpoint, StreamMuxer, muxer};

pub use config::Config;
pub use error::{Error, ProtocolError, Result};
pub use frame::{Decoder, Flags, Frame, FrameError, GoAway, Header, Type};
pub use session::{Role, Session, SessionConfig};
pub use strata_core::muxer::{Event, StreamError};

/// A live yamux connection (the one muxer driver over a yamux [`Session`]).
pub type YamuxConnection = muxer::Connection<Session>;
/// One stream of a yamux connection; its id is odd when the dialer opened
/// it, even when the listener did.
pub type YamuxStream = muxer::Stream<Session>;

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
        let session = Session::new(role, self.session.clone());
        Ok(muxer::Connection::spawn(stream, session, self.session.connection.clone()))
    }
}
