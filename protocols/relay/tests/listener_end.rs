//! A relay listener that ends before the host has registered it (the relay
//! connection closing while `listen` returns) must not stay listed: both
//! halves of that race, each made deterministic. The listener's accept
//! fails with `NotConnected` once its reservation is lost, whether or not
//! the host knows it yet; and the host, told so by any listener, drops it
//! and its addresses (`ListenAddrExpired`) by itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::io;

use strata_core::{Keypair, Listener as _, Multiaddr, Transport};
use strata_host::{Event, Upgrader};
use strata_relay::{Client, ClientConfig, ClientEvent, Config, LossReason, Relay};
use strata_testkit::{address_of, eventually, host, within};

/// Whether `error`'s source chain holds an `io::Error` of kind `NotConnected`.
fn not_connected(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |layer| layer.source())
        .filter_map(|layer| layer.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::NotConnected)
}

#[tokio::test]
async fn a_listener_whose_reservation_is_lost_before_the_host_knows_it_ends() {
    let relay_host = host().await;
    let relay = Relay::attach(&relay_host, Config::default()).unwrap();
    // The circuit transport used by hand: its listener is never handed to
    // the host, as if the reservation were lost before `listen` returned.
    let node = host().await;
    let (client, transport) = Client::new(ClientConfig::default());
    client.attach(&node).unwrap();
    let mut events = client.events();
    let through: Multiaddr = format!("{}/p2p-circuit", address_of(&relay_host)).parse().unwrap();
    let mut listener = within(transport.listen(&through)).await.unwrap();
    assert_eq!(relay.reservation_count(), 1);

    relay_host.disconnect(node.peer_id()).await;
    loop {
        if let ClientEvent::ReservationLost { relay, reason } = within(events.recv()).await.unwrap() {
            assert_eq!((relay, reason), (relay_host.peer_id(), LossReason::Disconnected));
            break;
        }
    }
    let Err(error) = within(listener.accept()).await else { panic!("a circuit through a lost reservation") };
    assert!(not_connected(&error), "not a terminal error: {error}");
}

/// A transport whose one listener has ended already: its accept fails
/// with `kind` at once.
struct Ended {
    kind: io::ErrorKind,
    addrs: Vec<Multiaddr>,
}

struct EndedListener(io::ErrorKind, Vec<Multiaddr>);

impl Transport for Ended {
    type Stream = tokio::io::DuplexStream;
    type Listener = EndedListener;
    type Error = io::Error;

    fn can_dial(&self, _: &Multiaddr) -> bool {
        false
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        self.addrs.contains(addr)
    }

    async fn dial(&self, _: &Multiaddr) -> io::Result<Self::Stream> {
        Err(io::ErrorKind::Unsupported.into())
    }

    async fn listen(&self, _: &Multiaddr) -> io::Result<EndedListener> {
        Ok(EndedListener(self.kind, self.addrs.clone()))
    }
}

impl strata_core::Listener for EndedListener {
    type Stream = tokio::io::DuplexStream;
    type Error = io::Error;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        self.1.clone()
    }

    async fn accept(&mut self) -> io::Result<(Self::Stream, Multiaddr)> {
        tokio::task::yield_now().await;
        Err(io::Error::new(self.0, "the listener ended"))
    }
}

async fn host_with_ended_listener(kind: io::ErrorKind, addrs: &[Multiaddr]) -> strata_host::Host {
    let ended = Ended { kind, addrs: addrs.to_vec() };
    let upgrader = Upgrader::new(ended).security(strata_noise::Config::new).muxer(strata_yamux::Config::default());
    strata_host::Builder::new(&Keypair::generate_ed25519()).upgrader(upgrader).build().await.unwrap()
}

#[tokio::test]
async fn the_host_drops_a_listener_that_ended_by_itself_and_its_addresses() {
    let addrs: Vec<Multiaddr> =
        vec!["/ip4/198.18.0.50/tcp/4001".parse().unwrap(), "/ip4/198.18.0.50/udp/4001/quic-v1".parse().unwrap()];
    let node = host_with_ended_listener(io::ErrorKind::NotConnected, &addrs).await;
    let mut events = node.events();
    let listed = within(node.listen(addrs[0].clone())).await.unwrap();
    assert_eq!(listed, addrs);
    let mut expired = Vec::new();
    while expired.len() < addrs.len() {
        if let Event::ListenAddrExpired { addr } = within(events.recv()).await.unwrap() {
            expired.push(addr);
        }
    }
    assert_eq!(expired, addrs);
    assert!(node.listen_addrs().is_empty(), "{:?}", node.listen_addrs());
    assert!(!node.stop_listening(&addrs[0]), "no listener is left to stop");
}

#[tokio::test(start_paused = true)]
async fn any_other_accept_error_is_taken_as_transient() {
    let addrs: Vec<Multiaddr> = vec!["/ip4/198.18.0.51/tcp/4001".parse().unwrap()];
    let node = host_with_ended_listener(io::ErrorKind::ConnectionAborted, &addrs).await;
    within(node.listen(addrs[0].clone())).await.unwrap();
    // Several failed accepts (one each 50 ms, on the paused clock) later,
    // still listening.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(node.listen_addrs(), addrs);
    eventually("stopped by hand", async || node.stop_listening(&addrs[0])).await;
}
