#![doc = include_str!("../README.md")]

mod config;
mod net;
pub mod packet;
mod peers;
mod service;

pub use config::{Config, GROUP_V4, GROUP_V6, Interfaces, PORT};
pub use peers::Event;
pub use service::{Error, Mdns};
