//! `Host`: a cheap, cloneable handle to a running node.
//!
//! ```text
//!   Host (user handle, Clone) ─┐        WeakHost (for services: does not keep the host running)
//!                              ▼          │
//!                       DropGuard ──▶ Inner ◀┘
//!                                       ├─ sources: connection sources, picked by address
//!                                       ├─ resolver (optional): names in dialed addresses → addresses
//!                                       ├─ state (one std mutex): connection table + lifecycle queues,
//!                                       │    handlers by protocol id, listen addresses
//!                                       ├─ order (async mutex): one connection change delivered at a time
//!                                       ├─ peer store, events (broadcast, lossy), limits
//!                                       └─ tasks + shutdown token: listeners, upgrades, connections, streams
//! ```
//!
//! **Who may touch what.** `state` is locked briefly and never across an
//! `.await`. `order` is held from a connection-table change until every
//! lifecycle queue has the event (see `lifecycle.rs`); only
//! [`Inner::add_connection`] and [`Inner::remove_connection`] take it.
//! Tasks hold `Arc<Inner>`, never a [`Host`]: only user handles keep the
//! host running.
//!
//! **Shutdown.** Every task listens to one cancellation token.
//! [`Host::shutdown`] (or dropping the last user handle) cancels it, closes
//! the task tracker, and drops the handlers and lifecycle queues, so the
//! services they hold (which hold the host weakly) are released too;
//! `shutdown` then waits for every task to end.

use std::{
    collections::HashMap,
    future::Future,
    io,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use strata_core::{AddressResolver, Endpoint, Keypair, Multiaddr, PeerId, PublicKey, multistream};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument as _;

use crate::{
    Config, ConnectionId, Error, Event, Lifecycle, Result, Stream, WeakHost,
    admission::Gate,
    connection,
    connections::{Entry, Table},
    lifecycle, listener,
    peer_store::PeerStore,
    protocol::{self, Handler},
    source::{Source, Upgraded},
};

/// A running node. Clone it freely: every clone is the same host, and the
/// host runs until [`Host::shutdown`] or until the last clone is dropped.
#[derive(Clone)]
pub struct Host {
    pub(crate) inner: Arc<Inner>,
    /// `None` in a [`WeakHost`]: only user handles keep the host running.
    pub(crate) _guard: Option<Arc<DropGuard>>,
}

/// Shuts the host down when the last user handle goes.
pub(crate) struct DropGuard(pub(crate) Arc<Inner>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.begin_shutdown();
    }
}

/// What the state lock guards.
#[derive(Default)]
pub(crate) struct State {
    /// Established connections and the lifecycle queues.
    pub(crate) table: Table,
    /// Inbound stream handlers by protocol id.
    pub(crate) handlers: HashMap<String, Handler>,
    /// The addresses the listeners are bound to.
    pub(crate) listen_addrs: Vec<Multiaddr>,
    /// The running listeners: their addresses and what stops each.
    pub(crate) listeners: Vec<listener::Running>,
    /// The addresses others confirmed this host is reachable at.
    pub(crate) external_addrs: Vec<Multiaddr>,
}

pub(crate) struct Inner {
    pub(crate) peer_id: PeerId,
    pub(crate) keypair: Keypair,
    pub(crate) public_key: PublicKey,
    pub(crate) peer_store: Mutex<PeerStore>,
    /// Connection sources in the order given; a dial or listen uses the
    /// first that serves the address.
    pub(crate) sources: Vec<Box<dyn Source>>,
    /// Expands a dialed address (`/dnsaddr/…`, `/dns4/…`) into the
    /// addresses to dial; without one, an address is dialed as it is.
    pub(crate) resolver: Option<Arc<dyn AddressResolver>>,
    pub(crate) config: Config,
    pub(crate) state: Mutex<State>,
    /// Serialises connection changes with their lifecycle delivery.
    pub(crate) order: tokio::sync::Mutex<()>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    pub(crate) next_connection: AtomicU64,
    /// Admission: handshake slots, accept rates, deny and allow lists.
    pub(crate) gate: Arc<Mutex<Gate>>,
    pub(crate) pending_dials: Semaphore,
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

