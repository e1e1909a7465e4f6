//! `CircuitListener`: listening through one relay. It holds a reservation
//! there, renews it, and yields the circuits the relay brings.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Reservation" ("it's the
//! responsibility of the client to refresh") and "Stop Protocol".
//!
//! ```text
//! start: client::reserve on R ─▶ register a queue for R ─▶ renewal task
//! renewal task: sleep renewal_delay(expire, now) ─▶ client::reserve ─▶ new expire
//!               a failure: try again, same rule; refused, or failed past expiry: lost
//! stop handler (transport.rs) ─▶ queue ─▶ accept() ─▶ (stream, …/p2p/R/p2p-circuit/p2p/<initiator>)
//! drop: unregister the queue, stop the renewal task
//! ```
//!
//! A lost reservation (the last connection to the relay closed, seen on the
//! host's lifecycle in `transport.rs`; a renewal refused; renewals failing
//! until expiry) stops the listener on the host at once, so that its
//! circuit addresses are not advertised a moment longer. Should it be lost
//! before the host has registered the listener (the connection closing
//! while `listen` returns), `accept` fails with `NotConnected` once the
//! queue's sender is gone, and the host then drops the listener and its
//! addresses by itself.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use strata_core::{Multiaddr, PeerId, multiaddr::Component};
use strata_host::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::{
    ClientEvent, Error, HOP_PROTOCOL, LossReason, Reservation, Result, client,
    transport::{Registration, Shared},
};

/// A circuit the stop handler accepted, waiting for the host.
pub(crate) struct Incoming {
    pub(crate) stream: Stream,
    pub(crate) initiator: PeerId,
}

/// A listener through one relay (from [`crate::CircuitTransport`]).
pub struct CircuitListener {
    shared: Arc<Shared>,
    relay: PeerId,
    /// This listener's entry in the client's table.
    id: u64,
    relay_addr: Multiaddr,
    addrs: Vec<Multiaddr>,
    incoming: mpsc::Receiver<Incoming>,
    _renewal: oneshot::Sender<()>,
}

/// How long to wait before renewing a reservation that expires at
/// `expire` (UNIX seconds), at `now`: three quarters of the time left, at
/// least `floor`.
pub fn renewal_delay(expire: u64, now: SystemTime, floor: Duration) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let left = Duration::from_secs(expire).saturating_sub(now);
    (left * 3 / 4).max(floor)
}

/// Reserves on `relay` (dialing `relay_addr` if not connected).
async fn reserve_on(shared: &Shared, relay_addr: &Multiaddr, relay: PeerId) -> Result<Reservation> {
    let host = shared.host()?;
    shared
        .timed(async {
            host.dial(relay_addr.clone()).await?;
            let mut hop = host.open_stream(relay, &[HOP_PROTOCOL]).await?;
            Ok(client::reserve(&mut hop).await?.0)
        })
        .await
}

/// The most circuit addresses one reservation gives this host.
pub(crate) const MAX_RESERVATION_ADDRS: usize = 8;

/// Our circuit addresses through `relay` from the addresses its
/// reservation lists. Any peer claiming to be a relay can reserve-answer,
/// and these become listen addresses we advertise, so they are not taken
/// as given: each must name the relay (`/p2p/<relay>`, appended when
/// absent; one naming another peer is dropped) and start with an IP or a
/// DNS name; relayed ones are dropped (a circuit through a circuit is not
/// served); duplicates go; at most [`MAX_RESERVATION_ADDRS`] are kept, in
/// the relay's order.
pub(crate) fn circuit_addrs(relay: PeerId, given: &[Multiaddr]) -> Vec<Multiaddr> {
    let mut addrs: Vec<Multiaddr> = Vec::new();
    let reachable = |addr: &Multiaddr| {
        matches!(
            addr.iter().next(),
            Some(
                Component::Ip4(_)
                    | Component::Ip6(_)
                    | Component::Dns(_)
                    | Component::Dns4(_)
                    | Component::Dns6(_)
                    | Component::Dnsaddr(_)
            )
        )
    };
    let named = given.iter().filter(|addr| reachable(addr) && !strata_host::is_relayed(addr));
    for addr in named.filter_map(|addr| addr.clone().with_p2p(relay).ok()) {
        let circuit = addr.with(Component::P2pCircuit);
        if !addrs.contains(&circuit) {
            addrs.push(circuit);
        }
        if addrs.len() == MAX_RESERVATION_ADDRS {
            break;
        }
    }
    addrs
}

impl CircuitListener {
    pub(crate) async fn start(shared: Arc<Shared>, relay_addr: Multiaddr, relay: PeerId) -> Result<Self> {
        if shared.listeners().contains_key(&relay) {
            return Err(Error::AlreadyListening(relay));
        }
        let reservation = reserve_on(&shared, &relay_addr, relay).await?;
        let (sender, incoming) = mpsc::channel(shared.config.max_pending_circuits);
        let mut addrs = circuit_addrs(relay, &reservation.addrs);
        if addrs.is_empty() {
            addrs.push(relay_addr.clone().with(Component::P2pCircuit));
        }
        let id = shared.next_id();
        {
            let mut listeners = shared.listeners();
            if listeners.contains_key(&relay) {
                return Err(Error::AlreadyListening(relay));
            }
            listeners.insert(relay, Registration { id, sender, addrs: addrs.clone() });
        }
        let (renewal, stop) = oneshot::channel();
        // Dropped on an early return: that unregisters it.
        let listener = Self { shared, relay, id, relay_addr, addrs, incoming, _renewal: renewal };
        let host = listener.shared.host()?;
        if !host.is_connected(relay) {
            // The connection closed between the grant and the registration
            // (the lifecycle found nothing to end): the reservation is gone.
            return Err(Error::Host(strata_host::Error::NotConnected(relay)));
        }
        listener.shared.emit(ClientEvent::Reserved { relay, expire: reservation.expire, renewal: false });
        let renewing =
            Renewal { shared: Arc::clone(&listener.shared), relay_addr: listener.relay_addr.clone(), relay, id };
        host.spawn(renewing.run(reservation.expire, stop));
        Ok(listener)
    }
}

