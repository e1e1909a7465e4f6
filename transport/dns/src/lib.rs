#![doc = include_str!("../README.md")]

mod config;
mod dnsaddr;
mod error;
mod lookup;
mod resolver;
mod server_name;

pub use config::Config;
pub use error::{Error, Result};
pub use resolver::Resolver;
