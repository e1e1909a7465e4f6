#![doc = include_str!("../README.md")]

mod config;
mod dnsaddr;
mod error;
mod lookup;
mod resolver;

pub use config::Config;
pub use error::{Error, Result};
pub use resolver::Resolver;
