//! The ping service: serves `/ipfs/ping/1.0.0`, pings peers, keeps
//! connections alive.
//!
//! Spec: `libp2p-ping.md`, "Protocol".
//!
//! ```text
//! dialer                                  listener
//!   open stream "/ipfs/ping/1.0.0"  ──▶
//!   32 random bytes                 ──▶   echo them back
//!                                   ◀──   (the same 32 bytes)      RTT = time of the round trip
//!   32 random bytes … (same stream)  ──▶   … until the dialer closes
//! ```
//!
//! Outbound, one stream per peer carries every ping to it, one ping at a
//! time (the spec allows one outbound ping stream per peer). Inbound, a
//! peer may hold at most two ping streams; a third is dropped at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use strata_core::PeerId;
use strata_host::{ConnectionEvent, Host, Lifecycle, Stream, WeakHost};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{broadcast, mpsc},
};

use crate::{Config, PAYLOAD_LEN, PROTOCOL};

/// How many inbound ping streams one peer may hold (spec: "at most two").
const MAX_INBOUND_PER_PEER: usize = 2;

/// How long an inbound ping stream may go without a payload before it is
/// closed. Real pingers send one every 10–15 s; a silent stream only holds
/// one of the peer's two slots and a task.
const INBOUND_IDLE: Duration = Duration::from_mins(1);

/// What a ping can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening or negotiating the stream failed (not connected, or the
    /// remote does not serve ping).
    #[error("cannot open a ping stream: {0}")]
    Host(#[from] strata_host::Error),
    /// The stream failed.
    #[error("ping stream failed: {0}")]
    Io(#[from] std::io::Error),
    /// No echo within the configured timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The remote answered with other bytes than it was sent.
    #[error("the remote echoed other bytes")]
    Mismatch,
}

/// What the ping service reports.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A ping succeeded.
    Pong {
        /// The peer pinged.
        peer: PeerId,
        /// The round-trip time.
        rtt: Duration,
    },
    /// A ping failed.
    Failure {
        /// The peer pinged.
        peer: PeerId,
        /// Why.
        error: String,
    },
    /// The keep-alive closed the connections to a peer after too many
    /// consecutive failures.
    Closed {
        /// The peer.
        peer: PeerId,
    },
}

type Slot = Arc<tokio::sync::Mutex<Option<Stream>>>;

struct Shared {
    host: WeakHost,
    config: Config,
    outbound: Mutex<HashMap<PeerId, Slot>>,
    inbound: Mutex<HashMap<PeerId, usize>>,
    events: broadcast::Sender<Event>,
}

/// The ping service of a host. Cheap to clone.
#[derive(Clone)]
pub struct Ping {
    shared: Arc<Shared>,
}

impl Ping {
    /// Serves ping on `host` and, with a keep-alive configured, starts it.
    pub fn attach(host: &Host, config: Config) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            host: host.downgrade(),
            config,
            outbound: Mutex::new(HashMap::new()),
            inbound: Mutex::new(HashMap::new()),
            events: broadcast::channel(256).0,
        });
        let serving = Arc::clone(&shared);
        host.handle(PROTOCOL, move |stream| serve(Arc::clone(&serving), stream))?;
        host.spawn(maintain(Arc::clone(&shared), host.lifecycle()));
        Ok(Self { shared })
    }

    /// Pings `peer` once; returns the round-trip time, which also goes to
    /// the peer store and the events.
    pub async fn ping(&self, peer: PeerId) -> Result<Duration, Error> {
        let outcome = ping(&self.shared, peer).await;
        let event = match &outcome {
            Ok(rtt) => Event::Pong { peer, rtt: *rtt },
            Err(error) => Event::Failure { peer, error: error.to_string() },
        };
        let _ = self.shared.events.send(event);
        outcome
    }

    /// A new subscription to the service's events.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// How many peers the service keeps state for (outbound streams,
    /// inbound stream counts): zero once every peer has left.
    pub fn tracked_peers(&self) -> usize {
        let outbound = self.shared.outbound.lock().unwrap_or_else(PoisonError::into_inner).len();
        outbound.max(self.shared.inbound.lock().unwrap_or_else(PoisonError::into_inner).len())
    }
}

impl std::fmt::Debug for Ping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ping").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

fn random_payload() -> [u8; PAYLOAD_LEN] {
    let mut payload = [0u8; PAYLOAD_LEN];
    // A failing OS random source leaves zeros: a ping still measures.
    if let Err(error) = strata_core::random::fill(&mut payload) {
        tracing::warn!(%error, "ping: no random bytes");
    }
    payload
}

