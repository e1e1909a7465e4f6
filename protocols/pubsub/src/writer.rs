//! The per-peer outbound writer: one task per peer that carries a router's
//! RPCs to it, in order, over streams the peer will actually read.
//!
//! ```text
//! router ── Writers::send(peer, rpc) ──▶ bounded queue ──▶ the peer's task ──▶ its stream(s)
//! inbound readers ── Writers::inbound_stream_ended(peer, rpcs) ──▶ StyleJudge ──┘ (which kind of stream)
//! ```
//!
//! **Two kinds of peer.** The spec wants one long-lived outbound stream per
//! peer, and go, js, py and strata work that way; js-libp2p even resets a
//! second inbound stream while the first is open (its `maxInboundStreams`
//! is 1). rust-libp2p's floodsub instead reads only the first RPC of each
//! inbound stream and drops the stream, and its mplex sends the reset only
//! with its next frame, so RPCs written after the first vanish silently. A
//! writer therefore starts with one long-lived stream and judges the peer
//! from what it sees: the [`style`] state machine ([`StyleJudge`]).
//!
//! When the long-lived stream fails, the RPCs written after its first
//! while the peer's style was still unknown (at most [`RESEND_WINDOW`] and
//! [`RESEND_WINDOW_BYTES`]) are sent again the way the peer now reads:
//! the seen-cache makes any repeat harmless. Every RPC is bounded in time
//! (`send_timeout`); a connection that is gone ends the task.
//!
//! ## Invariants
//!
//! - **Lock order: the service's state, then a peer's [`StyleJudge`],
//!   then the host's own locks.** [`Writers`] lives in the service's
//!   state and is only called under its lock; it locks a judge briefly
//!   to record evidence. A peer's task locks its judge alone and never
//!   holds it while it calls the host (the agent lookup runs between two
//!   locks), so no cycle can form.
//! - **Nothing here waits under a lock**: queues are `try_send`, tasks are
//!   spawned, and the pending count is a `watch` channel that
//!   [`Writers::drained`] subscribers wait on (a notification, not a poll).
//! - **Bounded**: each peer's queue (`queue_len`), each RPC's time
//!   (`send_timeout`), what is kept for resending ([`RESEND_WINDOW`],
//!   [`RESEND_WINDOW_BYTES`]).
//! - **Every RPC counted in is counted out**: a peer's task takes every
//!   RPC queued for it, even after the peer left (each then fails at
//!   once), and counts each out, sent or given up on.

pub mod style;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use strata_core::{PeerId, framing};
use strata_host::{Host, Stream};
pub use style::{AGENT_RECHECK, StreamStyle, StyleJudge};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf},
    sync::{mpsc, watch},
};

/// How many RPCs after the first on a long-lived stream are kept for
/// resending should the remote drop it (only while the peer's
/// [`StreamStyle`] is unknown: a peer known to read long-lived streams
/// loses nothing that way).
pub const RESEND_WINDOW: usize = 64;

/// The most bytes of RPCs kept for resending, per peer.
pub const RESEND_WINDOW_BYTES: usize = 1 << 20;

/// A peer's judge, shared by the inbound readers (evidence) and its task.
type Judge = Arc<Mutex<StyleJudge>>;

fn lock(judge: &Judge) -> std::sync::MutexGuard<'_, StyleJudge> {
    judge.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why one RPC could not be written to a fresh stream.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    /// Opening or negotiating the stream failed.
    #[error("opening a stream: {0}")]
    Open(#[from] strata_host::Error),
    /// Writing the RPC failed.
    #[error("writing: {0}")]
    Write(#[from] strata_core::Error),
    /// Closing the stream failed.
    #[error("closing: {0}")]
    Close(#[source] std::io::Error),
    /// It took longer than `send_timeout`.
    #[error("timed out")]
    TimedOut,
}

/// Why an RPC was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The peer is not connected.
    #[error("the peer is not connected")]
    NotConnected,
    /// The peer's queue is full (it does not keep up): the RPC is dropped.
    #[error("the peer's queue is full")]
    QueueFull,
}

/// Settings of the writers.
#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// The protocols to open streams with, in order of preference.
    pub protocols: &'static [&'static str],
    /// How many RPCs wait for one peer before new ones are dropped.
    pub queue_len: usize,
    /// How long one RPC may take to be sent (stream opened, negotiated,
    /// written); past it the stream is dropped and the RPC with it.
    pub send_timeout: Duration,
}

struct PeerWriter {
    queue: Option<mpsc::Sender<Vec<u8>>>,
    judge: Judge,
}

