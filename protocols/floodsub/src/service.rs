//! `Floodsub`: the router wired to a host.
//!
//! ```text
//! inbound "/floodsub/1.0.0" streams ──read RPCs until closed──▶ Router ──▶ Actions
//! Actions: Send ──▶ pubsub Writers (a task per peer) ──▶ the streams the peer reads
//!          Deliver ──▶ local Subscribers      Report ──▶ event subscribers
//! ```
//!
//! **One lock.** Everything the service keeps (the router, local
//! subscribers, the per-peer writers, inbound stream counts) is one
//! [`State`] behind one mutex. The rule: the lock is never held across an
//! `.await`, and nothing done under it waits (queues are `try_send`, tasks
//! are spawned), so taking it is always brief and never deadlocks. Actions
//! are carried out under the lock that produced them, so they happen in
//! the router's order.
//!
//! **Inbound streams** are read until the remote closes them, however many
//! RPCs they carry (one, as rust-libp2p sends, or a whole session), then
//! closed gracefully on our side too, so that the remote never sees its
//! outbound stream fail (rust-libp2p closes the connection when one does).
//! How many RPCs each carried tells the writers how the peer reads
//! (`strata_pubsub::writer`). A stream that breaks a limit is dropped; the
//! connection stays.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use strata_core::{PeerId, framing};
use strata_host::{ConnectionEvent, Host, Lifecycle, Stream, WeakHost};
use strata_pubsub::{Subscribers, Subscription, WriterConfig, Writers, message};
use tokio::{io::AsyncWriteExt, sync::broadcast};

use crate::{
    Config, PROTOCOL,
    router::{Action, Router},
};

/// What the service can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Registering the protocol on the host failed.
    #[error(transparent)]
    Host(#[from] strata_host::Error),
    /// A message larger than the configured limit.
    #[error("a message of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// What the service reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A peer subscribed to a topic.
    Subscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// A peer unsubscribed from a topic, or left.
    Unsubscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
}

/// Everything the service keeps, behind one lock (see the module docs).
struct State {
    router: Router,
    subscribers: Subscribers,
    writers: Writers,
    /// Open inbound streams per peer, bounded by the config.
    inbound: HashMap<PeerId, usize>,
}

struct Shared {
    host: WeakHost,
    config: Config,
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    seqno: AtomicU64,
}

/// The floodsub service of a host. Cheap to clone.
#[derive(Clone)]
pub struct Floodsub {
    shared: Arc<Shared>,
}

impl Floodsub {
    /// Serves `/floodsub/1.0.0` on `host` and starts following its
    /// connections.
    pub fn attach(host: &Host, config: Config) -> Result<Self, Error> {
        // A publisher's sequence numbers must not repeat, across restarts
        // too: start from a random point.
        let mut start = [0u8; 8];
        if let Err(error) = getrandom::fill(&mut start) {
            tracing::warn!(%error, "floodsub: no random start for sequence numbers");
        }
        let writers = Writers::new(WriterConfig {
            protocols: &[PROTOCOL],
            queue_len: config.peer_queue,
            send_timeout: config.send_timeout,
        });
        let state = State {
            router: Router::new(config.clone()),
            subscribers: Subscribers::default(),
            writers,
            inbound: HashMap::new(),
        };
        let shared = Arc::new(Shared {
            host: host.downgrade(),
            config,
            state: Mutex::new(state),
            events: broadcast::channel(1024).0,
            seqno: AtomicU64::new(u64::from_be_bytes(start) >> 1),
        });
        // Subscribed first: it starts with the connections open now.
        let lifecycle = host.lifecycle();
        let serving = Arc::clone(&shared);
        host.handle(PROTOCOL, move |stream| read_inbound(Arc::clone(&serving), stream))?;
        host.spawn(follow(Arc::clone(&shared), lifecycle));
        Ok(Self { shared })
    }

    /// Subscribes to `topic`: the messages published to it arrive on the
    /// returned [`Subscription`]; dropping it unsubscribes.
    pub fn subscribe(&self, topic: &str) -> Subscription {
        let receiver = {
            let mut state = self.shared.lock();
            let (id, receiver, first) = state.subscribers.add(topic, self.shared.config.subscriber_capacity);
            if first {
                let actions = state.router.set_local(topic, true);
                self.shared.apply(&mut state, actions);
            }
            (id, receiver)
        };
        let (id, receiver) = receiver;
        let shared = Arc::clone(&self.shared);
        let owned = topic.to_owned();
        Subscription::new(topic.to_owned(), receiver, move || shared.unsubscribe(&owned, id))
    }

    /// Publishes `data` to `topic` (subscribed or not); it goes to every
    /// peer subscribed to the topic. Our own subscribers do not receive it.
    pub fn publish(&self, topic: &str, data: impl AsRef<[u8]>) -> Result<(), Error> {
        let data = data.as_ref();
        let max = self.shared.config.max_message_len;
        if data.len() > max {
            return Err(Error::MessageTooLarge { len: data.len(), max });
        }
        let host = &self.shared.host;
        let seqno = self.shared.seqno.fetch_add(1, Ordering::Relaxed);
        let (raw, message) =
            message::publish(self.shared.config.policy, host.peer_id(), |bytes| host.sign(bytes), seqno, topic, data);
        let mut state = self.shared.lock();
        let actions = state.router.publish(raw, &message, host.peer_id(), Instant::now());
        self.shared.apply(&mut state, actions);
        Ok(())
    }

