#![doc = include_str!("../README.md")]

use std::net::SocketAddr;

pub use strata_autonat as autonat;
pub use strata_core as core;
pub use strata_core::{Endpoint, KeyType, Keypair, Multiaddr, PeerId, PublicKey, multiaddr, multistream};
pub use strata_dcutr as dcutr;
pub use strata_dns as dns;
pub use strata_floodsub as floodsub;
pub use strata_gossipsub as gossipsub;
pub use strata_host as host;
pub use strata_host::{ConnectionEvent, ConnectionId, DialError, Event, Host, Stream, WeakHost};
pub use strata_identify as identify;
pub use strata_kad as kad;
pub use strata_mdns as mdns;
pub use strata_mplex as mplex;
pub use strata_noise as noise;
pub use strata_perf as perf;
pub use strata_ping as ping;
pub use strata_portmap as portmap;
pub use strata_pubsub as pubsub;
pub use strata_quic as quic;
pub use strata_record as record;
pub use strata_relay as relay;
pub use strata_tcp as tcp;
pub use strata_webrtc as webrtc;
pub use strata_websocket as websocket;
pub use strata_yamux as yamux;

/// A pubsub service whose router is chosen at run time (a CLI flag):
/// `Floodsub::attach(…)?.into()` or `Gossipsub::attach(…)?.into()`. The
/// same methods as [`floodsub::Floodsub`] and [`gossipsub::Gossipsub`]
/// (all three are [`pubsub::Service`]), without gossipsub's mesh and score
/// accessors.
pub type PubSub = pubsub::Service;

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

/// Starts building a host with this identity (given once: Noise and QUIC
/// are made from it when the host is built) over the default layers: TCP
/// (Noise security, yamux then mplex multiplexing; a node-wide memory
/// budget of [`DEFAULT_MEMORY_BUDGET`] for muxer buffers), WebSocket over
/// that TCP (`/tcp/<port>/ws`, `/tcp/<port>/tls/ws` or `/wss`; the same
/// security, muxers and budget), QUIC (`/udp/<port>/quic-v1`,
/// TLS 1.3) and WebRTC-direct (`/udp/<port>/webrtc-direct`, what a browser
/// dials without a CA certificate: a new DTLS certificate per run unless
/// one is kept, [`Layers::with_webrtc_certificate`]; its hash is in the
/// listen address), each with its default configuration,
/// and a DNS resolver
/// ([`dns::Resolver`], the system's resolver; another server with
/// [`BuilderExt::dns_server`]).
/// A dial of a `/tcp` address uses TCP, of a `/ws` address WebSocket, of
/// a `/quic-v1` address QUIC, of a `/webrtc-direct/certhash/…` address
/// WebRTC-direct; a `/dnsaddr/…` or `/dns4/…` address is
/// resolved first, and what it stands for is dialed in turn until one
/// connects (the DNS name of a `/dns…/tls/ws` address stays its TLS
/// server name, as `/tls/sni/<name>/ws`). Listen on any of them;
/// listening on `/tls/ws` needs a
/// certificate ([`builder_with_layers`], [`Layers::with_websocket`]). For other layers or
/// configurations, use [`Host::builder`] or [`Builder::new`].
pub fn builder(keypair: &Keypair) -> Builder {
    builder_with(keypair, Muxers::default())
}

/// [`builder`], offering only the `muxers` chosen over TCP and WebSocket
/// (QUIC and WebRTC-direct have their own streams).
pub fn builder_with(keypair: &Keypair, muxers: Muxers) -> Builder {
    builder_with_layers(keypair, Layers::default().with_muxers(muxers))
}

/// How [`builder_with_layers`] sets up the default layers. `Default` is
/// what [`builder`] uses.
#[derive(Clone, Debug, Default)]
pub struct Layers {
    muxers: Muxers,
    websocket: websocket::Config,
    webrtc: webrtc::Config,
    webrtc_certificate: Option<webrtc::Certificate>,
}

impl Layers {
    /// The muxers offered over TCP and WebSocket.
    #[must_use]
    pub fn with_muxers(mut self, muxers: Muxers) -> Self {
        self.muxers = muxers;
        self
    }

    /// The WebSocket transport's configuration: a certificate to serve
    /// `/tls/ws` with ([`websocket::Config::with_tls_pem`]), roots to
    /// verify servers against, size limits.
    #[must_use]
    pub fn with_websocket(mut self, config: websocket::Config) -> Self {
        self.websocket = config;
        self
    }

