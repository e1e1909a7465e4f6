//! The client source: `/p2p-circuit` addresses as a raw byte-stream
//! [`strata_core::Transport`], so that the host's upgrader secures and
//! multiplexes a relayed connection end to end like a TCP one (the relay
//! sees only Noise ciphertext).
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Connection Initiation" and "Stop
//! Protocol"; `libp2p-connections.md` for the upgrade above.
//!
//! ```text
//! dial …/p2p/R/p2p-circuit/p2p/A ─▶ host.dial(…/p2p/R) ─▶ hop stream ─▶ client::connect(A) ─▶ raw stream ─▶ Upgrader (Noise, muxer)
//! listen …/p2p/R/p2p-circuit     ─▶ host.dial(…/p2p/R) ─▶ hop stream ─▶ client::reserve ─▶ CircuitListener (renews)
//! stop stream from R ─▶ a listener for R? ─▶ client::accept_stop ─▶ its queue ─▶ accept() ─▶ Upgrader (Noise, muxer)
//! ```
//!
//! The transport is made before the host and needs the host to reach
//! relays: [`Client::new`] gives both halves, the transport goes to the
//! builder (in an [`strata_host::Upgrader`]) and [`Client::attach`] binds
//! the client to the built host and serves the stop protocol. The host
//! hands a circuit address to its source with the trailing `/p2p/<target>`
//! (see `Host::dial`), and marks relayed connections limited by their
//! `/p2p-circuit` remote address.
//!
//! A reservation lives on the connection it was made on (the relay drops
//! it when our last connection closes), so the client follows the host's
//! lifecycle: when the last connection to a relay we listen through
//! closes, that listener is stopped at once ([`Host::stop_listening`]: its
//! circuit addresses leave the host's listen addresses) and
//! [`ClientEvent::ReservationLost`] is told. A renewal the relay refuses,
//! or one that fails until the reservation expired, ends it the same way.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use strata_core::{Multiaddr, PeerId, multiaddr::Component};
use strata_host::{ConnectionEvent, Host, Lifecycle, Stream, WeakHost};
use tokio::sync::{broadcast, mpsc};

use crate::{
    ClientConfig, Error, HOP_PROTOCOL, Result, STOP_PROTOCOL, Status, StopMessage, client, codec,
    listener::{CircuitListener, Incoming},
};

pub(crate) struct Shared {
    /// Set by `attach`, cleared when the host shuts down: the host holds
    /// the transport, so a handle kept past shutdown would be a cycle.
    host: Mutex<Option<WeakHost>>,
    pub(crate) listeners: Mutex<HashMap<PeerId, Registration>>,
    pub(crate) events: broadcast::Sender<ClientEvent>,
    pub(crate) config: ClientConfig,
    next_registration: std::sync::atomic::AtomicU64,
}

/// A listener through one relay, as the client's table keeps it.
pub(crate) struct Registration {
    /// Tells one listener through this relay from a later one.
    pub(crate) id: u64,
    /// Where the stop handler hands its circuits.
    pub(crate) sender: mpsc::Sender<Incoming>,
    /// The listener's addresses (what the host lists).
    pub(crate) addrs: Vec<Multiaddr>,
}

impl Shared {
    fn host_slot(&self) -> MutexGuard<'_, Option<WeakHost>> {
        self.host.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn host(&self) -> Result<WeakHost> {
        self.host_slot().clone().ok_or(Error::NotAttached)
    }

    /// Tells subscribers; none listening is fine (the stream is lossy).
    pub(crate) fn emit(&self, event: ClientEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) fn listeners(&self) -> MutexGuard<'_, HashMap<PeerId, Registration>> {
        self.listeners.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh registration id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_registration.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The reservation on `relay` is gone: unless a later listener took its
    /// place (`id` tells), forget it, stop its listener on the host (its
    /// addresses go at once) and tell subscribers.
    pub(crate) fn lost(&self, relay: PeerId, id: Option<u64>, reason: LossReason) {
        let registration = {
            let mut listeners = self.listeners();
            match listeners.get(&relay) {
                Some(registration) if id.is_none_or(|id| id == registration.id) => listeners.remove(&relay),
                _ => None,
            }
        };
        let Some(registration) = registration else { return };
        tracing::info!(%relay, ?reason, "reservation lost");
        // Told before the addresses go, so that whoever sees them gone
        // (auto-relay) finds the reason waiting.
        self.emit(ClientEvent::ReservationLost { relay, reason });
        if let (Ok(host), Some(addr)) = (self.host(), registration.addrs.first()) {
            host.stop_listening(addr);
        }
    }

