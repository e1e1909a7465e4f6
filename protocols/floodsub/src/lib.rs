#![doc = include_str!("../README.md")]

mod config;
mod message;
mod router;
mod rpc;
mod seen;
mod service;
mod subscription;

pub use config::{Config, SignaturePolicy};
pub use message::{Message, MessageError, MessageId};
pub use service::{Error, Event, Floodsub};
pub use subscription::Subscription;

/// The protocol id.
pub const PROTOCOL: &str = "/floodsub/1.0.0";
