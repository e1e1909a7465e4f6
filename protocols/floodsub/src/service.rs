//! `Floodsub`: the router wired to a host.
//!
//! ```text
//! inbound "/floodsub/1.0.0" streams ──read RPCs until closed──▶ Router ──▶ Actions
//! Actions: Send ──▶ the peer's writer task ──▶ its outbound stream
//!          Deliver ──▶ local Subscriptions     Report ──▶ event subscribers
//! ```
//!
//! **Outbound streams.** The spec wants one long-lived outbound stream per
//! peer, and js-libp2p holds peers to it (it resets a second inbound
//! stream). rust-libp2p's floodsub instead reads only the first RPC of
//! each inbound stream and drops the stream, and its mplex sends the reset
//! only with its next frame: later RPCs vanish without a sign. So each
//! peer's writer starts with one long-lived stream and switches the peer to
//! a new stream per RPC as soon as it shows that it works that way: its own
//! inbound streams carry one RPC each, or identify names it
//! `rust-libp2p/…`, or it resets our stream. On the switch, the RPCs that
//! followed the first on the old stream are sent again (the seen-cache
//! makes any repeat harmless).
//!
//! **Inbound streams** are read until the remote closes them, however many
//! RPCs they carry (one, as rust-libp2p sends, or a whole session), then
//! closed gracefully on our side too, so that the remote never sees its
//! outbound stream fail (rust-libp2p closes the connection when one does).
//! A stream that breaks a limit is dropped; the connection stays.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use strata_core::{PeerId, framing};
use strata_host::{Host, Stream};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf},
    sync::{broadcast, mpsc},
};

use crate::{
    Config, Message, PROTOCOL, Subscription, message,
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

/// How many RPCs after the first on a long-lived stream are kept for
/// resending should the remote reset it.
const RESEND_WINDOW: usize = 64;

/// The local subscribers of each topic, each with its id.
type Subscribers = HashMap<String, Vec<(u64, mpsc::Sender<Message>)>>;

pub(crate) struct Shared {
    host: Host,
    config: Config,
    router: Mutex<Router>,
    subscribers: Mutex<Subscribers>,
    writers: Mutex<HashMap<PeerId, mpsc::Sender<Vec<u8>>>>,
    inbound: Mutex<HashMap<PeerId, usize>>,
    /// Peers seen sending one RPC per stream.
    one_rpc_per_stream: Mutex<std::collections::HashSet<PeerId>>,
    events: broadcast::Sender<Event>,
    seqno: AtomicU64,
    next_subscriber: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
        let shared = Arc::new(Shared {
            host: host.clone(),
            router: Mutex::new(Router::new(config.clone())),
            config,
            subscribers: Mutex::new(HashMap::new()),
            writers: Mutex::new(HashMap::new()),
            inbound: Mutex::new(HashMap::new()),
            one_rpc_per_stream: Mutex::new(std::collections::HashSet::new()),
            events: broadcast::channel(1024).0,
            seqno: AtomicU64::new(u64::from_be_bytes(start) >> 1),
            next_subscriber: AtomicU64::new(0),
        });
        let serving = Arc::clone(&shared);
        host.handle(PROTOCOL, move |stream| read_inbound(Arc::clone(&serving), stream))?;
        let following = Arc::clone(&shared);
        host.spawn(follow(following));
        for peer in host.connected_peers() {
            let actions = lock(&shared.router).peer_connected(peer);
            shared.apply(actions);
        }
        Ok(Self { shared })
    }

    /// Subscribes to `topic`: the messages published to it arrive on the
    /// returned [`Subscription`]; dropping it unsubscribes.
    pub fn subscribe(&self, topic: &str) -> Subscription {
        let (sender, receiver) = mpsc::channel(self.shared.config.subscriber_capacity);
        let id = self.shared.next_subscriber.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.subscribers).entry(topic.to_owned()).or_default().push((id, sender));
        let actions = lock(&self.shared.router).subscribe(topic);
        self.shared.apply(actions);
        Subscription::new(topic.to_owned(), id, receiver, Arc::clone(&self.shared))
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
        let (raw, id) =
            message::publish(self.shared.config.policy, host.peer_id(), |bytes| host.sign(bytes), seqno, topic, data);
        let actions = lock(&self.shared.router).publish(raw, id, topic, host.peer_id(), Instant::now());
        self.shared.apply(actions);
        Ok(())
    }

    /// The peers subscribed to `topic`.
    pub fn peers(&self, topic: &str) -> Vec<PeerId> {
        lock(&self.shared.router).peers_of(topic)
    }

    /// A new subscription to the service's events (peers subscribing and
    /// leaving).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }
}