    /// Runs `exchange` under the handshake timeout.
    pub(crate) async fn timed<T>(&self, exchange: impl Future<Output = Result<T>>) -> Result<T> {
        let timeout = self.config.handshake_timeout;
        tokio::time::timeout(timeout, exchange).await.map_err(|_| Error::Timeout(timeout))?
    }
}

/// The relay client's handle: bind it to the host with [`Client::attach`].
/// Cheap to clone: every clone is the same client.
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

/// The client's [`strata_core::Transport`]: dials and listens on
/// `/p2p-circuit` addresses. Give it to the host builder in an
/// [`strata_host::Upgrader`] with security and muxers.
pub struct CircuitTransport {
    shared: Arc<Shared>,
}

/// What the relay client reports (a lossy broadcast, for applications).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A relay granted (or renewed) our reservation.
    Reserved {
        /// The relay.
        relay: PeerId,
        /// When the reservation expires, UTC UNIX seconds.
        expire: u64,
        /// Whether it renewed an earlier one.
        renewal: bool,
    },
    /// Renewing a reservation failed; it is tried again.
    RenewalFailed {
        /// The relay.
        relay: PeerId,
        /// Why.
        error: Arc<Error>,
    },
    /// A reservation ended without our asking: its listener is stopped
    /// (right after this is sent), which takes its circuit addresses
    /// from the host.
    ReservationLost {
        /// The relay.
        relay: PeerId,
        /// Why.
        reason: LossReason,
    },
}

/// Why a reservation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LossReason {
    /// The last connection to the relay closed (the relay forgets a
    /// reservation with its connection).
    Disconnected,
    /// The relay refused to renew it.
    Refused(Status),
    /// Renewals failed until it expired.
    Expired,
    /// Its listener was stopped ([`Host::stop_listening`]), by the
    /// application or for a reason not seen.
    ListenerClosed,
    /// We let it go: the node is reachable directly, or auto-relay was
    /// disabled (see [`crate::AutoRelay`]).
    Released,
}

/// Clears the client's host handle when dropped (at the host's shutdown).
struct Detach(Arc<Shared>);

impl Drop for Detach {
    fn drop(&mut self) {
        *self.0.host_slot() = None;
    }
}

impl Client {
    /// A client and its transport, not yet bound to a host.
    pub fn new(config: ClientConfig) -> (Self, CircuitTransport) {
        let events = broadcast::channel(config.event_capacity).0;
        let shared = Arc::new(Shared {
            host: Mutex::default(),
            listeners: Mutex::default(),
            events,
            config,
            next_registration: std::sync::atomic::AtomicU64::new(0),
        });
        (Self { shared: Arc::clone(&shared) }, CircuitTransport { shared })
    }

    /// Binds the client to `host` (the one built with its transport) and
    /// serves the stop protocol there, until the host shuts down. Fails if
    /// attached before.
    pub fn attach(&self, host: &Host) -> Result<()> {
        {
            let mut slot = self.shared.host_slot();
            if slot.is_some() {
                return Err(Error::AlreadyAttached);
            }
            *slot = Some(host.downgrade());
        }
        let shared = Arc::clone(&self.shared);
        host.handle(STOP_PROTOCOL, move |stream| on_stop(Arc::clone(&shared), stream))?;
        let detach = Detach(Arc::clone(&self.shared));
        let (shared, lifecycle) = (Arc::clone(&self.shared), host.lifecycle());
        host.spawn(async move {
            let _detach = detach; // dropped when the host's shutdown cancels this task
            follow_relays(&shared, lifecycle).await;
            std::future::pending::<()>().await;
        });
        Ok(())
    }

    /// Whether the client is bound to a running host.
    pub fn is_attached(&self) -> bool {
        self.shared.host_slot().is_some()
    }

    /// Reservation events. Lossy: a slow subscriber misses events.
    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.shared.events.subscribe()
    }
}

/// Ends the reservation on a relay as soon as our last connection to it
/// closes (until the host shuts down).
async fn follow_relays(shared: &Shared, mut lifecycle: Lifecycle) {
    while let Some(event) = lifecycle.next().await {
        if let ConnectionEvent::Closed { peer, last: true, .. } = event {
            // Does not wait on the host: the lifecycle is not held up.
            shared.lost(peer, None, LossReason::Disconnected);
        }
    }
}

