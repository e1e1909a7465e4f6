//! `Kad`: the DHT running beside a host. The routing table and the store
//! sit behind locks held briefly (never across an `.await`); lookups run
//! in the caller's task (`client.rs`), inbound streams in the host's
//! (`server.rs`), upkeep in a task of its own.
//!
//! ```text
//! peer store (identify fills it) ─▶ PeerProtocolsChanged ─▶ serves /ipfs/kad/1.0.0?
//!                                    ─▶ table.insert (else remove)
//!                                             full bucket ─▶ check its oldest peer
//! lookups ─▶ responders (servers) ─▶ table.insert; their closer peers' addresses ─▶ peer store
//! upkeep: expire the store every minute; bootstrap every bootstrap_interval;
//!         republish our records and provider records
//! ```

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId};
use strata_host::{Host, WeakHost};

use crate::{
    Config, Mode, PROTOCOL,
    store::{MemoryStore, Store},
    table::{Insert, RoutingTable},
};

/// What the DHT can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Registering the protocol on the host failed.
    #[error(transparent)]
    Host(#[from] strata_host::Error),
    /// The routing table is empty: add a known peer (`add_address`) or
    /// connect to one first.
    #[error("no known peers to ask")]
    NoPeers,
    /// Fewer peers than the quorum stored or returned the record.
    #[error("quorum not reached: {got} of {wanted}")]
    Quorum {
        /// How many did.
        got: usize,
        /// How many were wanted.
        wanted: usize,
    },
    /// No record was found for the key.
    #[error("no record found")]
    NotFound,
    /// The record failed validation.
    #[error("invalid record")]
    InvalidRecord,
    /// The local store refused it.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What we published ourselves, republished on an interval.
#[derive(Debug, Default)]
pub(crate) struct Published {
    pub(crate) records: HashMap<Vec<u8>, Vec<u8>>,
    pub(crate) provided: Vec<Vec<u8>>,
}

pub(crate) struct Shared {
    pub(crate) host: WeakHost,
    pub(crate) config: Config,
    pub(crate) table: Mutex<RoutingTable>,
    pub(crate) store: Mutex<Box<dyn Store>>,
    pub(crate) published: Mutex<Published>,
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn table(&self) -> MutexGuard<'_, RoutingTable> {
        lock(&self.table)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Box<dyn Store>> {
        lock(&self.store)
    }

    pub(crate) fn published(&self) -> MutexGuard<'_, Published> {
        lock(&self.published)
    }

    /// A server-mode peer seen (identify, or it answered us): into the
    /// table; a full bucket's oldest peer is checked if not connected.
    pub(crate) fn saw_server(self: &Arc<Self>, peer: PeerId, addrs: &[Multiaddr]) {
        if peer == self.host.peer_id() {
            return;
        }
        if !addrs.is_empty() {
            self.host.update_peer(peer, |info| info.addrs.extend(addrs.iter().cloned()));
        }
        let outcome = self.table().insert(peer, addrs);
        if let Insert::Pending { oldest } = outcome
            && !self.host.is_connected(oldest)
        {
            let shared = Arc::clone(self);
            self.host.spawn(async move {
                let probe = crate::proto::Message::request(crate::proto::MessageType::FindNode, oldest.to_bytes());
                if shared.rpc(oldest, &probe).await.is_err() {
                    tracing::debug!(%oldest, "kad: a bucket's oldest peer is gone; its candidate replaces it");
                    shared.table().remove(oldest);
                }
            });
        }
    }
}

/// The Kademlia DHT of a host. Cheap to clone; it runs until the host
/// shuts down.
#[derive(Clone)]
pub struct Kad {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Kad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kad").field("mode", &self.shared.config.mode).finish_non_exhaustive()
    }
}

impl Kad {
    /// Runs the DHT on `host` with an in-memory store: serves
    /// `/ipfs/kad/1.0.0` in server mode (so identify announces it), learns
    /// server peers from what the host's peer store says they serve (run
    /// identify on the host: it fills that in), and keeps the table and
    /// store up.
    pub fn attach(host: &Host, config: Config) -> Result<Self, Error> {
        let store = MemoryStore::new(config.limits);
        Self::attach_with_store(host, config, Box::new(store))
    }

    /// [`Kad::attach`] with a store of the application's.
    pub fn attach_with_store(host: &Host, config: Config, store: Box<dyn Store>) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            host: host.downgrade(),
            table: Mutex::new(RoutingTable::new(host.peer_id(), config.query.k)),
            store: Mutex::new(store),
            published: Mutex::new(Published::default()),
            config,
        });
        if shared.config.mode == Mode::Server {
            crate::server::serve(host, &shared)?;
        }
        // Both run as long as the host: the table and the store stay up
        // whether or not the application keeps a handle.
        host.spawn(follow_peer_protocols(Arc::clone(&shared), host.events()));
        host.spawn(upkeep(Arc::clone(&shared)));
        Ok(Self { shared })
    }

    /// Adds a known server-mode peer at `addr` (a bootstrap node) to the
    /// routing table.
    pub fn add_address(&self, peer: PeerId, addr: &Multiaddr) {
        self.shared.saw_server(peer, &[addr.without_peer_id()]);
    }

    /// How many peers the routing table holds.
    pub fn routing_table_len(&self) -> usize {
        self.shared.table().len()
    }

    /// The peers in the routing table.
    pub fn routing_table(&self) -> Vec<PeerId> {
        self.shared.table().entries().into_iter().map(|entry| entry.peer).collect()
    }
}

/// Keeps the routing table in step with what peers serve (the peer store,
/// which identify fills): a peer that serves the protocol is a server
/// (inserted with its known addresses); one that stopped is removed.
async fn follow_peer_protocols(shared: Arc<Shared>, mut events: tokio::sync::broadcast::Receiver<strata_host::Event>) {
    loop {
        let peer = match events.recv().await {
            Ok(strata_host::Event::PeerProtocolsChanged { peer }) => peer,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let Some(info) = shared.host.peer_info(peer) else { continue };
        if info.protocols.iter().any(|protocol| protocol == PROTOCOL) {
            shared.saw_server(peer, &info.addrs);
        } else {
            shared.table().remove(peer);
        }
    }
}

/// Expires the store each minute; bootstraps and republishes on their
/// intervals.
async fn upkeep(shared: Arc<Shared>) {
    let started = Instant::now();
    let (mut last_bootstrap, mut last_records, mut last_providers) = (started, started, started);
    let mut tick = tokio::time::interval(Duration::from_mins(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        shared.store().expire(now);
        let kad = Kad { shared: Arc::clone(&shared) };
        let ttls = shared.config.ttls;
        if let Some(interval) = shared.config.bootstrap_interval
            && now.duration_since(last_bootstrap) >= interval
            && !shared.table().is_empty()
        {
            last_bootstrap = now;
            if let Err(error) = kad.bootstrap().await {
                tracing::debug!(%error, "kad: periodic bootstrap failed");
            }
        }
        if now.duration_since(last_records) >= ttls.record_republish {
            last_records = now;
            let records: Vec<(Vec<u8>, Vec<u8>)> =
                shared.published().records.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for (key, value) in records {
                if let Err(error) = kad.put_value(&key, value).await {
                    tracing::debug!(%error, "kad: republishing a record failed");
                }
            }
        }
        if now.duration_since(last_providers) >= ttls.provider_republish {
            last_providers = now;
            let provided = shared.published().provided.clone();
            for key in provided {
                if let Err(error) = kad.provide(&key).await {
                    tracing::debug!(%error, "kad: republishing a provider record failed");
                }
            }
        }
    }
}
