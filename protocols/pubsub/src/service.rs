//! `Service`: a pubsub router wired to a host, whichever router it is.
//!
//! ```text
//! inbound streams (each of the router's protocols)
//!     ──read RPCs until closed──▶ Router ──▶ Actions
//! heartbeat timer (routers that keep one) ──▶ Router ──▶ Actions
//! Actions: Send ──▶ Writers (a task per peer) ──▶ the streams the peer reads
//!          Deliver ──▶ local Subscribers      Report ──▶ event subscribers
//!          Validate ──▶ the application's Validator ──▶ Router::validated
//!          Dial ──▶ the host, at the addresses its peer store holds
//! ```
//!
//! floodsub and gossipsub differ only in their [`Router`], a state machine
//! with no I/O; the streams, the writers, the subscribers, the lifecycle
//! and the limits are this one service.
//!
//! **One lock.** Everything the service keeps (the router, local
//! subscribers, the per-peer writers, inbound stream counts) is one
//! `State` behind one mutex. The rule: the lock is never held across an
//! `.await`, and nothing done under it waits (queues are `try_send`, tasks
//! are spawned), so taking it is always brief and never deadlocks. Actions
//! are carried out under the lock that produced them, so they happen in
//! the router's order.
//!
//! **Inbound streams** are read until the remote closes them, however many
//! RPCs they carry (one, as rust-libp2p's floodsub sends, or a whole
//! session), then closed gracefully on our side too, so that the remote
//! never sees its outbound stream fail (rust-libp2p closes the connection
//! when one does). How many RPCs each carried tells the writers how the
//! peer reads ([`crate::writer`]). A stream that breaks a limit is
//! dropped; the connection stays.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId};
use strata_host::{Host, WeakHost};
use tokio::sync::broadcast;

mod tasks;

use crate::{
    Message, MessageId, SignaturePolicy, Subscribers, Subscription, Validator, Verdict, WriterConfig, Writers, message,
    validation::Run,
};

/// What a router asks the service to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an encoded RPC to a peer.
    Send {
        /// The peer.
        peer: PeerId,
        /// The RPC's bytes, without the length prefix.
        rpc: Vec<u8>,
    },
    /// Hand a message to the local subscribers of its topics.
    Deliver(Message),
    /// Report to event subscribers.
    Report(Event),
    /// Ask the application's [`Validator`] about a received message; the
    /// verdict comes back through [`Router::validated`].
    Validate {
        /// The message's id.
        id: MessageId,
        /// The peer it came from.
        from: PeerId,
        /// The message.
        message: Message,
    },
    /// Connect to a peer at the addresses the host's peer store holds for
    /// it (peer exchange, direct peers), unless connected or dialing.
    Dial(PeerId),
}

/// The first connection of a peer, as a router sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConnection {
    /// The remote's address (its IP, for colocation scoring).
    pub remote_addr: Multiaddr,
    /// Whether we dialed it.
    pub outbound: bool,
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
    /// A peer joined our mesh of a topic (gossipsub).
    Grafted {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// A peer left our mesh of a topic (gossipsub).
    Pruned {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
}

/// A pubsub router: who wants which topic and where each message goes,
/// with no I/O (the service feeds it events and carries out its actions).
pub trait Router: Send + 'static {
    /// Why a peer's RPC was refused (it loses the stream it came on).
    type Violation: std::fmt::Display;

    /// A peer connected (its first connection).
    fn peer_connected(&mut self, peer: PeerId, connection: &PeerConnection, now: Instant) -> Vec<Action>;
    /// A peer's last connection closed.
    fn peer_disconnected(&mut self, peer: PeerId, now: Instant) -> Vec<Action>;
    /// A peer opened a stream to us with `protocol` (one of the service's):
    /// what it speaks.
    fn peer_protocol(&mut self, _peer: PeerId, _protocol: &str) {}
    /// The first local subscription to `topic` started, or the last ended.
    fn set_local(&mut self, topic: &str, subscribed: bool, now: Instant) -> Vec<Action>;
    /// A message we publish (`raw` on the wire, `message` decoded).
    fn publish(&mut self, raw: Vec<u8>, message: &Message, local: PeerId, now: Instant) -> Vec<Action>;
    /// An RPC from `peer`; with a violation, the actions of what came
    /// before it in the RPC.
    fn receive(&mut self, peer: PeerId, rpc: &[u8], now: Instant) -> (Vec<Action>, Option<Self::Violation>);
    /// The application's verdict on a message the router asked about with
    /// [`Action::Validate`].
    fn validated(&mut self, _id: &MessageId, _verdict: Verdict, _now: Instant) -> Vec<Action> {
        Vec::new()
    }
    /// The periodic heartbeat, for routers with a [`ServiceConfig::heartbeat`].
    fn heartbeat(&mut self, _now: Instant) -> Vec<Action> {
        Vec::new()
    }
    /// The peers subscribed to `topic`.
    fn peers_of(&self, topic: &str) -> Vec<PeerId>;
    /// How many peers the router keeps state for.
    fn peer_count(&self) -> usize;
}

