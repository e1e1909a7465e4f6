#![doc = include_str!("../README.md")]

pub use strata_core as core;
pub use strata_core::{Endpoint, Keypair, Multiaddr, PeerId, PublicKey, multiaddr, multistream};
pub use strata_floodsub as floodsub;
pub use strata_host as host;
pub use strata_host::{ConnectionEvent, ConnectionId, Event, Host, Protocol, Stream, WeakHost};
pub use strata_identify as identify;
pub use strata_mplex as mplex;
pub use strata_noise as noise;
pub use strata_ping as ping;
pub use strata_pubsub as pubsub;
pub use strata_tcp as tcp;

/// A host builder.
pub type Builder = strata_host::Builder;

/// How many bytes all connections of a host built by [`builder`] may hold
/// unread in their muxers together: 256 MiB. Past it they stop reading
/// from their peers until the application reads (each connection is also
/// bounded on its own, at 8 MiB).
pub const DEFAULT_MEMORY_BUDGET: usize = 256 << 20;

/// Starts building a host with this identity over the default layers (TCP
/// transport, Noise security, mplex multiplexing), each with its default
/// configuration and a node-wide memory budget of
/// [`DEFAULT_MEMORY_BUDGET`] for muxer buffers. For other layers or
/// configurations, use [`Host::builder`].
pub fn builder(keypair: &Keypair) -> Builder {
    let muxer = mplex::Config::default().with_memory_budget(core::MemoryBudget::new(DEFAULT_MEMORY_BUDGET));
    Host::builder(keypair, tcp::TcpTransport::default(), noise::Config::new(keypair), muxer)
}
