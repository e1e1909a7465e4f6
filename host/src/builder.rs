//! `Builder`: a host from an identity, connection sources, an optional
//! address resolver, a [`Config`] and addresses to listen on.

use std::sync::{Arc, Mutex, atomic::AtomicU64};

use strata_core::{AddressResolver, ConnectionSource, Keypair, Multiaddr, SecurityUpgrade, StreamMuxer, Transport};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    Config, Host, Result, Upgrader,
    admission::{Gate, Limits},
    host::{DropGuard, Inner, State},
    peer_store::PeerStore,
    source::{Erased, Source},
};

/// A source that is made once the host's identity and [`Config`] are known.
type SourceMaker = Box<dyn FnOnce(&Keypair, &Config) -> Box<dyn Source> + Send>;

/// Builds a [`Host`] from one or more connection sources.
///
/// The identity is given once, here; every security upgrade and every
/// source that authenticates by itself is made from it when the host is
/// built (they are given as functions of it: `strata_noise::Config::new`,
/// `|identity| QuicTransport::new(identity, config)`), so none can hold
/// another.
pub struct Builder {
    keypair: Keypair,
    sources: Vec<SourceMaker>,
    resolver: Option<Arc<dyn AddressResolver>>,
    config: Config,
    listen: Vec<Multiaddr>,
}

impl Builder {
    /// A builder for a host with this identity and no connection source
    /// yet (add at least one with [`Builder::source`]).
    pub fn new(keypair: &Keypair) -> Self {
        Self {
            keypair: keypair.clone(),
            sources: Vec::new(),
            resolver: None,
            config: Config::default(),
            listen: Vec::new(),
        }
    }

    /// Adds the connection source `make` returns from the host's identity:
    /// a transport that upgrades by itself (QUIC:
    /// `|identity| QuicTransport::new(identity, config)`); one that needs
    /// no identity ignores it. A dial or listen uses the first source that
    /// serves the address.
    #[must_use]
    pub fn source<S: ConnectionSource>(mut self, make: impl FnOnce(&Keypair) -> S + Send + 'static) -> Self {
        self.sources
            .push(Box::new(move |identity: &Keypair, _: &Config| Box::new(Erased(make(identity))) as Box<dyn Source>));
        self
    }

    /// Adds a transport with its security upgrades and muxers (in order of
    /// preference), whose upgrade timeouts are then the [`Config`]'s
    /// (`upgrade_timeout`, `first_step_timeout`).
    #[must_use]
    pub fn upgrader<T: Transport>(mut self, upgrader: Upgrader<T>) -> Self {
        self.sources.push(Box::new(move |identity: &Keypair, config: &Config| {
            let source = upgrader.build(identity, config.upgrade_timeout, config.first_step_timeout);
            Box::new(source) as Box<dyn Source>
        }));
        self
    }

    /// Resolves every dialed address with `resolver` first (a DNS
    /// resolver turns `/dnsaddr/…` and `/dns4/…` into `/ip4/…`), replacing
    /// any resolver set before. [`Host::dial`] then dials what it returns,
    /// in order, until one connects. Default: none, and an address is
    /// dialed as it is (the TCP transport resolves `/dns*` names itself).
    #[must_use]
    pub fn resolver(mut self, resolver: impl AddressResolver) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Replaces the default [`Config`].
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Listens on `addr` once built (may be given several times).
    #[must_use]
    pub fn listen(mut self, addr: Multiaddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Starts the host (on the current tokio runtime) and its listeners.
    pub async fn build(self) -> Result<Host> {
        let config = self.config;
        let sources = self.sources.into_iter().map(|make| make(&self.keypair, &config)).collect();
        let peer_store =
            PeerStore::new(config.max_peers, config.max_addrs_per_peer, config.max_peer_store_bytes, config.peer_ttl);
        let inner = Arc::new(Inner {
            peer_id: self.keypair.peer_id(),
            public_key: self.keypair.public(),
            keypair: self.keypair,
            peer_store: Mutex::new(peer_store),
            sources,
            resolver: self.resolver,
            events: broadcast::channel(config.event_capacity).0,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            next_connection: AtomicU64::new(0),
            gate: Arc::new(Mutex::new(Gate::new(Limits {
                max_pending: config.max_pending_upgrades,
                max_pending_per_ip: config.max_pending_upgrades_per_ip,
                max_pending_per_subnet: config.max_pending_upgrades_per_subnet,
                accept_rate_per_ip: config.accept_rate_per_ip,
                accept_burst_per_ip: 2.0 * config.accept_rate_per_ip,
            }))),
            pending_dials: Semaphore::new(config.max_pending_dials),
            state: Mutex::new(State::default()),
            order: tokio::sync::Mutex::new(()),
            config,
        });
        let host = Host { _guard: Some(Arc::new(DropGuard(Arc::clone(&inner)))), inner };
        for addr in self.listen {
            host.listen(addr).await?;
        }
        Ok(host)
    }
}

impl Host {
    /// A builder for a host with this identity over one transport, one
    /// security upgrade (made from the identity: `strata_noise::Config::new`)
    /// and one muxer (an [`Upgrader`] with the config's upgrade timeout).
    /// The `strata` crate's `builder` picks the defaults. For several
    /// muxers or sources, use [`Builder::new`].
    pub fn builder<T, Sec, Mux>(
        keypair: &Keypair,
        transport: T,
        security: impl FnOnce(&Keypair) -> Sec + Send + 'static,
        muxer: Mux,
    ) -> Builder
    where
        T: Transport,
        Sec: SecurityUpgrade,
        Mux: StreamMuxer,
    {
        Builder::new(keypair).upgrader(Upgrader::new(transport).security(security).muxer(muxer))
    }
}