/// What the service itself needs to know: the protocols, the signature
/// policy and the limits of streams, queues and sizes.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// The protocol ids served and proposed, preferred first.
    pub protocols: &'static [&'static str],
    /// Signs (or not) what we publish.
    pub policy: SignaturePolicy,
    /// The largest payload published.
    pub max_message_len: usize,
    /// The largest RPC read.
    pub max_rpc_len: usize,
    /// Messages waiting for a slow local subscriber.
    pub subscriber_capacity: usize,
    /// RPCs waiting for one peer.
    pub peer_queue: usize,
    /// How long one RPC to a peer may take.
    pub send_timeout: Duration,
    /// Inbound streams one peer may hold open.
    pub max_inbound_streams_per_peer: usize,
    /// The router's heartbeat interval, if it keeps one.
    pub heartbeat: Option<Duration>,
    /// The application's validator, for routers that ask
    /// ([`Action::Validate`]); without one every message is accepted.
    pub validator: Option<Validator>,
}

/// What the service can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Registering a protocol on the host failed.
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

/// Everything the service keeps, behind one lock (see the module docs).
struct State<R> {
    router: R,
    subscribers: Subscribers,
    writers: Writers,
    /// Open inbound streams per peer, bounded by the config.
    inbound: HashMap<PeerId, usize>,
    /// Asynchronous validations under way.
    validating: usize,
    /// Peers being dialed on a router's behalf.
    dialing: HashSet<PeerId>,
}

struct Shared<R> {
    /// Itself, for the tasks it spawns.
    this: std::sync::Weak<Shared<R>>,
    host: WeakHost,
    config: ServiceConfig,
    state: Mutex<State<R>>,
    events: broadcast::Sender<Event>,
    seqno: AtomicU64,
}

/// A router serving on a host. Cheap to clone.
pub struct Service<R> {
    shared: Arc<Shared<R>>,
}

impl<R> Clone for Service<R> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<R: Router> Service<R> {
    /// Serves the config's protocols on `host` with `router`, and starts
    /// following the host's connections (and the heartbeat, if any).
    pub fn attach(host: &Host, router: R, config: ServiceConfig) -> Result<Self, Error> {
        // A publisher's sequence numbers must not repeat, across restarts
        // too: start from a random point.
        let mut start = [0u8; 8];
        if let Err(error) = strata_core::random::fill(&mut start) {
            tracing::warn!(%error, "pubsub: no random start for sequence numbers");
        }
        let writers = Writers::new(WriterConfig {
            protocols: config.protocols,
            queue_len: config.peer_queue,
            send_timeout: config.send_timeout,
        });
        let state = State {
            router,
            subscribers: Subscribers::default(),
            writers,
            inbound: HashMap::new(),
            validating: 0,
            dialing: HashSet::new(),
        };
        let shared = Arc::new_cyclic(|this| Shared {
            this: this.clone(),
            host: host.downgrade(),
            config,
            state: Mutex::new(state),
            events: broadcast::channel(1024).0,
            seqno: AtomicU64::new(u64::from_be_bytes(start) >> 1),
        });
        // Subscribed first: it starts with the connections open now.
        let lifecycle = host.lifecycle();
        for protocol in shared.config.protocols {
            let serving = Arc::clone(&shared);
            host.handle(protocol, move |stream| tasks::read_inbound(Arc::clone(&serving), stream))?;
        }
        host.spawn(tasks::follow(Arc::clone(&shared), lifecycle));
        if let Some(interval) = shared.config.heartbeat {
            host.spawn(tasks::heartbeat(Arc::downgrade(&shared), interval));
        }
        Ok(Self { shared })
    }

    /// Subscribes to `topic`: the messages published to it arrive on the
    /// returned [`Subscription`]; dropping it unsubscribes.
    pub fn subscribe(&self, topic: &str) -> Subscription {
        let (id, receiver) = {
            let mut state = self.shared.lock();
            let (id, receiver, first) = state.subscribers.add(topic, self.shared.config.subscriber_capacity);
            if first {
                let actions = state.router.set_local(topic, true, Instant::now());
                self.shared.apply(&mut state, actions);
            }
            (id, receiver)
        };
        let shared = Arc::clone(&self.shared);
        let owned = topic.to_owned();
        Subscription::new(topic.to_owned(), receiver, move || shared.unsubscribe(&owned, id))
    }

    /// Publishes `data` to `topic` (subscribed or not). Our own
    /// subscribers do not receive it.
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