impl std::fmt::Debug for Floodsub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Floodsub").field("policy", &self.shared.config.policy).finish_non_exhaustive()
    }
}

impl Shared {
    fn apply(self: &Arc<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { peer, rpc } => self.send(peer, rpc),
                Action::Deliver(message) => self.deliver(&message),
                Action::Report(event) => {
                    let _ = self.events.send(event);
                }
            }
        }
    }

    fn deliver(&self, message: &Message) {
        let subscribers = lock(&self.subscribers);
        for topic in &message.topics {
            for (_, sender) in subscribers.get(topic).into_iter().flatten() {
                if sender.try_send(message.clone()).is_err() {
                    tracing::debug!(%topic, "floodsub: a subscriber is full or gone; message dropped for it");
                }
            }
        }
    }

    fn send(self: &Arc<Self>, peer: PeerId, rpc: Vec<u8>) {
        if !self.host.is_connected(peer) {
            return;
        }
        let mut writers = lock(&self.writers);
        let sender = writers.entry(peer).or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(self.config.peer_queue);
            self.host.spawn(write_outbound(Arc::clone(self), peer, receiver));
            sender
        });
        if sender.try_send(rpc).is_err() {
            tracing::debug!(%peer, "floodsub: the peer's queue is full; RPC dropped");
        }
    }

    /// Whether `peer` reads one RPC per stream (see the module docs).
    fn wants_stream_per_rpc(&self, peer: PeerId) -> bool {
        lock(&self.one_rpc_per_stream).contains(&peer)
            || self
                .host
                .peer_info(peer)
                .and_then(|info| info.agent_version)
                .is_some_and(|agent| agent.starts_with("rust-libp2p/"))
    }

    /// Called when the last local subscriber of `topic` with id `id` goes.
    pub(crate) fn unsubscribe(self: &Arc<Self>, topic: &str, id: u64) {
        {
            let mut subscribers = lock(&self.subscribers);
            if let Some(list) = subscribers.get_mut(topic) {
                list.retain(|(other, _)| *other != id);
                if list.is_empty() {
                    subscribers.remove(topic);
                }
            }
        }
        let actions = lock(&self.router).unsubscribe(topic);
        self.apply(actions);
    }
}

/// Follows the host's connections: announces subscriptions to new peers,
/// forgets peers that left.
async fn follow(shared: Arc<Shared>) {
    let mut events = shared.host.events();
    loop {
        match events.recv().await {
            Ok(strata_host::Event::ConnectionEstablished { peer, .. }) => {
                let new = !lock(&shared.writers).contains_key(&peer);
                if new {
                    let actions = lock(&shared.router).peer_connected(peer);
                    shared.apply(actions);
                }
            }
            Ok(strata_host::Event::ConnectionClosed { peer, .. }) if !shared.host.is_connected(peer) => {
                lock(&shared.writers).remove(&peer);
                lock(&shared.one_rpc_per_stream).remove(&peer);
                let actions = lock(&shared.router).peer_disconnected(peer);
                shared.apply(actions);
            }
            Err(broadcast::error::RecvError::Closed) => return,
            _ => {}
        }
    }
}

/// Reads RPCs from an inbound stream until the remote closes it.
async fn read_inbound(shared: Arc<Shared>, mut stream: Stream) -> std::io::Result<()> {
    let peer = stream.peer();
    {
        let mut inbound = lock(&shared.inbound);
        let count = inbound.entry(peer).or_default();
        if *count >= shared.config.max_inbound_streams_per_peer {
            tracing::debug!(%peer, "floodsub: too many inbound streams from one peer; dropping one");
            return Ok(());
        }
        *count += 1;
    }
    let mut rpcs = 0usize;
    let outcome = loop {
        match framing::try_read_length_prefixed(&mut stream, shared.config.max_rpc_len).await {
            Ok(Some(rpc)) => {
                rpcs += 1;
                let actions = lock(&shared.router).receive(peer, &rpc, Instant::now());
                match actions {
                    Ok(actions) => shared.apply(actions),
                    Err(violation) => {
                        tracing::debug!(%peer, %violation, "floodsub: dropping the stream of a misbehaving peer");
                        break Ok(());
                    }
                }
            }
            // The remote is done: close our side too (a graceful end).
            Ok(None) => {
                if rpcs == 1 {
                    lock(&shared.one_rpc_per_stream).insert(peer);
                }
                break stream.shutdown().await;
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "floodsub: inbound stream ended");
                break Ok(());
            }
        }
    };
    let mut inbound = lock(&shared.inbound);
    if let Some(count) = inbound.get_mut(&peer) {
        *count -= 1;
        if *count == 0 {
            inbound.remove(&peer);
        }
    }
    outcome
}

