#![doc = include_str!("../README.md")]

mod config;
mod router;
mod service;

pub use config::Config;
pub use router::{FloodRouter, Violation};
pub use service::Floodsub;
pub use strata_pubsub::{Event, service::Error};
pub use strata_pubsub::{Message, MessageError, MessageId, MessageIdFn, SignaturePolicy, Subscription};

/// The protocol id.
pub const PROTOCOL: &str = "/floodsub/1.0.0";
