//! [`Dcutr`]: the exchange of [`crate::state`] driven on a [`Host`].
//!
//! ```text
//! host.lifecycle() ─▶ follow(): per-peer record (relayed and direct connections)
//!    └─ relayed, accepted by us (we are B), no direct connection ─▶ initiator task
//! /libp2p/dcutr inbound stream on a relayed connection ─▶ responder (in the handler)
//!
//! task: Exchange::poll_action ─▶ open stream / write / dial (Puncher) / Done
//!       reads, deadlines, "relayed connection gone" ─▶ Exchange::on_*
//! Done ─▶ stats, Event::HolePunch; Ok ─▶ close the relayed connection after the grace period
//! ```
//!
//! Spec: `libp2p-relay-DCUtR.md`. The per-peer record is one entry per
//! peer with a relayed or a direct connection, removed with its last
//! connection; it is fed by the reliable lifecycle only. A success is
//! seen either way: our own dial returns, or the lifecycle reports a
//! direct connection to the peer (the remote's dial landed first, or a
//! QUIC connection came in through the hole we punched).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use strata_core::{Endpoint, Multiaddr, PeerId, multiaddr::Scope};
use strata_host::{ConnectionEvent, ConnectionId, Host, Lifecycle, Stream, WeakHost, is_relayed};
use tokio::sync::{broadcast, watch};

use crate::{
    Config, Exchange, HolePunch, HostPuncher, Outcome, PROTOCOL, Puncher, Reason, Result, Role, codec::MAX_MESSAGE_SIZE,
};

/// What the service reports (a lossy broadcast: [`Dcutr::events`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A hole punch with `peer` ended.
    HolePunch {
        /// The remote.
        peer: PeerId,
        /// Our side of the exchange.
        role: Role,
        /// A direct connection (its address, attempts, time taken), or why not.
        result: Outcome,
    },
}

/// Counters since the service started, for a metrics endpoint
/// ([`Dcutr::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Hole punches that ended (both roles).
    pub hole_punches: u64,
    /// Attempts made in them (an initiator makes up to
    /// [`Config::max_attempts`] per hole punch).
    pub attempts: u64,
    /// Hole punches that produced a direct connection.
    pub successes: u64,
    /// Hole punches that did not, by reason.
    pub failures: BTreeMap<Reason, u64>,
    /// Relayed connections closed after a success.
    pub relayed_closed: u64,
}

/// The `DCUtR` service on a host: answers `/libp2p/dcutr` and upgrades the
/// relayed connections this node accepts. Cheap to clone.
#[derive(Clone)]
pub struct Dcutr {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) host: WeakHost,
    pub(crate) config: Config,
    pub(crate) puncher: Arc<dyn Puncher>,
    events: broadcast::Sender<Event>,
    /// Bumped on every connection change, so that waiting tasks look again.
    pub(crate) changes: watch::Sender<u64>,
    state: Mutex<State>,
}

/// Where the addresses other peers observe us at come from (see
/// [`Dcutr::observed_addrs_from`]).
type ObservedAddrs = Arc<dyn Fn() -> Vec<Multiaddr> + Send + Sync>;

#[derive(Default)]
struct State {
    peers: HashMap<PeerId, PeerRecord>,
    /// The addresses peers observe us at, unconfirmed (none by default).
    observed: Option<ObservedAddrs>,
    /// Hole punches under way, both roles (≤ `Config::max_concurrent`).
    active: usize,
    stats: Stats,
}

/// What the service knows of one peer's connections.
#[derive(Default)]
struct PeerRecord {
    relayed: Vec<ConnectionId>,
    direct: Vec<(ConnectionId, Multiaddr)>,
    /// Whether an initiator runs for this peer (one at a time).
    initiating: bool,
}

impl Dcutr {
    /// Serves `/libp2p/dcutr` on `host` and hole punches the relayed
    /// connections it accepts, dialing through the host ([`HostPuncher`]).
    pub fn attach(host: &Host, config: Config) -> Result<Self> {
        Self::attach_with(host, config, HostPuncher::new(host))
    }

    /// Like [`Dcutr::attach`], with `puncher` doing the dials (a fake in
    /// tests, or a host with more dialing powers).
    pub fn attach_with(host: &Host, config: Config, puncher: impl Puncher) -> Result<Self> {
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let shared = Arc::new(Shared {
            host: host.downgrade(),
            config,
            puncher: Arc::new(puncher),
            events,
            changes: watch::Sender::new(0),
            state: Mutex::new(State::default()),
        });
        let weak = Arc::downgrade(&shared);
        host.handle(PROTOCOL, move |stream| {
            let shared = weak.upgrade();
            async move {
                if let Some(shared) = shared {
                    respond(shared, stream).await;
                }
                Ok(())
            }
        })?;
        let lifecycle = host.lifecycle();
        host.spawn(follow(Arc::clone(&shared), lifecycle));
        Ok(Self { shared })
    }

