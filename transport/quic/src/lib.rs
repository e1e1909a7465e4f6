#![doc = include_str!("../README.md")]

mod addr;
mod config;
mod connection;
mod error;
mod hole_punch;
pub mod tls;
mod transport;

pub use addr::socket_addr_to_multiaddr;
pub use config::Config;
pub use connection::{QuicConnection, QuicStream};
pub use error::Error;
pub use transport::{QuicListener, QuicTransport, Upgrade};