/// The writers of every connected peer. Plain data: the service's state
/// owns it and calls it under its lock (nothing here waits).
pub struct Writers {
    config: WriterConfig,
    peers: HashMap<PeerId, PeerWriter>,
    /// RPCs queued and not yet handled by their peer's task.
    pending: Arc<watch::Sender<usize>>,
}

impl Writers {
    /// No writers yet.
    pub fn new(config: WriterConfig) -> Self {
        Self { config, peers: HashMap::new(), pending: Arc::new(watch::Sender::new(0)) }
    }

    /// A peer connected: its writer starts (its task with the first RPC).
    pub fn add_peer(&mut self, peer: PeerId) {
        self.peers.entry(peer).or_insert_with(|| PeerWriter { queue: None, judge: Judge::default() });
    }

    /// Queues `rpc` (encoded, without its length prefix) for `peer`,
    /// starting the peer's task on `host` if needed.
    pub fn send(&mut self, host: &Host, peer: PeerId, rpc: Vec<u8>) -> Result<(), SendError> {
        if !host.is_connected(peer) {
            return Err(SendError::NotConnected);
        }
        let (config, pending) = (self.config, Arc::clone(&self.pending));
        let writer = self.peers.entry(peer).or_insert_with(|| PeerWriter { queue: None, judge: Judge::default() });
        let queue = writer.queue.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(config.queue_len.max(1));
            let task =
                PeerTask { host: host.clone(), peer, config, judge: Arc::clone(&writer.judge), long: None, pending };
            host.spawn(task.run(receiver));
            sender
        });
        queue.try_send(rpc).map_err(|_| SendError::QueueFull)?;
        self.pending.send_modify(|pending| *pending += 1);
        Ok(())
    }

    /// Waits until every RPC queued so far has been sent or given up on
    /// (for a node about to shut down that wants its last messages out).
    /// Made under the lock, awaited after it: the wait holds no lock.
    pub fn drained(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut pending = self.pending.subscribe();
        async move {
            // Err: the writers are gone, and nothing is left to wait for.
            let _ = pending.wait_for(|pending| *pending == 0).await;
        }
    }

    /// One of `peer`'s streams to us ended gracefully, after carrying
    /// `rpcs` RPCs, with `others_open` other streams of it still open
    /// (ignored for a peer that is not connected).
    pub fn inbound_stream_ended(&mut self, peer: PeerId, rpcs: usize, others_open: usize) {
        if let Some(writer) = self.peers.get(&peer) {
            lock(&writer.judge).stream_ended(rpcs, others_open);
        }
    }

    /// One of `peer`'s streams to us carried its second RPC.
    pub fn inbound_stream_is_long_lived(&mut self, peer: PeerId) {
        if let Some(writer) = self.peers.get(&peer) {
            lock(&writer.judge).stream_carried_two();
        }
    }

    /// `peer` left: its task ends once its queue is drained.
    pub fn remove(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
    }

    /// How many peers have a writer (or evidence).
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether none has.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writers").field("peers", &self.peers.len()).finish_non_exhaustive()
    }
}

/// Our long-lived stream to the peer.
struct LongLived {
    reader: ReadHalf<Stream>,
    writer: WriteHalf<Stream>,
    written: usize,
    /// RPCs written after the first, for resending, and their bytes.
    after_first: VecDeque<Vec<u8>>,
    after_first_bytes: usize,
}

impl LongLived {
    /// Keeps `rpc` for resending, within the window.
    fn keep(&mut self, rpc: Vec<u8>) {
        self.after_first_bytes += rpc.len();
        self.after_first.push_back(rpc);
        while self.after_first.len() > RESEND_WINDOW || self.after_first_bytes > RESEND_WINDOW_BYTES {
            let Some(old) = self.after_first.pop_front() else { break };
            self.after_first_bytes -= old.len();
        }
    }
}

struct PeerTask {
    host: Host,
    peer: PeerId,
    config: WriterConfig,
    judge: Judge,
    long: Option<LongLived>,
    pending: Arc<watch::Sender<usize>>,
}

impl PeerTask {
    /// The peer's style now, looking its agent up if that is due (between
    /// two locks of the judge: never holding it while calling the host).
    fn style(&self) -> StreamStyle {
        let now = Instant::now();
        let due = lock(&self.judge).agent_due(now);
        if due {
            let agent = self.host.peer_info(self.peer).and_then(|info| info.agent_version);
            lock(&self.judge).agent(agent, now);
        }
        lock(&self.judge).style()
    }

