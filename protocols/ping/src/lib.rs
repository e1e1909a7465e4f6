#![doc = include_str!("../README.md")]

mod config;
mod service;

pub use config::Config;
pub use service::{Error, Event, Ping};

/// The protocol id.
pub const PROTOCOL: &str = "/ipfs/ping/1.0.0";

/// The size of one ping payload, in bytes.
pub const PAYLOAD_LEN: usize = 32;
