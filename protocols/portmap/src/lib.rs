#![doc = include_str!("../README.md")]

mod config;
mod driver;
mod error;
mod mapper;
mod table;

pub use config::{Config, Discovery};
pub use error::{Error, Result};
pub use mapper::{Event, Mapping, PortMapper};
pub use table::Protocol;
