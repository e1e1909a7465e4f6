#![doc = include_str!("../README.md")]

mod candidates;
mod client;
pub mod codec;
mod config;
mod error;
mod limiter;
mod message;
mod observers;
mod proto;
mod server;

pub use client::{Client, Event};
pub use config::{ClientConfig, ServerConfig};
pub use error::{Error, Result};
pub use message::{
    DecodeError, DialBack, DialBackResponse, DialDataRequest, DialDataResponse, DialRequest, DialResponse, DialStatus,
    Message, ResponseStatus,
};
pub use server::{Server, ServerEvent};

/// The dial-request protocol id: a client asks a server to dial it back.
pub const DIAL_REQUEST_PROTOCOL: &str = "/libp2p/autonat/2/dial-request";

/// The dial-back protocol id: the server delivers the nonce on the new
/// connection.
pub const DIAL_BACK_PROTOCOL: &str = "/libp2p/autonat/2/dial-back";

/// The most bytes of `data` in one `DialDataResponse` (the spec: "limited
/// to 4096 bytes").
pub const MAX_DATA_CHUNK: usize = 4096;

/// What a client concludes of its reachability, all addresses together
/// ([`Client::reachability`], [`Event::ReachabilityChanged`]). The type is
/// the host's, so that auto-relay (`strata-relay`) takes the verdict as is.
pub use strata_host::Reachability;