    /// WebRTC-direct's limits and timeouts.
    #[must_use]
    pub fn with_webrtc(mut self, config: webrtc::Config) -> Self {
        self.webrtc = config;
        self
    }

    /// WebRTC-direct's DTLS certificate: one the node keeps
    /// ([`webrtc::Certificate::load_or_generate`]), so that its
    /// `/webrtc-direct/certhash/…` addresses stay the same across
    /// restarts. Without it each run makes a new one.
    #[must_use]
    pub fn with_webrtc_certificate(mut self, certificate: webrtc::Certificate) -> Self {
        self.webrtc_certificate = Some(certificate);
        self
    }
}

/// The WebRTC-direct certificate a node keeps beside its identity file
/// `key_file`: `<key_file>.webrtc.pem`, made on first use
/// ([`webrtc::Certificate::load_or_generate`]). What the examples do with
/// `--key`, for [`Layers::with_webrtc_certificate`].
pub fn kept_webrtc_certificate(key_file: &std::path::Path) -> Result<webrtc::Certificate, webrtc::Error> {
    let mut path = key_file.as_os_str().to_owned();
    path.push(".webrtc.pem");
    webrtc::Certificate::load_or_generate(std::path::PathBuf::from(path))
}

/// [`builder`] with the default layers configured by `layers`. WebSocket
/// runs over a clone of the host's TCP transport, so both share port
/// reuse: dials of either leave from the port TCP or WebSocket listens on.
pub fn builder_with_layers(keypair: &Keypair, layers: Layers) -> Builder {
    let Layers { muxers, websocket, webrtc, webrtc_certificate } = layers;
    let budget = core::MemoryBudget::new(DEFAULT_MEMORY_BUDGET);
    let tcp = tcp::TcpTransport::default();
    let over_tcp = upgrader(tcp.clone(), muxers, &budget);
    let over_websocket = upgrader(websocket::WsTransport::new(tcp, websocket), muxers, &budget);
    Builder::new(keypair)
        .upgrader(over_tcp)
        .upgrader(over_websocket)
        .source(|identity| quic::QuicTransport::new(identity, quic::Config::default()))
        .source(move |identity| match webrtc_certificate {
            Some(certificate) => webrtc::WebRtcTransport::with_certificate(identity, certificate, webrtc),
            None => webrtc::WebRtcTransport::new(identity, webrtc),
        })
        .resolver(dns::Resolver::default())
}

/// `transport` with Noise and the chosen muxers on top, their buffers
/// drawn from `budget`.
fn upgrader<T: core::Transport>(transport: T, muxers: Muxers, budget: &core::MemoryBudget) -> host::Upgrader<T> {
    let mut upgrader = host::Upgrader::new(transport).security(noise::Config::new);
    if muxers != Muxers::Mplex {
        upgrader = upgrader.muxer(yamux::Config::default().with_memory_budget(budget.clone()));
    }
    if muxers != Muxers::Yamux {
        upgrader = upgrader.muxer(mplex::Config::default().with_memory_budget(budget.clone()));
    }
    upgrader
}

/// The facade's own settings on a host [`Builder`]
/// (`use strata::BuilderExt as _;`).
pub trait BuilderExt {
    /// Resolves the names of dialed addresses (`/dnsaddr`, `/dns`,
    /// `/dns4`, `/dns6`) by asking `server`, and no other, over UDP and
    /// TCP; the system's DNS configuration is then never read. Replaces
    /// the resolver set before. For the other limits, give a whole
    /// configuration: `.resolver(dns::Resolver::new(dns::Config::default()…))`.
    #[must_use]
    fn dns_server(self, server: SocketAddr) -> Self;

    /// Adds the circuit relay v2 client's transport (`/p2p-circuit`
    /// addresses), with Noise and yamux then mplex above it, so that the
    /// host can dial peers through relays and listen through them
    /// (reservations). Attach the returned client to the host once it is
    /// built ([`relay::Client::attach`]).
    #[must_use]
    fn relay_client(self, config: relay::ClientConfig) -> (Self, relay::Client)
    where
        Self: Sized;
}

impl BuilderExt for Builder {
    fn dns_server(self, server: SocketAddr) -> Self {
        let resolver = dns::Resolver::new(dns::Config::default().with_nameserver(server));
        self.resolver(resolver)
    }

    fn relay_client(self, config: relay::ClientConfig) -> (Self, relay::Client) {
        let (client, transport) = relay::Client::new(config);
        let circuits = host::Upgrader::new(transport)
            .security(noise::Config::new)
            .muxer(yamux::Config::default())
            .muxer(mplex::Config::default());
        (self.upgrader(circuits), client)
    }
}
