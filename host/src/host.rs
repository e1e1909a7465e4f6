//! `Host`: a cheap, cloneable handle to a running node.
//!
//! ```text
//!            Host (handle, Clone) ──▶ Inner ── stack: transport + security + muxer
//!                                          ├─ connections, by id and by peer
//!                                          ├─ handlers, by protocol id
//!                                          ├─ events (broadcast)
//!                                          └─ tasks: listeners, upgrades, connections, streams
//! ```
//!
//! Every task the host starts is tracked and listens to one cancellation
//! token, so [`Host::shutdown`] stops listeners, closes connections (which
//! resets their streams) and joins every task; dropping the last handle
//! starts the same in the background.

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    io,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use strata_core::{
    Endpoint, Keypair, Multiaddr, PeerId, PublicKey, SecurityUpgrade, StreamMuxer, Transport, multiaddr::Component,
    multistream,
};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    Config, ConnectionId, Error, Event, Protocol, Result, Stream, connection, listener,
    peer_store::{PeerInfo, PeerStore},
    protocol::{self, Handler},
    stack::{Layers, Muxed, Stack, Upgraded},
};

/// A running node. Clone it freely: every clone is the same host.
#[derive(Clone)]
pub struct Host {
    pub(crate) inner: Arc<Inner>,
    _guard: Arc<DropGuard>,
}

/// Shuts the host down when the last user-facing handle goes (tasks hold
/// `Inner`, not this).
struct DropGuard(CancellationToken);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// One established connection.
pub(crate) struct ConnectionEntry {
    pub(crate) peer: PeerId,
    pub(crate) endpoint: Endpoint,
    pub(crate) remote_addr: Multiaddr,
    pub(crate) muxed: Arc<dyn Muxed>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) connections: BTreeMap<ConnectionId, ConnectionEntry>,
    pub(crate) handlers: HashMap<String, Handler>,
    pub(crate) listen_addrs: Vec<Multiaddr>,
}

pub(crate) struct Inner {
    pub(crate) peer_id: PeerId,
    keypair: Keypair,
    public_key: PublicKey,
    peer_store: Mutex<PeerStore>,
    pub(crate) stack: Box<dyn Stack>,
    pub(crate) config: Config,
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    next_connection: AtomicU64,
    pub(crate) pending_upgrades: Arc<Semaphore>,
    pending_dials: Semaphore,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn peers(&self) -> MutexGuard<'_, PeerStore> {
        self.peer_store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn emit(&self, event: Event) {
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    /// Registers an upgraded connection and starts its task.
    pub(crate) fn add_connection(
        self: &Arc<Self>,
        upgraded: Upgraded,
        endpoint: Endpoint,
        remote_addr: Multiaddr,
    ) -> Result<ConnectionId> {
        let Upgraded { peer, connection: muxed } = upgraded;
        let id = ConnectionId(self.next_connection.fetch_add(1, Ordering::Relaxed));
        {
            let mut state = self.lock();
            let refusal = if self.shutdown.is_cancelled() {
                Some(Error::ShutDown)
            } else if state.connections.len() >= self.config.max_connections {
                Some(Error::ConnectionLimit(self.config.max_connections))
            } else {
                None
            };
            if let Some(error) = refusal {
                drop(state);
                self.tasks.spawn(async move { drop(muxed.close().await) });
                return Err(error);
            }
            let entry = ConnectionEntry { peer, endpoint, remote_addr: remote_addr.clone(), muxed: Arc::clone(&muxed) };
            state.connections.insert(id, entry);
        }
        self.peers().connected(peer, Instant::now());
        tracing::debug!(%peer, ?id, ?endpoint, %remote_addr, "host: connection established");
        self.emit(Event::ConnectionEstablished { peer, connection: id, endpoint, remote_addr: remote_addr.clone() });
        connection::spawn(Arc::clone(self), id, peer, remote_addr, muxed);
        Ok(id)
    }

    /// Forgets a connection that ended and reports it.
    pub(crate) fn remove_connection(&self, id: ConnectionId) {
        let entry = self.lock().connections.remove(&id);
        if let Some(entry) = entry {
            tracing::debug!(peer = %entry.peer, ?id, "host: connection closed");
            self.peers().disconnected(entry.peer, Instant::now());
            let ConnectionEntry { peer, endpoint, remote_addr, .. } = entry;
            self.emit(Event::ConnectionClosed { peer, connection: id, endpoint, remote_addr });
        }
    }

    pub(crate) fn handler(&self, protocol: &str) -> Option<Handler> {
        self.lock().handlers.get(protocol).cloned()
    }

    pub(crate) fn protocols(&self) -> Vec<String> {
        let mut protocols: Vec<String> = self.lock().handlers.keys().cloned().collect();
        protocols.sort();
        protocols
    }
}

/// Builds a [`Host`] from a transport, a security upgrade and a muxer.
pub struct Builder<T, Sec, Mux> {
    keypair: Keypair,
    layers: (T, Sec, Mux),
    config: Config,
    listen: Vec<Multiaddr>,
}

impl<T: Transport, Sec: SecurityUpgrade, Mux: StreamMuxer> Builder<T, Sec, Mux> {
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
        let (transport, security, muxer) = self.layers;
        let config = self.config;
        let layers =
            Layers { transport: Arc::new(transport), security, muxer, upgrade_timeout: config.upgrade_timeout };
        let shutdown = CancellationToken::new();
        let peer_store = PeerStore::new(config.max_peers, config.max_addrs_per_peer, config.peer_ttl);
        let inner = Arc::new(Inner {
            peer_id: self.keypair.peer_id(),
            public_key: self.keypair.public(),
            keypair: self.keypair,
            peer_store: Mutex::new(peer_store),
            stack: Box::new(layers),
            events: broadcast::channel(config.event_capacity).0,
            tasks: TaskTracker::new(),
            shutdown: shutdown.clone(),
            next_connection: AtomicU64::new(0),
            pending_upgrades: Arc::new(Semaphore::new(config.max_pending_upgrades)),
            pending_dials: Semaphore::new(config.max_pending_dials),
            state: Mutex::new(State::default()),
            config,
        });
        let host = Host { inner, _guard: Arc::new(DropGuard(shutdown)) };
        for addr in self.listen {
            host.listen(addr).await?;
        }
        Ok(host)
    }
}

