#![doc = include_str!("../README.md")]

mod config;
mod info;
mod service;

pub use config::Config;
pub use info::{Info, InfoError};
pub use service::{Error, Event, Identify};

/// The identify protocol id: ask a peer who it is.
pub const PROTOCOL: &str = "/ipfs/id/1.0.0";

/// The identify/push protocol id: tell a peer what changed.
pub const PUSH_PROTOCOL: &str = "/ipfs/id/push/1.0.0";
