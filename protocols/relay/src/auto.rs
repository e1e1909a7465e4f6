//! Auto-relay: a node nobody can dial keeps reservations on relays it
//! picks by itself, and advertises its circuit addresses; once reachable
//! directly, it lets them go.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Reservation" (a client with no
//! public address reserves on relays and advertises
//! `<relay addr>/p2p-circuit/p2p/<self>`). Which relays, how many, and when
//! is not in the spec: rust-libp2p leaves it to the application, go-libp2p
//! has an `autorelay` service; this one follows go-libp2p's shape.
//!
//! ```text
//! inputs                                   Selector (select.rs, sans-IO)          actions on the host
//! lifecycle (connected, direct?)  ───┐     candidates: reach, connected,           Reserve(R): dial_peer(R),
//! PeerProtocolsChanged (identify) ───┼──▶    backoff  ─────────────────────────▶    host.listen(R/p2p-circuit) ─┐
//! add_candidates (the DHT)        ───┤     slots: pending / active (≤ wanted)      Release(R): host.stop_listening
//! set_reachability (AutoNAT)      ───┘          ▲                                                             │
//! lost (client: disconnected,                   └── granted / failed / lost ◀──────────────────────────────────┘
//!   refused, expired; addresses gone)
//! ```
//!
//! **Reachability** comes from outside, so that relay and `AutoNAT` do not
//! depend on each other: the application forwards `AutoNAT`'s verdicts to
//! [`AutoRelay::set_reachability`] as they are (both crates use the host's
//! [`Reachability`]: `Private` when `AutoNAT` finds us unreachable,
//! `Public` when it confirms an address). `Private` keeps
//! [`AutoRelayConfig::with_reservations`] reservations (default 2) on
//! distinct relays; `Public` releases them all; `Unknown` (the start)
//! keeps what there is and makes none. [`AutoRelayConfig::with_always`]
//! keeps them whatever the verdict, for a node without `AutoNAT`.
//!
//! **Candidates** are connected peers whose identify record (the host's
//! peer store) names the hop protocol, and peers handed to
//! [`AutoRelay::add_candidates`] (Kademlia finds them; a candidate not
//! connected is dialed with `Host::dial_peer`). Relays with a public
//! address come first; a relay with only loopback or private addresses is
//! not used unless [`AutoRelayConfig::with_private_relays`].
//!
//! **Advertising**: a reservation is a listener of the host, so its circuit
//! addresses are in [`Host::listen_addrs`] while it lives, and identify
//! tells them to peers (`Host::advertised_addrs`). A reservation lost (the
//! relay's connection closed, a renewal refused) or released stops its
//! listener, which takes the addresses away at once
//! ([`Host::stop_listening`]); a lost one is replaced by the next
//! candidate at once, and the relay that dropped us backs off.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use strata_core::{Multiaddr, PeerId, multiaddr::Component};
use strata_host::{ConnectionEvent, Event, Host, Lifecycle, WeakHost, is_relayed};
use tokio::{
    sync::{Notify, broadcast, mpsc, oneshot},
    time::Instant,
};

use crate::{Client, ClientEvent, Error, HOP_PROTOCOL, LossReason, Result, transport::Shared as ClientShared};

mod config;
mod select;

pub use config::AutoRelayConfig;
use select::{Action, Selector};

/// Whether this node can be dialed directly, as `AutoNAT` finds: the
/// host's type, so that `AutoNAT`'s verdict is forwarded as is.
pub use strata_host::Reachability;

/// What auto-relay reports (a lossy broadcast, for applications).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AutoRelayEvent {
    /// A relay granted a reservation: the node is reachable at `addrs`
    /// (circuit addresses, now among the host's listen addresses).
    ReservationAdded {
        /// The relay.
        relay: PeerId,
        /// The circuit addresses (`…/p2p/<relay>/p2p-circuit`).
        addrs: Vec<Multiaddr>,
    },
    /// A reservation ended; its addresses are gone. Unless released on
    /// purpose, another relay is sought at once.
    ReservationLost {
        /// The relay.
        relay: PeerId,
        /// Why.
        reason: LossReason,
    },
}

