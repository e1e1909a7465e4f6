#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod addr;
mod config;
mod error;
mod stream;
mod tls;
mod transport;

pub use config::Config;
pub use error::{Error, InnerError, Result};
pub use stream::WsStream;
pub use transport::{WsListener, WsTransport};
