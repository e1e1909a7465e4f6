#![doc = include_str!("../README.md")]

mod admission;
mod builder;
mod config;
mod connection;
mod connections;
mod error;
mod event;
mod host;
mod lifecycle;
mod listener;
mod peer_store;
mod protocol;
mod request;
mod source;
mod stream;
mod upgrader;
mod weak;

pub use admission::{IpRange, Refusal};
pub use builder::Builder;
pub use config::Config;
pub use error::{BoxError, Error, Result};
pub use event::{ConnectionId, Event};
pub use host::Host;
pub use lifecycle::{ConnectionEvent, Lifecycle};
pub use peer_store::PeerInfo;
pub use protocol::Protocol;
pub use request::{RequestConfig, RequestError, Requester};
pub use source::{BoxConnection, BoxStream, ByteStreamObject};
pub use stream::Stream;
pub use upgrader::{Upgrader, UpgraderListener};
pub use weak::WeakHost;
