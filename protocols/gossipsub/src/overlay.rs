//! The overlay: our mesh of each topic we are subscribed to, our fanout of
//! each topic we publish to without subscribing, and the backoffs that
//! keep a pruned peer out of a mesh for a while. Plain data behind
//! methods: the router's rules (`mesh.rs`, `heartbeat.rs`, …) decide who
//! joins and leaves; this type keeps the sets consistent.
//!
//! A peer's mesh and fanout memberships go with it
//! ([`Overlay::remove_peer`]); its backoffs stay until they expire, as
//! the spec wants (a peer that reconnects is still backing off).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::{Duration, Instant},
};

use strata_core::PeerId;

/// Meshes, fanouts and backoffs.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// Our mesh per subscribed topic (a topic with an empty mesh is still
    /// joined).
    meshes: BTreeMap<String, BTreeSet<PeerId>>,
    /// Peers we publish to, per topic we publish to without subscribing.
    fanouts: BTreeMap<String, BTreeSet<PeerId>>,
    /// When we last published to each fanout topic.
    published: HashMap<String, Instant>,
    /// Until when a (peer, topic) may not be grafted.
    backoffs: HashMap<(PeerId, String), Instant>,
}

impl Overlay {
    /// Whether we keep a mesh of `topic` (we joined it).
    pub(crate) fn is_joined(&self, topic: &str) -> bool {
        self.meshes.contains_key(topic)
    }

    /// Our mesh of `topic`, if we joined it.
    pub(crate) fn mesh(&self, topic: &str) -> Option<&BTreeSet<PeerId>> {
        self.meshes.get(topic)
    }

    /// The peers in our mesh of `topic`, sorted.
    pub(crate) fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.meshes.get(topic).map(|peers| peers.iter().copied().collect()).unwrap_or_default()
    }

    /// Joins `topic` with an empty mesh; returns the fanout it had, the
    /// mesh's first candidates.
    pub(crate) fn join(&mut self, topic: &str) -> BTreeSet<PeerId> {
        self.published.remove(topic);
        self.meshes.insert(topic.to_owned(), BTreeSet::new());
        self.fanouts.remove(topic).unwrap_or_default()
    }

    /// Leaves `topic`: its mesh is gone.
    pub(crate) fn leave(&mut self, topic: &str) {
        self.meshes.remove(topic);
    }

    /// Adds `peer` to our mesh of `topic`, if we joined it.
    pub(crate) fn graft(&mut self, topic: &str, peer: PeerId) {
        if let Some(mesh) = self.meshes.get_mut(topic) {
            mesh.insert(peer);
        }
    }

    /// Takes `peer` out of our mesh of `topic`; `true` if it was in it.
    pub(crate) fn prune(&mut self, topic: &str, peer: PeerId) -> bool {
        self.meshes.get_mut(topic).is_some_and(|mesh| mesh.remove(&peer))
    }

    /// Keeps in our mesh of `topic` only the peers `keep` says.
    pub(crate) fn retain_mesh(&mut self, topic: &str, keep: impl FnMut(&PeerId) -> bool) {
        if let Some(mesh) = self.meshes.get_mut(topic) {
            mesh.retain(keep);
        }
    }

    /// `peer` stopped being a candidate for `topic` (it unsubscribed):
    /// out of its mesh and fanout; `true` if it was in our mesh.
    pub(crate) fn unsubscribed(&mut self, topic: &str, peer: PeerId) -> bool {
        if let Some(fanout) = self.fanouts.get_mut(topic) {
            fanout.remove(&peer);
        }
        self.prune(topic, peer)
    }

    /// The fanout of `topic`, if we keep one.
    pub(crate) fn fanout(&self, topic: &str) -> Option<&BTreeSet<PeerId>> {
        self.fanouts.get(topic)
    }

    /// Sets the fanout of `topic`.
    pub(crate) fn set_fanout(&mut self, topic: &str, peers: BTreeSet<PeerId>) {
        self.fanouts.insert(topic.to_owned(), peers);
    }

    /// We published to `topic` (not subscribed) at `now`: its fanout is kept
    /// another fanout TTL.
    pub(crate) fn published(&mut self, topic: &str, now: Instant) {
        self.published.insert(topic.to_owned(), now);
    }

    /// Forgets the fanouts not published to within `ttl`; returns the
    /// topics of those left.
    pub(crate) fn expire_fanouts(&mut self, now: Instant, ttl: Duration) -> Vec<String> {
        self.published.retain(|_, at| now.saturating_duration_since(*at) <= ttl);
        let published = &self.published;
        self.fanouts.retain(|topic, _| published.contains_key(topic));
        self.fanouts.keys().cloned().collect()
    }

    /// The topics we gossip about (meshes and fanouts), each with the
    /// peers that already get its messages.
    pub(crate) fn gossip_topics(&self) -> Vec<(String, BTreeSet<PeerId>)> {
        let topics: BTreeSet<&String> = self.meshes.keys().chain(self.fanouts.keys()).collect();
        topics
            .into_iter()
            .map(|topic| {
                let peers = self.meshes.get(topic).or_else(|| self.fanouts.get(topic)).cloned().unwrap_or_default();
                (topic.clone(), peers)
            })
            .collect()
    }

    /// Whether `peer` may not be grafted to `topic` at `now`.
    pub(crate) fn in_backoff(&self, peer: PeerId, topic: &str, now: Instant) -> bool {
        self.backoffs.get(&(peer, topic.to_owned())).is_some_and(|until| *until > now)
    }

    /// `peer` may not be grafted to `topic` for `backoff` from `now` (a
    /// longer backoff already set stays).
    pub(crate) fn back_off(&mut self, peer: PeerId, topic: &str, now: Instant, backoff: Duration) {
        let until = now + backoff;
        let entry = self.backoffs.entry((peer, topic.to_owned())).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Forgets the backoffs over at `now`.
    pub(crate) fn expire_backoffs(&mut self, now: Instant) {
        self.backoffs.retain(|_, until| *until > now);
    }

    /// `peer` left: out of every mesh and fanout (its backoffs stay until
    /// they expire).
    pub(crate) fn remove_peer(&mut self, peer: PeerId) {
        for peers in self.meshes.values_mut().chain(self.fanouts.values_mut()) {
            peers.remove(&peer);
        }
    }

    /// Whether anything here mentions `peer` (its backoffs aside).
    #[cfg(test)]
    pub(crate) fn mentions(&self, peer: PeerId) -> bool {
        self.meshes.values().chain(self.fanouts.values()).any(|peers| peers.contains(&peer))
    }

    /// Whether a backoff of `peer` is kept.
    #[cfg(test)]
    pub(crate) fn backs_off(&self, peer: PeerId) -> bool {
        self.backoffs.keys().any(|(other, _)| *other == peer)
    }
}
