#![doc = include_str!("../README.md")]

mod config;
mod error;
mod handshake;
mod payload;
mod resolver;
mod stream;

pub use config::{Config, HandshakeMessage, HandshakeObserver};
pub use error::{Error, Result};
pub use stream::NoiseStream;