/// What renews one listener's reservation.
struct Renewal {
    shared: Arc<Shared>,
    relay_addr: Multiaddr,
    relay: PeerId,
    id: u64,
}

impl Renewal {
    /// Renews the reservation until `stop` is dropped, or until it is lost
    /// (refused, or failing past its expiry).
    async fn run(self, mut expire: u64, mut stop: oneshot::Receiver<()>) {
        let Self { shared, relay_addr, relay, id } = self;
        loop {
            let delay = renewal_delay(expire, SystemTime::now(), shared.config.min_renewal_delay);
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep(delay) => {}
            }
            match reserve_on(&shared, &relay_addr, relay).await {
                Ok(reservation) => {
                    if shared.listeners().get(&relay).is_none_or(|registration| registration.id != id) {
                        return; // lost while renewing: the listener is gone
                    }
                    expire = reservation.expire;
                    shared.emit(ClientEvent::Reserved { relay, expire, renewal: true });
                }
                Err(Error::Refused(status)) => {
                    tracing::warn!(%relay, ?status, "the relay refused to renew the reservation");
                    return shared.lost(relay, Some(id), LossReason::Refused(status));
                }
                Err(error) => {
                    tracing::warn!(%relay, %error, "renewing the reservation failed");
                    shared.emit(ClientEvent::RenewalFailed { relay, error: Arc::new(error) });
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                    if now >= Duration::from_secs(expire) {
                        return shared.lost(relay, Some(id), LossReason::Expired);
                    }
                }
            }
        }
    }
}

impl Drop for CircuitListener {
    fn drop(&mut self) {
        let mut listeners = self.shared.listeners();
        if listeners.get(&self.relay).is_some_and(|registration| registration.id == self.id) {
            listeners.remove(&self.relay);
        }
    }
}

impl strata_core::Listener for CircuitListener {
    type Stream = Stream;
    type Error = Error;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        self.addrs.clone()
    }

    async fn accept(&mut self) -> Result<(Stream, Multiaddr)> {
        // The sender lives in the client's table until the reservation is
        // lost: then this listener is finished, which the host knows by
        // `NotConnected` (it stops the listener and forgets its addresses,
        // should it have registered it after the loss).
        let Some(Incoming { stream, initiator }) = self.incoming.recv().await else {
            let ended = std::io::Error::new(std::io::ErrorKind::NotConnected, "the reservation on the relay ended");
            return Err(Error::Frame(strata_core::Error::Io(ended)));
        };
        let remote = self.relay_addr.clone().with(Component::P2pCircuit).with(Component::P2p(initiator));
        Ok((stream, remote))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn reservation_addresses_must_name_the_relay_and_be_reachable() {
        let (relay, other) = (PeerId::random(), PeerId::random());
        let addr = |text: String| text.parse::<Multiaddr>().unwrap();
        let given = [
            addr("/ip4/198.18.0.1/tcp/1".into()),
            addr(format!("/ip4/198.18.0.1/tcp/1/p2p/{relay}")), // the same, named
            addr(format!("/ip4/198.18.0.2/tcp/1/p2p/{other}")), // another peer's
            addr(format!("/ip4/198.18.0.3/tcp/1/p2p/{other}/p2p-circuit/p2p/{relay}")), // relayed
            addr("/memory/7".into()),                           // no IP, no name
            addr(format!("/p2p/{relay}")),                      // nothing to dial
            addr("/dns4/relay.example/tcp/443/wss".into()),
        ];
        let circuit = |text: &str| addr(format!("{text}/p2p/{relay}/p2p-circuit"));
        assert_eq!(
            circuit_addrs(relay, &given),
            [circuit("/ip4/198.18.0.1/tcp/1"), circuit("/dns4/relay.example/tcp/443/wss")]
        );
        let many: Vec<Multiaddr> = (0..20).map(|port| addr(format!("/ip4/198.18.0.1/tcp/{port}"))).collect();
        let kept = circuit_addrs(relay, &many);
        assert_eq!(kept.len(), MAX_RESERVATION_ADDRS);
        assert_eq!(kept[0], circuit("/ip4/198.18.0.1/tcp/0"));
    }

    #[test]
    fn renewal_comes_at_three_quarters_of_the_time_left_with_a_floor() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let floor = Duration::from_secs(5);
        assert_eq!(renewal_delay(1_000_000 + 3600, now, floor), Duration::from_mins(45));
        assert_eq!(renewal_delay(1_000_000 + 4, now, floor), floor);
        assert_eq!(renewal_delay(999_000, now, floor), floor); // expired already
    }
}
