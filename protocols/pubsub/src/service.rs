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
//! and the limits are this one service, and its methods are written once:
//! `floodsub::Floodsub` is `Service<FloodRouter>`, `gossipsub::Gossipsub`
//! is `Service<GossipRouter>` (with the [`MeshRouter`] methods on top),
//! and a router chosen at run time is a `Service<dyn Router>` (plain
//! `Service`), converted from either with [`From`].
//!
//! ## Invariants
//!
//! - **One lock per service.** Everything the service keeps (the router,
//!   local subscribers, the per-peer writers, inbound stream counts) is
//!   one `State` behind one mutex. It is never held across an `.await`,
//!   and nothing done under it waits (queues are `try_send`, tasks are
//!   spawned, dials and slow validations run in tasks of their own), so
//!   taking it is always brief. Actions are carried out under the lock
//!   that produced them, so they happen in the router's order.
//! - **Lock order: the service's state, then the host.** Under the state
//!   lock the service calls the host (`is_connected`, `peer_info`,
//!   `spawn`, opening no stream), which takes the host's own lock briefly;
//!   the writers also lock a peer's stream-style judge ([`crate::writer`]).
//!   The host never calls the service under its lock: stream handlers are
//!   cloned out of it and run in tasks, connection events come through the
//!   lifecycle queue, read by the service's own task. So the order is
//!   always service → host, and no cycle can form. A synchronous
//!   [`Validator`] runs under the state lock and must not call back into
//!   the service (it would deadlock on this lock).
//! - **Every peer is forgotten.** A peer's state (router record, writer,
//!   inbound count) goes when its last connection closes, learnt from the
//!   host's reliable lifecycle; an RPC read after that is dropped, not
//!   kept (`tracked_peers` is 0 once every peer has left).
//! - **Bounded**: subscriber queues, each peer's RPC queue, inbound
//!   streams per peer, RPC and message sizes, pending validations, the
//!   event channel (a broadcast: a slow event reader misses events, the
//!   service never waits for it).
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
    Action, Config, Event, FromConfig, MeshRouter, Message, MessageId, PeerConnection, Router, Subscribers,
    Subscription, Validator, Verdict, WriterConfig, Writers, message, validation::Run,
};

/// What the service needs of a router's configuration
/// ([`FromConfig::from_config`] makes it).
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// The protocol ids served and proposed, preferred first.
    pub protocols: &'static [&'static str],
    /// The shared configuration: signature policy, limits of streams,
    /// queues and sizes.
    pub shared: Config,
    /// The router's heartbeat interval, if it keeps one.
    pub heartbeat: Option<Duration>,
    /// The application's validator, for routers that ask
    /// ([`Action::Validate`]); without one every message is accepted.
    pub validator: Option<Validator>,
    /// Addresses of peers the router will ask to dial ([`Action::Dial`]),
    /// added to the host's peer store at attach (gossipsub's direct peers).
    pub known_addrs: Vec<(PeerId, Vec<Multiaddr>)>,
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
/// The router comes last, so that `State<R>` unsizes to
/// `State<dyn Router>`.
struct State<R: ?Sized> {
    subscribers: Subscribers,
    writers: Writers,
    /// Open inbound streams per peer, bounded by the config.
    inbound: HashMap<PeerId, usize>,
    /// Asynchronous validations under way.
    validating: usize,
    /// Peers being dialed on a router's behalf.
    dialing: HashSet<PeerId>,
    router: R,
}

struct Shared<R: ?Sized> {
    host: WeakHost,
    config: ServiceConfig,
    events: broadcast::Sender<Event>,
    seqno: AtomicU64,
    state: Mutex<State<R>>,
}

/// A router serving on a host: `Service<FloodRouter>` (floodsub's
/// `Floodsub`), `Service<GossipRouter>` (`Gossipsub`), or, with the router
/// chosen at run time, `Service` (`Service<dyn Router>`, made with
/// [`From`]). Cheap to clone.
pub struct Service<R: ?Sized = dyn Router> {
    shared: Arc<Shared<R>>,
}

impl<R: ?Sized> Clone for Service<R> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<R: Router> From<Service<R>> for Service {
    fn from(service: Service<R>) -> Self {
        Self { shared: service.shared }
    }
}

