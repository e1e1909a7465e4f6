//! `pubsub::Config`: what every router shares, the signature policy, the
//! message id rule and every limit, each with its default and what
//! happens when it is reached. floodsub's configuration is this one;
//! gossipsub's puts its own parameters on top of it.

use std::time::Duration;

use crate::{MessageIdFn, SignaturePolicy};

/// The configuration every pubsub router shares.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) policy: SignaturePolicy,
    pub(crate) message_id: MessageIdFn,
    pub(crate) max_message_len: usize,
    pub(crate) max_rpc_len: usize,
    pub(crate) max_topics_per_peer: usize,
    pub(crate) max_messages_per_sec: u32,
    pub(crate) seen_ttl: Duration,
    pub(crate) seen_capacity: usize,
    pub(crate) seen_max_bytes: usize,
    pub(crate) subscriber_capacity: usize,
    pub(crate) peer_queue: usize,
    pub(crate) send_timeout: Duration,
    pub(crate) max_inbound_streams_per_peer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            policy: SignaturePolicy::StrictSign,
            message_id: MessageIdFn::default(),
            max_message_len: 1 << 20,
            max_rpc_len: (1 << 20) + 64 * 1024,
            max_topics_per_peer: 1024,
            max_messages_per_sec: 5000,
            seen_ttl: Duration::from_mins(2),
            seen_capacity: 100_000,
            seen_max_bytes: 16 << 20,
            subscriber_capacity: 256,
            peer_queue: 256,
            send_timeout: Duration::from_secs(10),
            max_inbound_streams_per_peer: 32,
        }
    }
}

impl Config {
    /// The signature policy. Default: [`SignaturePolicy::StrictSign`].
    #[must_use]
    pub fn with_signature_policy(mut self, policy: SignaturePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How a message's id is computed (for the seen-cache and gossip).
    /// Default: `from ‖ seqno`, SHA-256 of the data for unstamped messages.
    #[must_use]
    pub fn with_message_id(mut self, rule: MessageIdFn) -> Self {
        self.message_id = rule;
        self
    }

    /// The largest payload published or accepted. Default: 1 MiB (the
    /// spec's suggestion); a larger publish fails, a larger received
    /// message is dropped, and an RPC past it plus 64 KiB costs the peer
    /// its stream. rust-libp2p's floodsub reads RPCs of at most 2 KiB:
    /// larger messages do not reach it.
    #[must_use]
    pub fn with_max_message_len(mut self, bytes: usize) -> Self {
        self.max_message_len = bytes;
        self.max_rpc_len = bytes + 64 * 1024;
        self
    }

    /// How many topics one peer may be subscribed to. Default: 1024. A peer
    /// past it loses the stream it announced more on.
    #[must_use]
    pub fn with_max_topics_per_peer(mut self, max: usize) -> Self {
        self.max_topics_per_peer = max;
        self
    }

    /// How many messages a second one peer may send us, sustained (bursts
    /// of twice as many pass). Default: 5,000. Each costs a decode and a
    /// signature check; a peer past it loses the stream it sent on (its
    /// messages in that RPC are dropped).
    #[must_use]
    pub fn with_max_messages_per_sec(mut self, max: u32) -> Self {
        self.max_messages_per_sec = max.max(1);
        self
    }

    /// How long a message id is remembered to suppress duplicates.
    /// Default: 2 minutes.
    #[must_use]
    pub fn with_seen_ttl(mut self, ttl: Duration) -> Self {
        self.seen_ttl = ttl;
        self
    }

    /// How many message ids are remembered at most. Default: 100 000 (the
    /// oldest forgotten first).
    #[must_use]
    pub fn with_seen_capacity(mut self, capacity: usize) -> Self {
        self.seen_capacity = capacity.max(1);
        self
    }

    /// How much memory the seen-cache may use, ids and bookkeeping.
    /// Default: 16 MiB (the oldest forgotten first). Message ids embed
    /// what a peer chose (`from`, `seqno`), so entries alone do not bound it.
    #[must_use]
    pub fn with_seen_max_bytes(mut self, bytes: usize) -> Self {
        self.seen_max_bytes = bytes;
        self
    }

    /// How many messages wait for a slow local subscriber before new ones
    /// are dropped for it. Default: 256.
    #[must_use]
    pub fn with_subscriber_capacity(mut self, capacity: usize) -> Self {
        self.subscriber_capacity = capacity.max(1);
        self
    }

    /// How many RPCs wait for one peer before new ones are dropped for it.
    /// Default: 256.
    #[must_use]
    pub fn with_peer_queue(mut self, capacity: usize) -> Self {
        self.peer_queue = capacity.max(1);
        self
    }

    /// How long sending one RPC to a peer may take (stream opened,
    /// negotiated, written). Default: 10 s. Past it the RPC is dropped for
    /// that peer, and its stream with it.
    #[must_use]
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// How many inbound streams one peer may hold open to us. Default: 32;
    /// a stream past it is dropped at once (the connection stays).
    #[must_use]
    pub fn with_max_inbound_streams_per_peer(mut self, max: usize) -> Self {
        self.max_inbound_streams_per_peer = max.max(1);
        self
    }

    /// The signature policy.
    pub fn policy(&self) -> SignaturePolicy {
        self.policy
    }

    /// The message id rule.
    pub fn message_id(&self) -> &MessageIdFn {
        &self.message_id
    }

    /// The largest payload published or accepted.
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// How many topics one peer may be subscribed to.
    pub fn max_topics_per_peer(&self) -> usize {
        self.max_topics_per_peer
    }

    /// How many messages a second one peer may send, sustained.
    pub fn max_messages_per_sec(&self) -> u32 {
        self.max_messages_per_sec
    }

    /// A seen-cache with this config's bounds.
    pub fn seen_cache(&self) -> crate::SeenCache {
        crate::SeenCache::new(self.seen_ttl, self.seen_capacity, self.seen_max_bytes)
    }

    /// How long a message id is remembered.
    pub fn seen_ttl(&self) -> Duration {
        self.seen_ttl
    }
}
