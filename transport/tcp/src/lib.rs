#![doc = include_str!("../README.md")]

mod addr;
mod config;
mod error;
mod ports;
mod transport;

pub use addr::socket_addr_to_multiaddr;
pub use config::Config;
pub use error::{Error, Result};
pub use transport::{TcpListener, TcpTransport};
