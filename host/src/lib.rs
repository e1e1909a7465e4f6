#![doc = include_str!("../README.md")]

mod config;
mod connection;
mod error;
mod event;
mod host;
mod listener;
mod peer_store;
mod protocol;
mod stack;
mod stream;
mod upgrade;

pub use config::Config;
pub use error::{BoxError, Error, Result};
pub use event::{ConnectionId, Event};
pub use host::{Builder, Host};
pub use peer_store::PeerInfo;
pub use protocol::Protocol;
pub use stream::Stream;