    /// A new subscription to hole punch outcomes, from now on. **Lossy**:
    /// a subscriber more than [`Config::event_capacity`] behind misses the
    /// oldest.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// The addresses this node offers in its `CONNECT`: confirmed external
    /// addresses, then listen addresses of public scope (any scope but
    /// unspecified with [`Config::allow_private_addrs`]); never relayed
    /// ones; at most what fits in one message.
    pub fn offered_addrs(&self) -> Vec<Multiaddr> {
        self.shared.our_addrs()
    }

    /// Offers also the addresses `source` gives, after the confirmed ones:
    /// where other peers observe this node, unconfirmed. Behind a NAT no
    /// address is confirmed (nobody can dial in unasked), yet the NAT's
    /// address with our listen port is exactly what the other side must
    /// dial for the hole punch; go-libp2p offers its observed addresses
    /// likewise. `AutoNAT`'s client knows them
    /// (`strata_autonat::Client::candidates`, observed by enough peers and
    /// translated to our listen ports): `dcutr.observed_addrs_from(move ||
    /// autonat.candidates())`. The same filters apply (never relayed; public
    /// scope unless [`Config::allow_private_addrs`]).
    pub fn observed_addrs_from(&self, source: impl Fn() -> Vec<Multiaddr> + Send + Sync + 'static) {
        self.shared.lock().observed = Some(Arc::new(source));
    }
}

impl std::fmt::Debug for Dcutr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dcutr").field("host", &self.shared.host).finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn our_addrs(&self) -> Vec<Multiaddr> {
        let allow_private = self.config.allow_private_addrs;
        let listen = self.host.listen_addrs().into_iter().filter(|addr| {
            let unspecified = addr.ip().is_some_and(|ip| ip.is_unspecified());
            !unspecified && (allow_private || addr.scope() == Scope::Public)
        });
        let source = self.lock().observed.clone();
        let observed = source.map(|source| source()).unwrap_or_default();
        let observed = observed.into_iter().filter(|addr| allow_private || addr.scope() == Scope::Public);
        let mut ours: Vec<Multiaddr> = Vec::new();
        for addr in self.host.external_addrs().into_iter().chain(observed).chain(listen) {
            if !is_relayed(&addr) && !ours.contains(&addr) {
                ours.push(addr);
            }
        }
        while HolePunch::connect(ours.clone()).encode().len() > MAX_MESSAGE_SIZE {
            ours.pop();
        }
        ours
    }

    /// Takes a slot for a hole punch, if one is free.
    fn begin(&self) -> bool {
        let mut state = self.lock();
        if state.active >= self.config.max_concurrent {
            return false;
        }
        state.active += 1;
        true
    }

    /// Whether `connection` of `peer` is still open.
    pub(crate) fn relayed_alive(&self, peer: PeerId, connection: ConnectionId) -> bool {
        self.lock().peers.get(&peer).is_some_and(|record| record.relayed.contains(&connection))
    }

    /// The address of a direct connection to `peer`, if there is one.
    pub(crate) fn direct(&self, peer: PeerId) -> Option<Multiaddr> {
        self.lock().peers.get(&peer).and_then(|record| record.direct.first().map(|(_, addr)| addr.clone()))
    }

    fn on_connection(self: &Arc<Self>, event: ConnectionEvent) {
        let limited = event.is_limited();
        match event {
            ConnectionEvent::Established { peer, connection, endpoint, remote_addr, .. } => {
                let start = {
                    let mut state = self.lock();
                    let free = state.active < self.config.max_concurrent;
                    let record = state.peers.entry(peer).or_default();
                    if limited {
                        record.relayed.push(connection);
                    } else {
                        record.direct.push((connection, remote_addr));
                    }
                    // The spec's B: the relayed connection is inbound.
                    let start = limited && endpoint == Endpoint::Listener && record.direct.is_empty();
                    let start = start && !record.initiating && free;
                    if start {
                        record.initiating = true;
                        state.active += 1;
                    }
                    start
                };
                if start && let Some(host) = self.host_handle() {
                    host.spawn(initiate(Arc::clone(self), peer, connection));
                }
            }
            ConnectionEvent::Closed { peer, connection, .. } => {
                let mut state = self.lock();
                if let Some(record) = state.peers.get_mut(&peer) {
                    record.relayed.retain(|id| *id != connection);
                    record.direct.retain(|(id, _)| *id != connection);
                    if record.relayed.is_empty() && record.direct.is_empty() && !record.initiating {
                        state.peers.remove(&peer);
                    }
                }
            }
            _ => {}
        }
        self.changes.send_modify(|version| *version = version.wrapping_add(1));
    }

    pub(crate) fn host_handle(&self) -> Option<&Host> {
        (!self.host.is_shut_down()).then_some(&*self.host)
    }

    /// Counts, reports and follows up an outcome; frees the slot.
    fn finish(self: &Arc<Self>, peer: PeerId, role: Role, relayed: ConnectionId, attempts: u32, result: Outcome) {
        {
            let mut state = self.lock();
            state.active = state.active.saturating_sub(1);
            state.stats.hole_punches += 1;
            state.stats.attempts += u64::from(attempts);
            match &result {
                Ok(_) => state.stats.successes += 1,
                Err(failure) => *state.stats.failures.entry(failure.reason).or_default() += 1,
            }
            if role == Role::Initiator {
                let remove = state.peers.get_mut(&peer).is_some_and(|record| {
                    record.initiating = false;
                    record.relayed.is_empty() && record.direct.is_empty()
                });
                if remove {
                    state.peers.remove(&peer);
                }
            }
        }
        match &result {
            Ok(success) => {
                tracing::info!(%peer, ?role, addr = %success.addr, attempts = success.attempts, elapsed = ?success.elapsed, "hole punch succeeded");
            }
            Err(failure) => {
                tracing::info!(%peer, ?role, reason = failure.reason.as_str(), attempts = failure.attempts, "hole punch failed");
            }
        }
        if let (Ok(_), Some(grace), Some(host)) = (&result, self.config.close_relayed_after, self.host_handle()) {
            host.spawn(close_later(Arc::clone(self), peer, relayed, grace));
        }
        // An error means nobody listens: fine.
        let _ = self.events.send(Event::HolePunch { peer, role, result });
    }
}

