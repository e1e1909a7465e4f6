#![doc = include_str!("../README.md")]

pub mod codec;
mod config;
mod driver;
mod error;
mod message;
mod proto;
mod puncher;
mod service;
pub mod state;

pub use config::Config;
pub use error::{Error, Result};
pub use message::{DecodeError, HolePunch, Type};
pub use puncher::{BoxFuture, HostPuncher, Puncher};
pub use service::{Dcutr, Event, Stats};
pub use state::{Action, Exchange, Failure, Outcome, Reason, Role, Success};

/// The protocol id (`libp2p-relay-DCUtR.md`).
pub const PROTOCOL: &str = "/libp2p/dcutr";