    async fn run(mut self, mut queue: mpsc::Receiver<Vec<u8>>) {
        loop {
            let rpc = tokio::select! {
                rpc = queue.recv() => match rpc {
                    Some(rpc) => rpc,
                    None => return, // the peer left
                },
                () = closed_by_remote(self.long.as_mut()) => {
                    self.stream_lost().await;
                    continue;
                }
            };
            self.deliver(rpc).await;
            self.pending.send_modify(|pending| *pending = pending.saturating_sub(1));
        }
    }

    /// Our long-lived stream ended or failed: resends what may be lost,
    /// unless the connection is gone (then the task ends with the queue).
    async fn stream_lost(&mut self) {
        let Some(lost) = self.long.take() else { return };
        if !self.host.is_connected(self.peer) {
            return;
        }
        lock(&self.judge).ours_dropped();
        let style = self.style();
        tracing::debug!(peer = %self.peer, ?style, resending = lost.after_first.len(), "pubsub: the peer dropped our stream");
        for rpc in lost.after_first {
            self.send_once(rpc, style).await;
        }
    }

    /// Sends one RPC the way the peer reads; on a failed long-lived
    /// stream, resends what may be lost and then this one.
    async fn deliver(&mut self, rpc: Vec<u8>) {
        let style = self.style();
        if style == StreamStyle::PerRpc && self.long.as_ref().is_some_and(|long| long.written > 1) {
            // Switching: what followed the first RPC may be lost.
            if let Some(lost) = self.long.take() {
                for rpc in lost.after_first {
                    self.send_once(rpc, style).await;
                }
            }
        }
        if !self.send_once(rpc, style).await {
            self.stream_lost().await;
        }
    }

    /// One attempt; `false` if a long-lived stream failed under it (the
    /// RPC is then kept for [`Self::stream_lost`] to resend).
    async fn send_once(&mut self, rpc: Vec<u8>, style: StreamStyle) -> bool {
        let timeout = self.config.send_timeout;
        if style == StreamStyle::PerRpc {
            self.long = None;
            let sent =
                tokio::time::timeout(timeout, send_on_new_stream(&self.host, self.peer, self.config.protocols, &rpc));
            if let Err(error) = sent.await.unwrap_or(Err(WriteError::TimedOut)) {
                tracing::debug!(peer = %self.peer, %error, "pubsub: sending an RPC failed");
            }
            return true;
        }
        if self.long.is_none() {
            match tokio::time::timeout(timeout, self.host.open_stream(self.peer, self.config.protocols)).await {
                Ok(Ok(stream)) => {
                    let (reader, writer) = tokio::io::split(stream);
                    self.long = Some(LongLived {
                        reader,
                        writer,
                        written: 0,
                        after_first: VecDeque::new(),
                        after_first_bytes: 0,
                    });
                }
                Ok(Err(error)) => {
                    tracing::debug!(peer = %self.peer, %error, "pubsub: cannot open a stream; RPC dropped");
                    return true;
                }
                Err(_) => {
                    tracing::debug!(peer = %self.peer, "pubsub: opening a stream timed out; RPC dropped");
                    return true;
                }
            }
        }
        let Some(long) = self.long.as_mut() else { return true };
        let written = tokio::time::timeout(timeout, framing::write_length_prefixed(&mut long.writer, &rpc)).await;
        match written {
            Ok(Ok(())) => {
                long.written += 1;
                // Only a peer that may read one RPC per stream can lose
                // what follows the first.
                if long.written > 1 && style == StreamStyle::Unknown {
                    long.keep(rpc);
                }
                true
            }
            Ok(Err(error)) => {
                tracing::debug!(peer = %self.peer, %error, "pubsub: writing to the long-lived stream failed");
                long.keep(rpc);
                false
            }
            Err(_) => {
                // The peer does not read: drop the stream and this RPC.
                tracing::debug!(peer = %self.peer, "pubsub: writing timed out; dropping the stream");
                self.long = None;
                true
            }
        }
    }
}

/// Writes one RPC on a fresh stream and closes it.
async fn send_on_new_stream(host: &Host, peer: PeerId, protocols: &[&str], rpc: &[u8]) -> Result<(), WriteError> {
    let mut stream = host.open_stream(peer, protocols).await?;
    framing::write_length_prefixed(&mut stream, rpc).await?;
    stream.shutdown().await.map_err(WriteError::Close)
}

/// Waits until the remote closes or resets the stream we only write to
/// (its read side ends); pending for ever without a stream.
async fn closed_by_remote(long: Option<&mut LongLived>) {
    let Some(long) = long else { return std::future::pending().await };
    let mut sink = [0u8; 64];
    while let Ok(n) = long.reader.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}
