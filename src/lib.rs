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

/// Starts building a host with this identity over the default layers (TCP
/// transport, Noise security, mplex multiplexing), each with its default
/// configuration. For other layers or configurations, use
/// [`Host::builder`].
pub fn builder(keypair: &Keypair) -> Builder {
    Host::builder(keypair, tcp::TcpTransport::default(), noise::Config::new(keypair), mplex::Config::default())
}