impl Host {
    /// A builder for a host with this identity and these layers. The
    /// `strata` crate's `builder` picks the defaults (TCP, Noise, mplex).
    pub fn builder<T, Sec, Mux>(keypair: &Keypair, transport: T, security: Sec, muxer: Mux) -> Builder<T, Sec, Mux>
    where
        T: Transport,
        Sec: SecurityUpgrade,
        Mux: StreamMuxer,
    {
        Builder {
            keypair: keypair.clone(),
            layers: (transport, security, muxer),
            config: Config::default(),
            listen: Vec::new(),
        }
    }

    /// This host's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// This host's public key.
    pub fn public_key(&self) -> PublicKey {
        self.inner.public_key
    }

    /// Signs `message` with this host's identity key (for protocols that
    /// sign what they publish, like pubsub). The key itself never leaves
    /// the host.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.inner.keypair.sign(message)
    }

    /// Starts listening on `addr`; returns the addresses peers can dial (the
    /// real port of a `/tcp/0`, one address per interface for a wildcard).
    pub async fn listen(&self, addr: Multiaddr) -> Result<Vec<Multiaddr>> {
        if self.inner.shutdown.is_cancelled() {
            return Err(Error::ShutDown);
        }
        let listener = self.inner.stack.listen(addr).await?;
        let addrs = listener.local_addrs();
        self.inner.lock().listen_addrs.extend(addrs.iter().cloned());
        for addr in &addrs {
            tracing::info!(%addr, "host: listening");
            self.inner.emit(Event::ListenAddr { addr: addr.clone() });
        }
        listener::spawn(Arc::clone(&self.inner), listener);
        Ok(addrs)
    }

    /// The addresses this host listens on.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.inner.lock().listen_addrs.clone()
    }

    /// Connects to `addr`. A trailing `/p2p/<id>` is checked: a remote that
    /// proves another identity fails the dial. If that peer is connected
    /// already, its connection is reused. Returns the remote's peer id.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId> {
        let expected = addr.peer_id();
        if let Some(peer) = expected.filter(|peer| self.is_connected(*peer)) {
            return Ok(peer);
        }
        let target = addr.without_peer_id();
        if !self.inner.stack.can_dial(&target) {
            return Err(Error::UnsupportedAddress(addr));
        }
        let _slot = self.inner.pending_dials.acquire().await.map_err(|_| Error::ShutDown)?;
        let dial = self.inner.stack.dial(target.clone(), expected);
        let outcome = tokio::select! {
            () = self.inner.shutdown.cancelled() => Err(Error::ShutDown),
            outcome = dial => outcome,
        };
        let upgraded = match outcome {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%addr, %error, "host: dial failed");
                self.inner.emit(Event::DialFailed { addr, error: error.to_string() });
                return Err(error);
            }
        };
        let peer = upgraded.peer;
        self.inner.peers().add_addr(peer, target.clone(), Instant::now());
        self.inner.add_connection(upgraded, Endpoint::Dialer, target)?;
        Ok(peer)
    }

    /// Connects to `peer` at the addresses the peer store holds for it,
    /// newest first, until one works; a connected peer is returned at once.
    pub async fn dial_peer(&self, peer: PeerId) -> Result<PeerId> {
        if self.is_connected(peer) {
            return Ok(peer);
        }
        let addrs = self.peer_info(peer).map(|info| info.addrs).unwrap_or_default();
        let mut last_error = Error::NotConnected(peer);
        for addr in addrs.into_iter().rev() {
            let Ok(addr) = addr.with_p2p(peer) else { continue };
            match self.dial(addr).await {
                Ok(peer) => return Ok(peer),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// What the peer store knows of `peer`.
    pub fn peer_info(&self, peer: PeerId) -> Option<PeerInfo> {
        self.inner.peers().get(peer, Instant::now())
    }

    /// The peers the peer store knows.
    pub fn known_peers(&self) -> Vec<PeerId> {
        self.inner.peers().peers(Instant::now())
    }

    /// Records what a protocol learned of `peer` (identify, ping, an
    /// application). Addresses are deduplicated and bounded; `/p2p/`
    /// suffixes are stripped. Returns `false` if the store is full of
    /// connected peers and `peer` is new.
    pub fn update_peer(&self, peer: PeerId, change: impl FnOnce(&mut PeerInfo)) -> bool {
        self.inner.peers().update(peer, Instant::now(), |info| {
            change(info);
            for addr in &mut info.addrs {
                if matches!(addr.iter().last(), Some(Component::P2p(_))) {
                    *addr = addr.without_peer_id();
                }
            }
        })
    }

    /// Runs `task` as part of the host: [`Host::shutdown`] cancels it and
    /// waits for it. For protocols that keep work going in the background.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shutdown = self.inner.shutdown.clone();
        self.inner.tasks.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Whether there is a connection to `peer`.
    pub fn is_connected(&self, peer: PeerId) -> bool {
        self.inner.lock().connections.values().any(|entry| entry.peer == peer)
    }

    /// The peers with at least one connection.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> = self.inner.lock().connections.values().map(|entry| entry.peer).collect();
        peers.sort();
        peers.dedup();
        peers
    }

    /// Opens a stream to `peer` on its oldest connection and negotiates one
    /// of `protocols` (in order of preference).
    pub async fn open_stream(&self, peer: PeerId, protocols: &[&str]) -> Result<Stream> {
        let connection = {
            let state = self.inner.lock();
            let mut connections = state.connections.iter().filter(|(_, entry)| entry.peer == peer);
            connections.next().map(|(id, e)| (*id, e.remote_addr.clone(), Arc::clone(&e.muxed)))
        };
        let (id, remote_addr, muxed) = connection.ok_or(Error::NotConnected(peer))?;
        let mut io = muxed.open().await?;
        let timeout = self.inner.config.negotiation_timeout;
        let agreed = tokio::time::timeout(timeout, multistream::dialer_select(&mut io, protocols.iter().copied()))
            .await
            .map_err(|_| Error::Timeout("stream negotiation", timeout))?
            .map_err(Error::negotiation)?;
        Ok(Stream::new(io, Arc::from(agreed), peer, id, remote_addr))
    }

    /// Serves `protocol` on inbound streams with a closure, replacing any
    /// handler it had.
    ///
    /// The stream lives as long as the future the closure returns holds it:
    /// move it in (`|stream| async move { … stream … }`). A closure that
    /// only names it (`|_stream| async { … }`) drops it at once, and the
    /// remote sees a reset. Shut it down before the future ends for a
    /// graceful close.
    pub fn handle<F, Fut>(&self, protocol: &str, handler: F) -> Result<()>
    where
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        self.set_handler(protocol, protocol::handler_from_fn(handler))
    }

    /// Serves a [`Protocol`] on inbound streams.
    pub fn register<P: Protocol>(&self, protocol: Arc<P>) -> Result<()> {
        self.set_handler(P::ID, protocol::handler_of(protocol))
    }

    fn set_handler(&self, protocol: &str, handler: Handler) -> Result<()> {
        multistream::validate_protocol_name(protocol).map_err(Error::negotiation)?;
        let new = self.inner.lock().handlers.insert(protocol.to_owned(), handler).is_none();
        if new {
            self.inner.emit(Event::ProtocolsChanged);
        }
        Ok(())
    }

    /// Stops serving `protocol`; inbound proposals of it get `na` again.
    pub fn remove_handler(&self, protocol: &str) -> bool {
        let removed = self.inner.lock().handlers.remove(protocol).is_some();
        if removed {
            self.inner.emit(Event::ProtocolsChanged);
        }
        removed
    }

    /// The protocols this host serves, sorted.
    pub fn protocols(&self) -> Vec<String> {
        self.inner.protocols()
    }

    /// A new subscription to this host's events, from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Closes every connection to `peer`.
    pub async fn disconnect(&self, peer: PeerId) {
        let muxed: Vec<Arc<dyn Muxed>> = {
            let state = self.inner.lock();
            state
                .connections
                .values()
                .filter(|entry| entry.peer == peer)
                .map(|entry| Arc::clone(&entry.muxed))
                .collect()
        };
        for connection in muxed {
            if let Err(error) = connection.close().await {
                tracing::debug!(%peer, %error, "host: closing a connection failed");
            }
        }
    }

    /// Stops listeners, closes every connection (resetting their streams)
    /// and waits for every task of the host to end, at most the configured
    /// shutdown timeout; tasks still running then are cancelled.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        let timeout = self.inner.config.shutdown_timeout;
        if tokio::time::timeout(timeout, self.inner.tasks.wait()).await.is_err() {
            tracing::warn!(?timeout, remaining = self.inner.tasks.len(), "host: shutdown timed out");
        }
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("peer_id", &self.inner.peer_id).finish_non_exhaustive()
    }
}