    /// Reads the router's state under the service's lock (for a router's
    /// own accessors, like gossipsub's mesh).
    pub fn with_router<T>(&self, read: impl FnOnce(&R) -> T) -> T {
        read(&self.shared.lock().router)
    }

    /// Changes the router's state under the service's lock (for a
    /// router's own settings, like gossipsub's application scores).
    pub fn with_router_mut<T>(&self, change: impl FnOnce(&mut R) -> T) -> T {
        change(&mut self.shared.lock().router)
    }

    /// A new subscription to the service's events.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Waits until every RPC queued so far has been written (or given up
    /// on), at most `timeout`; `false` if some were still queued then. For
    /// a node about to shut down that wants its last messages out.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let pending = self.shared.lock().writers.pending();
        let drained = async {
            while pending.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
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

impl<R> std::fmt::Debug for Service<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("protocols", &self.shared.config.protocols)
            .field("policy", &self.shared.config.policy)
            .finish_non_exhaustive()
    }
}

impl<R: Router> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Carries out `actions`, under the lock that produced them.
    fn apply(&self, state: &mut State<R>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { peer, rpc } => {
                    if let Err(error) = state.writers.send(&self.host, peer, rpc) {
                        tracing::debug!(%peer, %error, "pubsub: RPC dropped");
                    }
                }
                Action::Deliver(message) => state.subscribers.deliver(&message),
                Action::Report(event) => {
                    let _ = self.events.send(event);
                }
                Action::Validate { id, from, message } => self.validate(state, id, from, message),
                Action::Dial(peer) => self.dial(state, peer),
            }
        }
    }

    /// Runs the validator on a message; a synchronous verdict is applied
    /// at once, an asynchronous one when it comes (or `Ignore` after the
    /// timeout, or at once when too many are waiting).
    fn validate(&self, state: &mut State<R>, id: MessageId, from: PeerId, message: Message) {
        let Some(validator) = &self.config.validator else {
            let actions = state.router.validated(&id, Verdict::Accept, Instant::now());
            return self.apply(state, actions);
        };
        if state.validating >= validator.max_pending() {
            tracing::debug!(%from, "pubsub: too many messages awaiting validation; ignoring one");
            let actions = state.router.validated(&id, Verdict::Ignore, Instant::now());
            return self.apply(state, actions);
        }
        let pending = match validator.run(from, message) {
            Run::Ready(verdict) => {
                let actions = state.router.validated(&id, verdict, Instant::now());
                return self.apply(state, actions);
            }
            Run::Later(pending) => pending,
        };
        let Some(shared) = self.this.upgrade() else { return };
        state.validating += 1;
        let timeout = validator.timeout();
        self.host.spawn(async move {
            let verdict = tokio::time::timeout(timeout, pending).await.unwrap_or_else(|_| {
                tracing::debug!(%from, "pubsub: validation timed out; ignoring the message");
                Verdict::Ignore
            });
            let mut state = shared.lock();
            state.validating -= 1;
            let actions = state.router.validated(&id, verdict, Instant::now());
            shared.apply(&mut state, actions);
        });
    }

    /// Dials `peer` for the router, once at a time, if the host knows
    /// where it is.
    fn dial(&self, state: &mut State<R>, peer: PeerId) {
        let known = self.host.peer_info(peer).is_some_and(|info| !info.addrs.is_empty());
        if self.host.is_connected(peer) || !known || !state.dialing.insert(peer) {
            return;
        }
        let Some(shared) = self.this.upgrade() else { return };
        let host = self.host.clone();
        self.host.spawn(async move {
            if let Err(error) = host.dial_peer(peer).await {
                tracing::debug!(%peer, %error, "pubsub: dialing a peer failed");
            }
            shared.lock().dialing.remove(&peer);
        });
    }

    fn peer_connected(&self, peer: PeerId, connection: &PeerConnection) {
        let mut state = self.lock();
        state.writers.add_peer(peer);
        let actions = state.router.peer_connected(peer, connection, Instant::now());
        self.apply(&mut state, actions);
    }

    fn peer_disconnected(&self, peer: PeerId) {
        let mut state = self.lock();
        state.writers.remove(peer);
        let actions = state.router.peer_disconnected(peer, Instant::now());
        self.apply(&mut state, actions);
    }

    /// Subscriber `id` of `topic` went; the last one is announced.
    fn unsubscribe(&self, topic: &str, id: u64) {
        let mut state = self.lock();
        if state.subscribers.remove(topic, id) {
            let actions = state.router.set_local(topic, false, Instant::now());
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
            tracing::debug!(%peer, %violation, "pubsub: dropping the stream of a misbehaving peer");
            return false;
        }
        true
    }
}