/// `(…/p2p/R, R, A)` for `…/p2p/R/p2p-circuit/p2p/A`.
pub(crate) fn dial_target(addr: &Multiaddr) -> Option<(Multiaddr, PeerId, PeerId)> {
    let components: Vec<Component<'_>> = addr.iter().collect();
    let [relay_part @ .., Component::P2pCircuit, Component::P2p(target)] = components.as_slice() else {
        return None;
    };
    let relay_addr = relay_part.iter().cloned().fold(Multiaddr::empty(), Multiaddr::with);
    if strata_host::is_relayed(&relay_addr) {
        return None; // through two relays: not served
    }
    Some((relay_addr.clone(), relay_addr.peer_id()?, *target))
}

/// `(…/p2p/R, R)` for `…/p2p/R/p2p-circuit`.
pub(crate) fn listen_target(addr: &Multiaddr) -> Option<(Multiaddr, PeerId)> {
    let components: Vec<Component<'_>> = addr.iter().collect();
    let [relay_part @ .., Component::P2pCircuit] = components.as_slice() else {
        return None;
    };
    let relay_addr = relay_part.iter().cloned().fold(Multiaddr::empty(), Multiaddr::with);
    let relay = relay_addr.peer_id()?;
    (!strata_host::is_relayed(&relay_addr)).then_some((relay_addr, relay))
}

impl strata_core::Transport for CircuitTransport {
    type Stream = Stream;
    type Listener = CircuitListener;
    type Error = Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        dial_target(addr).is_some()
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        listen_target(addr).is_some()
    }

    async fn dial(&self, addr: &Multiaddr) -> Result<Stream> {
        let (relay_addr, relay, target) = dial_target(addr).ok_or_else(|| Error::InvalidAddress(addr.clone()))?;
        let host = self.shared.host()?;
        self.shared
            .timed(async {
                host.dial(relay_addr).await?;
                let mut hop = host.open_stream(relay, &[HOP_PROTOCOL]).await?;
                client::connect(&mut hop, target).await?;
                Ok(hop)
            })
            .await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<CircuitListener> {
        let (relay_addr, relay) = listen_target(addr).ok_or_else(|| Error::InvalidAddress(addr.clone()))?;
        CircuitListener::start(Arc::clone(&self.shared), relay_addr, relay).await
    }
}

/// A stop stream from a relay: handed to the listener through that relay,
/// or refused.
async fn on_stop(shared: Arc<Shared>, mut stream: Stream) -> std::io::Result<()> {
    let relay = stream.peer();
    let sender = shared.listeners().get(&relay).map(|registration| registration.sender.clone());
    let Some(permit) = sender.as_ref().and_then(|sender| sender.try_reserve().ok()) else {
        // No listener through this relay, or its queue is full.
        let refusal = if sender.is_some() { Status::ResourceLimitExceeded } else { Status::ConnectionFailed };
        tracing::debug!(%relay, ?refusal, "circuit refused");
        let refuse = async {
            codec::read_stop(&mut stream).await?;
            codec::write_stop(&mut stream, &StopMessage::Status(refusal)).await
        };
        return shared.timed(refuse).await.map_err(std::io::Error::other);
    };
    let (initiator, limit) = shared.timed(client::accept_stop(&mut stream)).await.map_err(std::io::Error::other)?;
    tracing::debug!(%relay, %initiator, ?limit, "circuit accepted");
    permit.send(Incoming { stream, initiator });
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn circuit_addresses_are_parsed() {
        let (relay, target) = (PeerId::random(), PeerId::random());
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{relay}/p2p-circuit/p2p/{target}").parse().unwrap();
        let relay_addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{relay}").parse().unwrap();
        assert_eq!(dial_target(&addr), Some((relay_addr.clone(), relay, target)));
        assert_eq!(listen_target(&addr), None);
        let listen: Multiaddr = format!("{relay_addr}/p2p-circuit").parse().unwrap();
        assert_eq!(listen_target(&listen), Some((relay_addr, relay)));
        assert_eq!(dial_target(&listen), None);
        // Without the relay's id, or through two relays: not served.
        let bare: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p-circuit/p2p/{target}").parse().unwrap();
        assert_eq!(dial_target(&bare), None);
        let twice: Multiaddr = format!("/p2p/{relay}/p2p-circuit/p2p/{target}/p2p-circuit").parse().unwrap();
        assert_eq!(listen_target(&twice), None);
        let twice: Multiaddr =
            format!("/p2p/{relay}/p2p-circuit/p2p/{relay}/p2p-circuit/p2p/{target}").parse().unwrap();
        assert_eq!(dial_target(&twice), None);
        let plain: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        assert_eq!((dial_target(&plain), listen_target(&plain)), (None, None));
    }
}