/// What the handle tells the driver: the latest settings (state, never
/// lost) and the candidates handed in since it last looked.
#[derive(Default)]
struct Inputs {
    reachability: Reachability,
    enabled: Option<bool>,
    candidates: Vec<PeerId>,
}

/// What the handle and the driver share.
struct Shared {
    inputs: Mutex<Inputs>,
    wake: Notify,
    /// The granted reservations, as of the driver's last step.
    reservations: Mutex<Vec<(PeerId, Vec<Multiaddr>)>>,
    events: broadcast::Sender<AutoRelayEvent>,
    max_candidates: usize,
}

impl Shared {
    fn inputs(&self) -> MutexGuard<'_, Inputs> {
        self.inputs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reservations(&self) -> MutexGuard<'_, Vec<(PeerId, Vec<Multiaddr>)>> {
        self.reservations.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Auto-relay on a host (see the module docs). Dropping it stops the
/// driver; reservations then stay as they are, unmanaged.
pub struct AutoRelay {
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

impl AutoRelay {
    /// Starts auto-relay on `host`, reserving through `client` (attached to
    /// the same host), until the host shuts down or the handle is dropped.
    /// Reachability starts `Unknown`. Fails with [`Error::NotAttached`]
    /// unless `client` is attached to `host`.
    pub fn attach(host: &Host, client: &Client, config: AutoRelayConfig) -> Result<Self> {
        let client: &ClientShared = &client.shared;
        if client.host()?.peer_id() != host.peer_id() {
            return Err(Error::NotAttached);
        }
        let shared = Arc::new(Shared {
            inputs: Mutex::default(),
            wake: Notify::new(),
            reservations: Mutex::default(),
            events: broadcast::channel(config.event_capacity).0,
            max_candidates: config.max_candidates,
        });
        let (results, results_rx) = mpsc::channel(config.wanted.max(1));
        let driver = Driver {
            host: host.downgrade(),
            local: host.peer_id(),
            client_events: client.events.subscribe(),
            host_events: host.events(),
            shared: Arc::clone(&shared),
            attempt_timeout: config.attempt_timeout,
            selector: Selector::new(config),
            direct: HashMap::new(),
            reasons: HashMap::new(),
            results,
        };
        let (stop_tx, stop) = oneshot::channel();
        host.spawn(driver.run(host.lifecycle(), results_rx, stop));
        Ok(Self { shared, _stop: stop_tx })
    }

    /// The latest reachability verdict: forward `AutoNAT`'s here.
    pub fn set_reachability(&self, reachability: Reachability) {
        self.shared.inputs().reachability = reachability;
        self.shared.wake.notify_one();
    }

    /// Turns auto-relay on or off; off releases every reservation.
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.inputs().enabled = Some(enabled);
        self.shared.wake.notify_one();
    }

    /// Peers that may serve as relays (found on the DHT, or configured).
    /// Those not connected are dialed when their turn comes; one that does
    /// not serve the hop protocol fails and backs off. At most the
    /// candidate cap is queued between two steps of the driver.
    pub fn add_candidates(&self, peers: impl IntoIterator<Item = PeerId>) {
        let max = self.shared.max_candidates;
        {
            let mut inputs = self.shared.inputs();
            for peer in peers {
                if inputs.candidates.len() >= max {
                    break;
                }
                inputs.candidates.push(peer);
            }
        }
        self.shared.wake.notify_one();
    }

    /// The relays holding a reservation now, and the circuit addresses of
    /// each.
    pub fn reservations(&self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.shared.reservations().clone()
    }