    /// Cancels every task, refuses new work, and drops the handlers and
    /// lifecycle queues (releasing the services they hold).
    fn begin_shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        let handlers = {
            let mut state = self.lock();
            state.table.close_hooks();
            std::mem::take(&mut state.handlers)
        };
        drop(handlers);
    }

    /// Registers an upgraded connection, tells the protocols, and starts
    /// its task.
    pub(crate) async fn add_connection(
        self: &Arc<Self>,
        upgraded: Upgraded,
        endpoint: Endpoint,
        remote_addr: Multiaddr,
    ) -> Result<ConnectionId> {
        let Upgraded { peer, connection: muxed } = upgraded;
        let id = ConnectionId(self.next_connection.fetch_add(1, Ordering::Relaxed));
        let order = self.order.lock().await;
        let added = {
            let mut state = self.lock();
            let denied = self.gate.lock().unwrap_or_else(PoisonError::into_inner).lists.denied_peers.contains(&peer);
            if self.shutdown.is_cancelled() {
                Err(Error::ShutDown)
            } else if denied {
                Err(Error::Denied(peer))
            } else if state.table.len() >= self.config.max_connections {
                Err(Error::ConnectionLimit(self.config.max_connections))
            } else if state.table.count_of(peer) >= self.config.max_connections_per_peer {
                Err(Error::PeerConnectionLimit(peer, self.config.max_connections_per_peer))
            } else if endpoint == Endpoint::Listener && state.table.inbound() >= self.config.max_inbound_connections {
                Err(Error::InboundLimit(self.config.max_inbound_connections))
            } else {
                let entry = Entry { peer, endpoint, remote_addr: remote_addr.clone(), muxed: Arc::clone(&muxed) };
                Ok(state.table.insert(id, entry))
            }
        };
        let (event, hooks) = match added {
            Ok(added) => added,
            Err(error) => {
                drop(order);
                self.tasks.spawn(async move { drop(muxed.close().await) });
                return Err(error);
            }
        };
        self.peers().connected(peer, Instant::now());
        if let Some(ip) = remote_addr.ip() {
            self.gate.lock().unwrap_or_else(PoisonError::into_inner).learn(ip);
        }
        let span = tracing::debug_span!("connection", %peer, id = id.0, %remote_addr);
        span.in_scope(|| tracing::debug!(?endpoint, "connection established"));
        self.emit(Event::ConnectionEstablished { peer, connection: id, endpoint, remote_addr: remote_addr.clone() });
        lifecycle::deliver(hooks, &event).await;
        drop(order);
        let inner = Arc::clone(self);
        let task = async move {
            connection::run(&inner, id, peer, remote_addr, muxed).await;
            // Boxed: its state (the ordering lock, the lifecycle delivery)
            // exists only at the end, and would otherwise enlarge every idle
            // connection's task.
            Box::pin(inner.remove_connection(id)).await;
        };
        self.tasks.spawn(task.instrument(span));
        Ok(id)
    }

    /// Forgets a connection that ended, and reports it.
    async fn remove_connection(&self, id: ConnectionId) {
        let order = self.order.lock().await;
        let removed = self.lock().table.remove(id);
        if let Some((entry, event, hooks)) = removed {
            tracing::debug!("connection closed");
            self.peers().disconnected(entry.peer, Instant::now());
            let Entry { peer, endpoint, remote_addr, .. } = entry;
            self.emit(Event::ConnectionClosed { peer, connection: id, endpoint, remote_addr });
            lifecycle::deliver(hooks, &event).await;
        }
        drop(order);
    }

    pub(crate) fn handler(&self, protocol: &str) -> Option<Handler> {
        self.lock().handlers.get(protocol).cloned()
    }

    pub(crate) fn protocols(&self) -> Vec<String> {
        let mut protocols: Vec<String> = self.lock().handlers.keys().cloned().collect();
        protocols.sort();
        protocols
    }

    fn source_for_dial(&self, addr: &Multiaddr) -> Option<&dyn Source> {
        self.sources.iter().find(|source| source.can_dial(addr)).map(AsRef::as_ref)
    }
}

impl Host {
    /// A handle that does not keep the host running: what a protocol
    /// service keeps.
    pub fn downgrade(&self) -> WeakHost {
        WeakHost(Self { inner: Arc::clone(&self.inner), _guard: None })
    }

    /// This host's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// This host's public key.
    pub fn public_key(&self) -> PublicKey {
        self.inner.public_key.clone()
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
        let source = self.inner.sources.iter().find(|source| source.can_listen(&addr));
        let source = source.ok_or_else(|| Error::UnsupportedAddress(addr.clone()))?;
        let listener = source.listen(addr).await?;
        let addrs = listener.local_addrs();
        let stop = self.inner.shutdown.child_token();
        {
            let mut state = self.inner.lock();
            state.listen_addrs.extend(addrs.iter().cloned());
            state.listeners.push(listener::Running { addrs: addrs.clone(), stop: stop.clone() });
        }
        for addr in &addrs {
            tracing::info!(%addr, "listening");
            self.inner.emit(Event::ListenAddr { addr: addr.clone() });
        }
        listener::spawn(Arc::clone(&self.inner), listener, stop);
        Ok(addrs)
    }