/// Feeds the per-peer records from the host's reliable lifecycle.
async fn follow(shared: Arc<Shared>, mut lifecycle: Lifecycle) {
    while let Some(event) = lifecycle.next().await {
        shared.on_connection(event);
    }
}

/// How often [`initiate`] looks for an address of its own while it has
/// none ([`Config::local_addrs_wait`]).
const LOCAL_ADDRS_POLL: Duration = Duration::from_millis(100);

/// Our addresses to offer; when there is none yet (the observed address
/// that identify brings over a new connection to the relay may be on its
/// way), looked for again until [`Config::local_addrs_wait`] passes or the
/// relayed `connection` closes.
///
/// The connection counts as closed only once it was seen open: a
/// responder's inbound stream can come before [`follow`] has read the
/// connection's `Established` from the lifecycle. (Taking "not seen yet"
/// for "closed" made a responder with no address yet give up at once,
/// `no_local_addresses` after 0 ms, when identify's answer from the relay
/// was late too: rare, but it failed a CI run of the NAT lab.)
async fn addrs_to_offer(shared: &Shared, peer: PeerId, connection: ConnectionId) -> Vec<Multiaddr> {
    let mut ours = shared.our_addrs();
    let give_up = Instant::now() + shared.config.local_addrs_wait;
    let mut seen = false;
    if ours.is_empty() {
        tracing::debug!(%peer, "no address of our own to offer yet: waiting");
    }
    while ours.is_empty() && Instant::now() < give_up {
        let alive = shared.relayed_alive(peer, connection);
        if seen && !alive {
            break;
        }
        seen |= alive;
        tokio::time::sleep(LOCAL_ADDRS_POLL.min(give_up.saturating_duration_since(Instant::now()))).await;
        ours = shared.our_addrs();
    }
    ours
}

/// B: hole punches the relayed `connection` to `peer` (slot taken).
async fn initiate(shared: Arc<Shared>, peer: PeerId, connection: ConnectionId) {
    let ours = addrs_to_offer(&shared, peer, connection).await;
    let exchange = Exchange::initiator(ours, &shared.config, Instant::now());
    let (attempts, result) = crate::driver::drive(&shared, peer, connection, exchange, None).await;
    shared.finish(peer, Role::Initiator, connection, attempts, result);
}

/// A: answers an inbound `/libp2p/dcutr` stream.
async fn respond(shared: Arc<Shared>, stream: Stream) {
    let (peer, connection) = (stream.peer(), stream.connection());
    if !stream.is_limited() {
        // go-libp2p refuses the same way: a hole punch over a direct
        // connection makes no sense.
        tracing::debug!(%peer, "DCUtR stream over a direct connection: reset");
        return;
    }
    if !shared.begin() {
        tracing::debug!(%peer, "too many hole punches under way: reset");
        return;
    }
    let ours = addrs_to_offer(&shared, peer, connection).await;
    let exchange = Exchange::responder(ours, &shared.config, Instant::now());
    let (attempts, result) = crate::driver::drive(&shared, peer, connection, exchange, Some(stream)).await;
    shared.finish(peer, Role::Responder, connection, attempts, result);
}

/// Closes the relayed connection once the grace period has passed, if a
/// direct connection is still up then.
async fn close_later(shared: Arc<Shared>, peer: PeerId, relayed: ConnectionId, grace: Duration) {
    tokio::time::sleep(grace).await;
    if shared.direct(peer).is_none() || !shared.relayed_alive(peer, relayed) {
        return;
    }
    if shared.puncher.close(peer, relayed).await {
        shared.lock().stats.relayed_closed += 1;
    }
}
