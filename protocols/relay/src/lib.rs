#![doc = include_str!("../README.md")]

mod auto;
pub mod client;
pub mod codec;
mod config;
mod error;
mod hop;
mod listener;
mod message;
mod proto;
mod splice;
mod state;
mod transport;

pub use auto::{AutoRelay, AutoRelayConfig, AutoRelayEvent, Reachability};
pub use codec::MAX_MESSAGE_SIZE;
pub use config::{ClientConfig, Config};
pub use error::{Error, Result};
pub use hop::Relay;
pub use listener::{CircuitListener, renewal_delay};
pub use message::{DecodeError, HopMessage, Limit, Peer, Reservation, Status, StopMessage};
pub use state::{CircuitId, HopState};
pub use transport::{CircuitTransport, Client, ClientEvent, LossReason};

/// The hop protocol id: clients talking to a relay.
pub const HOP_PROTOCOL: &str = "/libp2p/circuit/relay/0.2.0/hop";

/// The stop protocol id: a relay talking to a circuit's target.
pub const STOP_PROTOCOL: &str = "/libp2p/circuit/relay/0.2.0/stop";