    /// The peers subscribed to `topic`.
    pub fn peers(&self, topic: &str) -> Vec<PeerId> {
        self.shared.lock().router.peers_of(topic)
    }

    /// A new subscription to the service's events (peers subscribing and
    /// leaving).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Waits until every RPC queued so far has been written (or given up
    /// on), at most `timeout`; `false` if some were still queued then. For
    /// a node about to shut down that wants its last messages out.
    pub async fn flush(&self, timeout: std::time::Duration) -> bool {
        let pending = self.shared.lock().writers.pending();
        let drained = async {
            while pending.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(timeout, drained).await.is_ok()
    }

    /// How many peers the service keeps state for (router entries and
    /// writers): zero once every peer has left.
    pub fn tracked_peers(&self) -> usize {
        let state = self.shared.lock();
        state.router.peer_count().max(state.writers.len()).max(state.inbound.len())
    }
}

impl std::fmt::Debug for Floodsub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Floodsub").field("policy", &self.shared.config.policy).finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Carries out `actions`, under the lock that produced them.
    fn apply(&self, state: &mut State, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { peer, rpc } => {
                    if let Err(error) = state.writers.send(&self.host, peer, rpc) {
                        tracing::debug!(%peer, %error, "floodsub: RPC dropped");
                    }
                }
                Action::Deliver(message) => state.subscribers.deliver(&message),
                Action::Report(event) => {
                    let _ = self.events.send(event);
                }
            }
        }
    }

    fn peer_connected(&self, peer: PeerId) {
        let mut state = self.lock();
        state.writers.add_peer(peer);
        let actions = state.router.peer_connected(peer);
        self.apply(&mut state, actions);
    }

    fn peer_disconnected(&self, peer: PeerId) {
        let mut state = self.lock();
        state.writers.remove(peer);
        let actions = state.router.peer_disconnected(peer);
        self.apply(&mut state, actions);
    }

    /// Subscriber `id` of `topic` went; the last one is announced.
    fn unsubscribe(&self, topic: &str, id: u64) {
        let mut state = self.lock();
        if state.subscribers.remove(topic, id) {
            let actions = state.router.set_local(topic, false);
            self.apply(&mut state, actions);
        }
    }

    /// Handles one inbound RPC; `false` if the peer broke a rule.
    fn receive(&self, peer: PeerId, rpc: &[u8]) -> bool {
        let mut state = self.lock();
        if !self.host.is_connected(peer) {
            // Gone already (its last connection's event was handled, or is
            // on its way): keep nothing of it.
            return false;
        }
        let (actions, violation) = state.router.receive(peer, rpc, Instant::now());
        self.apply(&mut state, actions);
        if let Some(violation) = violation {
            tracing::debug!(%peer, %violation, "floodsub: dropping the stream of a misbehaving peer");
            return false;
        }
        true
    }
}

/// Follows the host's connections through its reliable lifecycle:
/// announces subscriptions to each new peer, forgets each peer that left.
async fn follow(shared: Arc<Shared>, mut lifecycle: Lifecycle) {
    while let Some(event) = lifecycle.next().await {
        match event {
            ConnectionEvent::Established { peer, first: true, .. } => shared.peer_connected(peer),
            ConnectionEvent::Closed { peer, last: true, .. } => shared.peer_disconnected(peer),
            _ => {}
        }
    }
}

/// Reads RPCs from an inbound stream until the remote closes it.
async fn read_inbound(shared: Arc<Shared>, mut stream: Stream) -> std::io::Result<()> {
    let peer = stream.peer();
    {
        let mut state = shared.lock();
        let count = state.inbound.entry(peer).or_default();
        if *count >= shared.config.max_inbound_streams_per_peer {
            tracing::debug!(%peer, "floodsub: too many inbound streams from one peer; dropping one");
            return Ok(());
        }
        *count += 1;
        if shared.host.is_connected(peer) {
            // Evidence of how the peer uses streams may come before the
            // connection event does.
            state.writers.add_peer(peer);
        }
    }
    let mut rpcs = 0usize;
    let mut ended = false;
    let outcome = loop {
        match framing::try_read_length_prefixed(&mut stream, shared.config.max_rpc_len).await {
            Ok(Some(rpc)) => {
                rpcs += 1;
                if rpcs == 2 {
                    shared.lock().writers.inbound_stream_is_long_lived(peer);
                }
                if !shared.receive(peer, &rpc) {
                    break Ok(());
                }
            }
            // The remote is done: close our side too (a graceful end).
            Ok(None) => {
                ended = true;
                break stream.shutdown().await;
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "floodsub: inbound stream ended");
                break Ok(());
            }
        }
    };
    let mut state = shared.lock();
    let mut others_open = 0;
    if let Some(count) = state.inbound.get_mut(&peer) {
        *count -= 1;
        others_open = *count;
        if *count == 0 {
            state.inbound.remove(&peer);
        }
    }
    if ended {
        state.writers.inbound_stream_ended(peer, rpcs, others_open);
    }
    outcome
}
