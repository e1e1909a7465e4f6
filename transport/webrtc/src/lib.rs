#![doc = include_str!("../README.md")]

mod addr;
mod certificate;
mod config;
mod connection;
mod error;
mod handle;
pub mod message;
mod noise;
mod rtc;
mod stream;
mod transport;

pub use addr::socket_addr_to_multiaddr;
pub use certificate::{Certificate, Fingerprint, noise_prologue};
pub use config::Config;
pub use error::{Error, Result};
pub use handle::WebRtcConnection;
pub use noise::NoiseError;
pub use stream::WebRtcStream;
pub use transport::{Upgrade, WebRtcListener, WebRtcTransport};
