#![doc = include_str!("../README.md")]

pub mod budget;
pub mod byte_stream;
pub mod connection;
pub mod der;
pub mod error;
pub mod framing;
pub mod identity;
pub mod multiaddr;
pub mod multibase;
pub mod multistream;
pub mod muxer;
pub mod muxer_io;
pub mod peer_id;
pub mod protobuf;
pub mod random;
pub mod resolve;
pub mod security;
pub mod transport;
pub mod varint;

pub use budget::MemoryBudget;
pub use byte_stream::ByteStream;
pub use connection::{ConnectionListener, ConnectionSource, PeerIdMismatch};
pub use error::{Error, Result};
pub use identity::{KeyType, Keypair, PublicKey};
pub use multiaddr::Multiaddr;
pub use muxer::{MuxedConnection, StreamMuxer, StreamState};
pub use peer_id::PeerId;
pub use resolve::AddressResolver;
pub use security::SecurityUpgrade;
pub use transport::{Endpoint, Listener, Transport};