async fn ping(shared: &Shared, peer: PeerId) -> Result<Duration, Error> {
    let slot = {
        let mut outbound = shared.outbound.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(outbound.entry(peer).or_default())
    };
    // One ping at a time per peer, on its one stream.
    let mut stream = slot.lock().await;
    let timeout = shared.config.timeout;
    let exchange = async {
        if stream.is_none() {
            *stream = Some(shared.host.open_stream(peer, &[PROTOCOL]).await?);
        }
        let io = stream.as_mut().ok_or(Error::Mismatch)?;
        let payload = random_payload();
        let start = Instant::now();
        io.write_all(&payload).await?;
        io.flush().await?;
        let mut echo = [0u8; PAYLOAD_LEN];
        io.read_exact(&mut echo).await?;
        let rtt = start.elapsed();
        if echo == payload { Ok(rtt) } else { Err(Error::Mismatch) }
    };
    let outcome = tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(Error::Timeout(timeout)));
    match &outcome {
        Ok(rtt) => {
            shared.host.update_peer(peer, |info| info.rtt = Some(*rtt));
        }
        Err(_) => *stream = None, // dropped: reset; the next ping opens a new one
    }
    drop(stream);
    if !shared.host.is_connected(peer) {
        // The peer left while we pinged (or was never there): keep nothing.
        shared.outbound.lock().unwrap_or_else(PoisonError::into_inner).remove(&peer);
    }
    outcome
}

/// Echoes every 32-byte payload on an inbound stream until the remote
/// closes it.
async fn serve(shared: Arc<Shared>, mut stream: Stream) -> std::io::Result<()> {
    let peer = stream.peer();
    {
        let mut inbound = shared.inbound.lock().unwrap_or_else(PoisonError::into_inner);
        let count = inbound.entry(peer).or_default();
        if *count >= MAX_INBOUND_PER_PEER {
            tracing::debug!(%peer, "ping: a third inbound stream; dropping it");
            return Ok(());
        }
        *count += 1;
    }
    let mut payload = [0u8; PAYLOAD_LEN];
    let outcome = async {
        loop {
            let Ok(read) = tokio::time::timeout(INBOUND_IDLE, stream.read_exact(&mut payload)).await else {
                tracing::debug!(%peer, "ping: an idle inbound stream; closing it");
                return Err(std::io::ErrorKind::TimedOut.into());
            };
            match read {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return stream.shutdown().await,
                Err(e) => return Err(e),
            }
            stream.write_all(&payload).await?;
            stream.flush().await?;
        }
    }
    .await;
    let mut inbound = shared.inbound.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(count) = inbound.get_mut(&peer) {
        *count -= 1;
        if *count == 0 {
            inbound.remove(&peer);
        }
    }
    outcome
}

/// Forgets the streams of disconnected peers (told reliably by the host's
/// lifecycle) and, if configured, pings every connected peer periodically,
/// closing the connections of a peer that fails too often.
async fn maintain(shared: Arc<Shared>, mut lifecycle: Lifecycle) {
    let mut ticker = shared.config.keep_alive.map(tokio::time::interval);
    let (results_tx, mut results) = mpsc::unbounded_channel::<(PeerId, bool)>();
    let mut failures: HashMap<PeerId, u32> = HashMap::new();
    loop {
        tokio::select! {
            event = lifecycle.next() => match event {
                Some(ConnectionEvent::Closed { peer, last: true, .. }) => {
                    shared.outbound.lock().unwrap_or_else(PoisonError::into_inner).remove(&peer);
                    failures.remove(&peer);
                }
                Some(_) => {}
                None => return, // shut down
            },
            () = async {
                match ticker.as_mut() {
                    Some(ticker) => drop(ticker.tick().await),
                    None => std::future::pending().await, // no keep-alive
                }
            } => {
                for peer in shared.host.connected_peers() {
                    let (shared, results) = (Arc::clone(&shared), results_tx.clone());
                    let host: Host = (*shared.host).clone();
                    host.spawn(async move {
                        let outcome = Ping { shared }.ping(peer).await;
                        let _ = results.send((peer, outcome.is_ok()));
                    });
                }
            },
            Some((peer, ok)) = results.recv() => {
                if ok || !shared.host.is_connected(peer) {
                    failures.remove(&peer);
                    continue;
                }
                let count = failures.entry(peer).or_default();
                *count += 1;
                if *count >= shared.config.max_failures {
                    tracing::debug!(%peer, failures = *count, "ping: closing an unresponsive connection");
                    failures.remove(&peer);
                    let host: Host = (*shared.host).clone();
                    host.clone().spawn(async move { host.disconnect(peer).await });
                    let _ = shared.events.send(Event::Closed { peer });
                }
            }
        }
    }
}