/// Whether the remote closed or reset a stream we only write to: waits for
/// the read side to end.
async fn closed_by_remote(reader: &mut Option<ReadHalf<Stream>>) {
    let Some(read) = reader.as_mut() else { return std::future::pending().await };
    let mut sink = [0u8; 64];
    while let Ok(n) = read.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

/// Writes one RPC on a fresh stream and closes it.
async fn send_on_new_stream(shared: &Shared, peer: PeerId, rpc: &[u8]) -> Result<(), String> {
    let mut stream = shared.host.open_stream(peer, &[PROTOCOL]).await.map_err(|e| e.to_string())?;
    framing::write_length_prefixed(&mut stream, rpc).await.map_err(|e| e.to_string())?;
    stream.shutdown().await.map_err(|e| e.to_string())
}

/// The remote reset our long-lived stream: from now on one stream per RPC,
/// starting with the RPCs that followed the first on the reset stream.
async fn switch_to_per_rpc(shared: &Shared, peer: PeerId, unread: VecDeque<Vec<u8>>) {
    tracing::debug!(%peer, resending = unread.len(), "floodsub: the peer resets streams; one stream per RPC");
    for rpc in unread {
        if let Err(error) = send_on_new_stream(shared, peer, &rpc).await {
            tracing::debug!(%peer, %error, "floodsub: resending failed");
        }
    }
}

/// The task that writes RPCs to one peer. See the module documentation.
async fn write_outbound(shared: Arc<Shared>, peer: PeerId, mut queue: mpsc::Receiver<Vec<u8>>) {
    let mut per_rpc = false;
    let (mut reader, mut writer): (Option<ReadHalf<Stream>>, Option<WriteHalf<Stream>>) = (None, None);
    let mut after_first: VecDeque<Vec<u8>> = VecDeque::new();
    let mut sent_on_stream = 0usize;
    loop {
        let rpc = tokio::select! {
            rpc = queue.recv() => match rpc {
                Some(rpc) => rpc,
                None => return, // the peer left
            },
            () = closed_by_remote(&mut reader) => {
                (reader, writer, per_rpc) = (None, None, true);
                switch_to_per_rpc(&shared, peer, std::mem::take(&mut after_first)).await;
                continue;
            }
        };
        if !per_rpc && sent_on_stream > 0 && shared.wants_stream_per_rpc(peer) {
            (reader, writer, per_rpc) = (None, None, true);
            switch_to_per_rpc(&shared, peer, std::mem::take(&mut after_first)).await;
        }
        if per_rpc {
            if let Err(error) = send_on_new_stream(&shared, peer, &rpc).await {
                tracing::debug!(%peer, %error, "floodsub: sending failed");
            }
            continue;
        }
        if writer.is_none() {
            match shared.host.open_stream(peer, &[PROTOCOL]).await {
                Ok(stream) => {
                    let (read, write) = tokio::io::split(stream);
                    (reader, writer) = (Some(read), Some(write));
                    after_first.clear();
                    sent_on_stream = 0;
                }
                Err(error) => {
                    tracing::debug!(%peer, %error, "floodsub: cannot open a stream; RPC dropped");
                    continue;
                }
            }
        }
        let Some(write) = writer.as_mut() else { continue };
        if let Err(error) = framing::write_length_prefixed(write, &rpc).await {
            // Most often the remote reset the stream before we saw it: the
            // same as above, this RPC included.
            tracing::debug!(%peer, %error, "floodsub: writing failed");
            (reader, writer, per_rpc) = (None, None, true);
            after_first.push_back(rpc);
            switch_to_per_rpc(&shared, peer, std::mem::take(&mut after_first)).await;
            continue;
        }
        sent_on_stream += 1;
        if sent_on_stream > 1 {
            after_first.push_back(rpc);
            if after_first.len() > RESEND_WINDOW {
                after_first.pop_front();
            }
        }
    }
}