    /// Reservation events. Lossy: a slow subscriber misses events.
    pub fn events(&self) -> broadcast::Receiver<AutoRelayEvent> {
        self.shared.events.subscribe()
    }
}

/// The thin driver: feeds the selector, performs its actions.
struct Driver {
    host: WeakHost,
    local: PeerId,
    client_events: broadcast::Receiver<ClientEvent>,
    host_events: broadcast::Receiver<Event>,
    shared: Arc<Shared>,
    attempt_timeout: Duration,
    selector: Selector,
    /// Peers with a direct connection: how many, and the address of one.
    direct: HashMap<PeerId, (usize, Multiaddr)>,
    /// Why the client said a reservation ended, until the driver sees it go.
    reasons: HashMap<PeerId, LossReason>,
    results: mpsc::Sender<(PeerId, Result<Vec<Multiaddr>>)>,
}

impl Driver {
    async fn run(
        mut self,
        mut lifecycle: Lifecycle,
        mut results: mpsc::Receiver<(PeerId, Result<Vec<Multiaddr>>)>,
        mut stop: oneshot::Receiver<()>,
    ) {
        loop {
            let deadline = self.selector.next_deadline().map(Instant::from_std);
            tokio::select! {
                _ = &mut stop => return,
                event = lifecycle.next() => match event {
                    Some(event) => self.on_connection(event),
                    None => return, // shut down
                },
                event = self.host_events.recv() => match event {
                    Ok(Event::PeerProtocolsChanged { peer }) => self.consider(peer),
                    Ok(_) => {} // a listen address went: the reconcile below looks
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        for peer in self.host.connected_peers() {
                            self.consider(peer);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                event = self.client_events.recv() => self.on_client_event(event),
                () = self.shared.wake.notified() => self.take_inputs(),
                Some((relay, outcome)) = results.recv() => self.on_outcome(relay, outcome),
                () = sleep_until(deadline) => {}
            }
            self.step();
        }
    }

    /// Keeps the reason of a reservation the client lost, until the
    /// driver sees its addresses go.
    fn on_client_event(&mut self, event: Result<ClientEvent, broadcast::error::RecvError>) {
        if let Ok(ClientEvent::ReservationLost { relay, reason }) = event
            && self.selector.active().any(|(active, _)| active == relay)
        {
            self.reasons.insert(relay, reason);
        }
    }

    fn on_connection(&mut self, event: ConnectionEvent) {
        match event {
            ConnectionEvent::Established { peer, remote_addr, .. } if !is_relayed(&remote_addr) => {
                self.direct.entry(peer).or_insert((0, remote_addr)).0 += 1;
                self.selector.set_connected(peer, true);
                self.consider(peer);
            }
            ConnectionEvent::Closed { peer, remote_addr, .. } if !is_relayed(&remote_addr) => {
                if let Some((count, _)) = self.direct.get_mut(&peer) {
                    *count -= 1;
                    if *count == 0 {
                        self.direct.remove(&peer);
                        self.selector.set_connected(peer, false);
                    }
                }
            }
            _ => {}
        }
    }

    /// Looks at what identify told of `peer`: a relay is a candidate, a
    /// peer that turned out not to be one is dropped.
    fn consider(&mut self, peer: PeerId) {
        if peer == self.local {
            return;
        }
        let Some(info) = self.host.peer_info(peer) else { return };
        if info.protocols.iter().any(|protocol| protocol == HOP_PROTOCOL) {
            let mut addrs = info.addrs;
            addrs.extend(self.direct.get(&peer).map(|(_, addr)| addr.clone()));
            addrs.retain(|addr| !is_relayed(addr));
            self.selector.add_candidate(peer, &addrs, self.direct.contains_key(&peer));
        } else if !info.protocols.is_empty() && self.selector.is_candidate(peer) {
            tracing::debug!(%peer, "not a relay after all");
            self.selector.remove_candidate(peer);
        }
    }

    fn take_inputs(&mut self) {
        let (reachability, enabled, candidates) = {
            let mut inputs = self.shared.inputs();
            (inputs.reachability, inputs.enabled.take(), std::mem::take(&mut inputs.candidates))
        };
        self.selector.set_reachability(reachability);
        if let Some(enabled) = enabled {
            self.selector.set_enabled(enabled);
        }
        for peer in candidates.into_iter().filter(|peer| *peer != self.local) {
            let mut addrs = self.host.peer_info(peer).map(|info| info.addrs).unwrap_or_default();
            addrs.retain(|addr| !is_relayed(addr));
            self.selector.add_candidate(peer, &addrs, self.direct.contains_key(&peer));
        }
    }

    fn on_outcome(&mut self, relay: PeerId, outcome: Result<Vec<Multiaddr>>) {
        match outcome {
            Ok(addrs) => {
                tracing::info!(%relay, ?addrs, "auto-relay: reservation added");
                self.selector.reserved(relay, addrs.clone());
                let _ = self.shared.events.send(AutoRelayEvent::ReservationAdded { relay, addrs });
            }
            Err(error) => {
                tracing::debug!(%relay, %error, "auto-relay: reserving failed; the relay backs off");
                self.selector.failed(relay, Instant::now().into_std());
            }
        }
    }

    /// Notices lost reservations, performs what the selector decides, and
    /// publishes the reservations.
    fn step(&mut self) {
        let now = Instant::now().into_std();
        // The client tells a loss before the addresses go: every reason
        // for what is seen gone below is in this queue (unless it lagged).
        loop {
            match self.client_events.try_recv() {
                Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed) => break,
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Ok(event) => self.on_client_event(Ok(event)),
            }
        }
        let listening = self.host.listen_addrs();
        let gone: Vec<PeerId> = self
            .selector
            .active()
            .filter(|(_, addrs)| !addrs.iter().any(|addr| listening.contains(addr)))
            .map(|(relay, _)| relay)
            .collect();
        for relay in gone {
            if self.selector.lost(relay, now).is_some() {
                let reason = self.reasons.remove(&relay).unwrap_or(LossReason::ListenerClosed);
                tracing::info!(%relay, ?reason, "auto-relay: reservation lost");
                let _ = self.shared.events.send(AutoRelayEvent::ReservationLost { relay, reason });
            }
        }
        let selector = &self.selector;
        self.reasons.retain(|relay, _| selector.active().any(|(active, _)| active == *relay));
        for action in self.selector.poll(now) {
            match action {
                Action::Reserve(relay) => self.reserve(relay),
                Action::Release(relay, addrs) => {
                    tracing::info!(%relay, "auto-relay: releasing the reservation");
                    if let Some(addr) = addrs.first() {
                        self.host.stop_listening(addr);
                    }
                    let reason = LossReason::Released;
                    let _ = self.shared.events.send(AutoRelayEvent::ReservationLost { relay, reason });
                }
            }
        }
        let reservations = self.selector.active().map(|(relay, addrs)| (relay, addrs.to_vec())).collect();
        *self.shared.reservations() = reservations;
    }

    /// Reserves on `relay` in a task of the host; the outcome comes back on
    /// `results`.
    fn reserve(&self, relay: PeerId) {
        let (host, results, timeout) = (self.host.clone(), self.results.clone(), self.attempt_timeout);
        let hint = self.direct.get(&relay).map(|(_, addr)| addr.clone());
        tracing::debug!(%relay, "auto-relay: reserving");
        self.host.spawn(async move {
            let attempt = async {
                host.dial_peer(relay).await?;
                let known = || host.peer_info(relay)?.addrs.into_iter().rev().find(|addr| !is_relayed(addr));
                let relay_addr = hint.or_else(known).unwrap_or_else(Multiaddr::empty);
                let relay_addr = relay_addr.with_p2p(relay).map_err(Error::InvalidAddress)?;
                Ok::<_, Error>(host.listen(relay_addr.with(Component::P2pCircuit)).await?)
            };
            let outcome = tokio::time::timeout(timeout, attempt).await.unwrap_or(Err(Error::Timeout(timeout)));
            let _ = results.send((relay, outcome)).await;
        });
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
