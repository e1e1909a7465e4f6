#![doc = include_str!("../README.md")]

mod client;
mod config;
pub mod key;
pub mod proto;
pub mod query;
mod server;
mod service;
pub mod store;
pub mod table;

pub use client::LookupStats;
pub use config::{Config, Mode, RecordValidator};
pub use proto::Record;
pub use service::{Error, Kad};

/// The protocol id.
pub const PROTOCOL: &str = "/ipfs/kad/1.0.0";
