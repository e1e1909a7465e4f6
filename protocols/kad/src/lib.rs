#![doc = include_str!("../README.md")]

pub mod key;
pub mod proto;
pub mod query;
pub mod store;
pub mod table;

/// The protocol id.
pub const PROTOCOL: &str = "/ipfs/kad/1.0.0";
