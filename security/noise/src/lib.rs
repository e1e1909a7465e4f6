#![doc = include_str!("../README.md")]

mod config;
mod error;
mod handshake;
mod payload;
mod stream;

pub use config::Config;
pub use error::{Error, Result};
pub use stream::NoiseStream;
