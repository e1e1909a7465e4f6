#![doc = include_str!("../README.md")]

mod any_pubsub;

pub use any_pubsub::PubSub;
pub use strata_core as core;
pub use strata_core::{Endpoint, Keypair, Multiaddr, PeerId, PublicKey, multiaddr, multistream};
pub use strata_floodsub as floodsub;
pub use strata_gossipsub as gossipsub;
pub use strata_host as host;
pub use strata_host::{ConnectionEvent, ConnectionId, Event, Host, Protocol, Stream, WeakHost};
pub use strata_identify as identify;
pub use strata_kad as kad;
pub use strata_mdns as mdns;
pub use strata_mplex as mplex;
pub use strata_noise as noise;
pub use strata_perf as perf;
pub use strata_ping as ping;
pub use strata_pubsub as pubsub;
pub use strata_quic as quic;
pub use strata_record as record;
pub use strata_tcp as tcp;
pub use strata_yamux as yamux;

/// A host builder.
pub type Builder = strata_host::Builder;

/// How many bytes all connections of a host built by [`builder`] may hold
/// unread in their muxers together: 256 MiB. Past it they stop reading
/// from their peers until the application reads (each connection is also
/// bounded on its own: yamux by its windows, mplex at 8 MiB).
pub const DEFAULT_MEMORY_BUDGET: usize = 256 << 20;

/// Which muxers a host built by [`builder_with`] offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Muxers {
    /// yamux only (what go-, js- and rust-libp2p offer by default).
    Yamux,
    /// mplex only (deprecated across libp2p; for older peers).
    Mplex,
    /// yamux, then mplex: a dialer proposes yamux first, a listener
    /// accepts either. The default.
    #[default]
    Both,
}

/// Starts building a host with this identity over the default layers: TCP
/// (Noise security, yamux then mplex multiplexing; a node-wide memory
/// budget of [`DEFAULT_MEMORY_BUDGET`] for muxer buffers) and QUIC
/// (`/udp/<port>/quic-v1`, TLS 1.3), each with its default configuration.
/// A dial of a `/tcp` address uses TCP, of a `/quic-v1` address QUIC;
/// listen on either or both. For other layers or configurations, use
/// [`Host::builder`] or [`Builder::new`].
pub fn builder(keypair: &Keypair) -> Builder {
    builder_with(keypair, Muxers::default())
}

/// [`builder`], offering only the `muxers` chosen over TCP (QUIC has its
/// own streams).
pub fn builder_with(keypair: &Keypair, muxers: Muxers) -> Builder {
    let budget = core::MemoryBudget::new(DEFAULT_MEMORY_BUDGET);
    let mut upgrader = host::Upgrader::new(tcp::TcpTransport::default()).security(noise::Config::new(keypair));
    if muxers != Muxers::Mplex {
        upgrader = upgrader.muxer(yamux::Config::default().with_memory_budget(budget.clone()));
    }
    if muxers != Muxers::Yamux {
        upgrader = upgrader.muxer(mplex::Config::default().with_memory_budget(budget));
    }
    Builder::new(keypair).upgrader(upgrader).source(quic::QuicTransport::new(keypair, quic::Config::default()))
}