    /// Stops the listener that listens on `addr` (one of the addresses
    /// [`Host::listen`] returned): its addresses leave
    /// [`Host::listen_addrs`] at once, each reported as
    /// [`Event::ListenAddrExpired`] (identify pushes the change), and the
    /// listener is dropped (a relay listener gives up its reservation).
    /// Connections it accepted stay. Returns whether such a listener ran.
    pub fn stop_listening(&self, addr: &Multiaddr) -> bool {
        listener::remove(&self.inner, |running| running.addrs.contains(addr))
    }

    /// The addresses this host listens on.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.inner.lock().listen_addrs.clone()
    }

    /// Runs `task` as part of the host: [`Host::shutdown`] cancels it and
    /// waits for it. For protocols that keep work going in the background.
    /// A task started after shutdown does not run.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.inner.tasks.is_closed() {
            return;
        }
        let shutdown = self.inner.shutdown.clone();
        self.inner.tasks.spawn(
            async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = task => {}
                }
            }
            .in_current_span(),
        );
    }

    /// Whether there is a connection to `peer`.
    pub fn is_connected(&self, peer: PeerId) -> bool {
        self.inner.lock().table.is_connected(peer)
    }

    /// How many connections `peer` has.
    pub fn connection_count(&self, peer: PeerId) -> usize {
        self.inner.lock().table.count_of(peer)
    }

    /// The peers with at least one connection, sorted.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.inner.lock().table.peers()
    }

    /// Opens a stream to `peer` on its oldest direct connection (its oldest
    /// relayed one when it has no direct one) and negotiates one
    /// of `protocols` (in order of preference).
    pub async fn open_stream(&self, peer: PeerId, protocols: &[&str]) -> Result<Stream> {
        let connection = self.inner.lock().table.best_of(peer);
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

    pub(crate) fn set_handler(&self, protocol: &str, handler: Handler) -> Result<()> {
        multistream::validate_protocol_name(protocol).map_err(Error::negotiation)?;
        if self.inner.shutdown.is_cancelled() {
            return Err(Error::ShutDown);
        }
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

    /// A new subscription to this host's events, from now on. **Lossy**: a
    /// subscriber more than the configured capacity behind misses the
    /// oldest (`RecvError::Lagged`). Protocols that keep per-peer state use
    /// [`Host::lifecycle`] instead.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// A reliable subscription to connections opening and closing: starts
    /// with the connections open now, then every change, in order, with
    /// back-pressure instead of loss (see [`crate::ConnectionEvent`] and
    /// the `lifecycle` module docs). Ends (`None`) at shutdown.
    pub fn lifecycle(&self) -> Lifecycle {
        let mut state = self.inner.lock();
        let receiver = state.table.subscribe(self.inner.config.lifecycle_capacity);
        if self.inner.shutdown.is_cancelled() {
            state.table.close_hooks();
        }
        Lifecycle { receiver }
    }

    /// Closes the connection `id` (resetting its streams), keeping the
    /// peer's others: a hole punch closes the relayed connection once a
    /// direct one is up. Whether the connection was there to close; its
    /// end is reported as any other ([`Event::ConnectionClosed`]).
    pub async fn close_connection(&self, id: ConnectionId) -> bool {
        let Some((peer, connection)) = self.inner.lock().table.get(id) else {
            return false;
        };
        if let Err(error) = connection.close().await {
            tracing::debug!(%peer, ?id, %error, "closing a connection failed");
        }
        true
    }

    /// Closes every connection to `peer`.
    pub async fn disconnect(&self, peer: PeerId) {
        let connections = self.inner.lock().table.all_of(peer);
        for connection in connections {
            if let Err(error) = connection.close().await {
                tracing::debug!(%peer, %error, "closing a connection failed");
            }
        }
    }

    /// Stops listeners, closes every connection (resetting their streams)
    /// and waits for every task of the host to end, at most the configured
    /// shutdown timeout; tasks still running then are cancelled.
    pub async fn shutdown(&self) {
        self.inner.begin_shutdown();
        let timeout = self.inner.config.shutdown_timeout;
        if tokio::time::timeout(timeout, self.inner.tasks.wait()).await.is_err() {
            tracing::warn!(?timeout, remaining = self.inner.tasks.len(), "shutdown timed out");
        }
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("peer_id", &self.inner.peer_id).finish_non_exhaustive()
    }
}

mod addresses;
mod dial;
mod peers;

pub use addresses::MAX_EXTERNAL_ADDRS;
