//! The connection table: every established connection, by id and by peer,
//! and the lifecycle queues that must hear of each change.
//!
//! Plain data under the host's state lock (see `host.rs`): inserting or
//! removing a connection returns the [`ConnectionEvent`] to deliver and the
//! queues to deliver it to, picked at the moment of the change.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use strata_core::{Endpoint, Multiaddr, PeerId};
use tokio::sync::mpsc;

use crate::{ConnectionEvent, ConnectionId, source::Muxed};

/// One established connection.
pub(crate) struct Entry {
    pub(crate) peer: PeerId,
    pub(crate) endpoint: Endpoint,
    pub(crate) remote_addr: Multiaddr,
    pub(crate) muxed: Arc<dyn Muxed>,
}

/// The table.
#[derive(Default)]
pub(crate) struct Table {
    /// By id, oldest first (ids only grow).
    entries: BTreeMap<ConnectionId, Entry>,
    /// How many connections each peer has.
    per_peer: HashMap<PeerId, usize>,
    /// How many are inbound.
    inbound: usize,
    /// The lifecycle queues (dropped ones are pruned on the next change).
    hooks: Vec<mpsc::Sender<ConnectionEvent>>,
}

impl Table {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// How many connections are inbound.
    pub(crate) fn inbound(&self) -> usize {
        self.inbound
    }

    pub(crate) fn is_connected(&self, peer: PeerId) -> bool {
        self.per_peer.contains_key(&peer)
    }

    /// How many connections `peer` has.
    pub(crate) fn count_of(&self, peer: PeerId) -> usize {
        self.per_peer.get(&peer).copied().unwrap_or(0)
    }

    /// The peers with a connection, sorted.
    pub(crate) fn peers(&self) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> = self.per_peer.keys().copied().collect();
        peers.sort();
        peers
    }

    /// The connection to open `peer`'s streams on: the oldest direct one,
    /// else the oldest relayed one (a relayed connection is limited; once
    /// a hole punch added a direct one, "all new streams should be opened
    /// in the direct connection", `libp2p-relay-DCUtR.md`).
    pub(crate) fn best_of(&self, peer: PeerId) -> Option<(ConnectionId, Multiaddr, Arc<dyn Muxed>)> {
        let mut of_peer = self.entries.iter().filter(|(_, entry)| entry.peer == peer);
        let oldest = of_peer.next()?;
        let (id, entry) = if crate::is_relayed(&oldest.1.remote_addr) {
            of_peer.find(|(_, entry)| !crate::is_relayed(&entry.remote_addr)).unwrap_or(oldest)
        } else {
            oldest
        };
        Some((*id, entry.remote_addr.clone(), Arc::clone(&entry.muxed)))
    }

    /// The connection `id`, with its peer.
    pub(crate) fn get(&self, id: ConnectionId) -> Option<(PeerId, Arc<dyn Muxed>)> {
        self.entries.get(&id).map(|entry| (entry.peer, Arc::clone(&entry.muxed)))
    }

    /// Every connection to `peer`.
    pub(crate) fn all_of(&self, peer: PeerId) -> Vec<Arc<dyn Muxed>> {
        self.entries.values().filter(|entry| entry.peer == peer).map(|entry| Arc::clone(&entry.muxed)).collect()
    }

    fn live_hooks(&mut self) -> Vec<mpsc::Sender<ConnectionEvent>> {
        self.hooks.retain(|hook| !hook.is_closed());
        self.hooks.clone()
    }

    /// Adds a connection; returns its event and who must hear it.
    pub(crate) fn insert(
        &mut self,
        id: ConnectionId,
        entry: Entry,
    ) -> (ConnectionEvent, Vec<mpsc::Sender<ConnectionEvent>>) {
        let count = self.per_peer.entry(entry.peer).or_default();
        *count += 1;
        if entry.endpoint == Endpoint::Listener {
            self.inbound += 1;
        }
        let event = ConnectionEvent::Established {
            peer: entry.peer,
            connection: id,
            endpoint: entry.endpoint,
            remote_addr: entry.remote_addr.clone(),
            first: *count == 1,
        };
        self.entries.insert(id, entry);
        (event, self.live_hooks())
    }

    /// Removes a connection; returns it, its event and who must hear it.
    pub(crate) fn remove(
        &mut self,
        id: ConnectionId,
    ) -> Option<(Entry, ConnectionEvent, Vec<mpsc::Sender<ConnectionEvent>>)> {
        let entry = self.entries.remove(&id)?;
        if entry.endpoint == Endpoint::Listener {
            self.inbound -= 1;
        }
        let last = match self.per_peer.get_mut(&entry.peer) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            _ => {
                self.per_peer.remove(&entry.peer);
                true
            }
        };
        let event = ConnectionEvent::Closed {
            peer: entry.peer,
            connection: id,
            endpoint: entry.endpoint,
            remote_addr: entry.remote_addr.clone(),
            last,
        };
        let hooks = self.live_hooks();
        Some((entry, event, hooks))
    }

    /// Registers a lifecycle queue of `capacity`, primed with the open
    /// connections (as `Established`, oldest first).
    pub(crate) fn subscribe(&mut self, capacity: usize) -> mpsc::Receiver<ConnectionEvent> {
        let (sender, receiver) = mpsc::channel(capacity.max(1) + self.entries.len());
        let mut seen: HashMap<PeerId, usize> = HashMap::new();
        for (id, entry) in &self.entries {
            let count = seen.entry(entry.peer).or_default();
            *count += 1;
            let event = ConnectionEvent::Established {
                peer: entry.peer,
                connection: *id,
                endpoint: entry.endpoint,
                remote_addr: entry.remote_addr.clone(),
                first: *count == 1,
            };
            // Room for every one of them was made above.
            let _ = sender.try_send(event);
        }
        self.hooks.push(sender);
        receiver
    }

    /// Forgets every lifecycle queue (shutdown: their receivers see `None`).
    pub(crate) fn close_hooks(&mut self) {
        self.hooks.clear();
    }
}