impl<R: FromConfig> Service<R> {
    /// Serves the router's protocols on `host` and starts following the
    /// host's connections (and the heartbeat, if the router keeps one).
    pub fn attach(host: &Host, config: R::Config) -> Result<Self, Error> {
        let (router, config) = R::from_config(config);
        for (peer, addrs) in &config.known_addrs {
            host.update_peer(*peer, |info| info.addrs.extend(addrs.iter().cloned()));
        }
        // A publisher's sequence numbers must not repeat, across restarts
        // too: start from a random point.
        let mut start = [0u8; 8];
        if let Err(error) = strata_core::random::fill(&mut start) {
            tracing::warn!(%error, "pubsub: no random start for sequence numbers");
        }
        let writers = Writers::new(WriterConfig {
            protocols: config.protocols,
            queue_len: config.shared.peer_queue,
            send_timeout: config.shared.send_timeout,
        });
        let state = State {
            subscribers: Subscribers::default(),
            writers,
            inbound: HashMap::new(),
            validating: 0,
            dialing: HashSet::new(),
            router,
        };
        let shared = Arc::new(Shared {
            host: host.downgrade(),
            config,
            events: broadcast::channel(1024).0,
            seqno: AtomicU64::new(u64::from_be_bytes(start) >> 1),
            state: Mutex::new(state),
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
}

impl<R: Router + ?Sized> Service<R> {
    /// Subscribes to `topic`: the messages published to it arrive on the
    /// returned [`Subscription`]; dropping it unsubscribes.
    pub fn subscribe(&self, topic: &str) -> Subscription {
        let (id, receiver) = {
            let mut state = self.shared.lock();
            let (id, receiver, first) = state.subscribers.add(topic, self.shared.config.shared.subscriber_capacity);
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
        let max = self.shared.config.shared.max_message_len;
        if data.len() > max {
            return Err(Error::MessageTooLarge { len: data.len(), max });
        }
        let host = &self.shared.host;
        let seqno = self.shared.seqno.fetch_add(1, Ordering::Relaxed);
        let (raw, message) = message::publish(
            self.shared.config.shared.policy,
            &host.public_key(),
            |bytes| host.sign(bytes),
            seqno,
            topic,
            data,
        );
        let mut state = self.shared.lock();
        let actions = state.router.publish(raw, &message, host.peer_id(), Instant::now());
        self.shared.apply(&mut state, actions);
        Ok(())
    }

    /// The peers subscribed to `topic`.
    pub fn peers(&self, topic: &str) -> Vec<PeerId> {
        self.shared.lock().router.peers_of(topic)
    }

    /// A new subscription to the service's events.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Waits until every RPC queued so far has been written (or given up
    /// on), at most `timeout`; `false` if some were still queued then. For
    /// a node about to shut down that wants its last messages out.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let drained = self.shared.lock().writers.drained();
        tokio::time::timeout(timeout, drained).await.is_ok()
    }

    /// How many peers the service keeps state for (router entries and
    /// writers): zero once every peer has left.
    pub fn tracked_peers(&self) -> usize {
        let state = self.shared.lock();
        state.router.peer_count().max(state.writers.len()).max(state.inbound.len())
    }
}

impl<R: MeshRouter + ?Sized> Service<R> {
    /// The peers in our mesh of `topic`.
    pub fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.shared.lock().router.mesh_peers(topic)
    }

    /// The score of `peer` now (0 with scoring off, for a direct peer, or
    /// for a peer never seen).
    pub fn peer_score(&self, peer: PeerId) -> f64 {
        self.shared.lock().router.score(peer, Instant::now())
    }

    /// Sets the application's score of a connected peer (gossipsub's P5,
    /// weighted by `app_specific_weight`); `false` if the peer is not
    /// connected or scoring is off.
    pub fn set_application_score(&self, peer: PeerId, score: f64) -> bool {
        self.shared.lock().router.set_application_score(peer, score)
    }
}

impl<R: ?Sized> std::fmt::Debug for Service<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("protocols", &self.shared.config.protocols)
            .field("policy", &self.shared.config.shared.policy)
            .finish_non_exhaustive()
    }
}

impl<R: Router + ?Sized> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Carries out `actions`, under the lock that produced them.
    fn apply(self: &Arc<Self>, state: &mut State<R>, actions: Vec<Action>) {
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
    fn validate(self: &Arc<Self>, state: &mut State<R>, id: MessageId, from: PeerId, message: Message) {
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
        let shared = Arc::clone(self);
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
    fn dial(self: &Arc<Self>, state: &mut State<R>, peer: PeerId) {
        let known = self.host.peer_info(peer).is_some_and(|info| !info.addrs.is_empty());
        if self.host.is_connected(peer) || !known || !state.dialing.insert(peer) {
            return;
        }
        let shared = Arc::clone(self);
        let host = self.host.clone();
        self.host.spawn(async move {
            if let Err(error) = host.dial_peer(peer).await {
                tracing::debug!(%peer, %error, "pubsub: dialing a peer failed");
            }
            shared.lock().dialing.remove(&peer);
        });
    }

    fn peer_connected(self: &Arc<Self>, peer: PeerId, connection: &PeerConnection) {
        let mut state = self.lock();
        state.writers.add_peer(peer);
        let actions = state.router.peer_connected(peer, connection, Instant::now());
        self.apply(&mut state, actions);
    }

    fn peer_disconnected(self: &Arc<Self>, peer: PeerId) {
        let mut state = self.lock();
        state.writers.remove(peer);
        let actions = state.router.peer_disconnected(peer, Instant::now());
        self.apply(&mut state, actions);
    }

    /// Subscriber `id` of `topic` went; the last one is announced.
    fn unsubscribe(self: &Arc<Self>, topic: &str, id: u64) {
        let mut state = self.lock();
        if state.subscribers.remove(topic, id) {
            let actions = state.router.set_local(topic, false, Instant::now());
            self.apply(&mut state, actions);
        }
    }

    /// Handles one inbound RPC; `false` if the peer broke a rule.
    fn receive(self: &Arc<Self>, peer: PeerId, rpc: &[u8]) -> bool {
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
