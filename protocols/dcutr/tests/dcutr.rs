//! `DCUtR` through the whole stack, over TCP on 127.0.0.1: relay R, A
//! reserves on R, B dials A through R, and `DCUtR` runs over that relayed
//! connection. Loopback has no NAT, so the "hole punch" is a plain
//! simultaneous dial: it still exercises the exchange, the roles (A, which
//! accepted the relayed connection, initiates), the upgrade to a direct
//! connection and the closing of the relayed one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use strata_core::{Endpoint, Keypair, Multiaddr, PeerId};
use strata_dcutr::{BoxFuture, Config, Dcutr, Event, HostPuncher, PROTOCOL, Puncher, Reason, Role};
use strata_host::{ConnectionId, Host, Upgrader, is_relayed};
use strata_testkit::{address_of, builder, eventually, host, within};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{broadcast, mpsc},
};

/// A host on 127.0.0.1 with TCP and the relay client's transport.
async fn client_host() -> (Host, strata_relay::Client) {
    let (client, transport) = strata_relay::Client::new(strata_relay::ClientConfig::default());
    let circuits = Upgrader::new(transport).security(strata_noise::Config::new).muxer(strata_yamux::Config::default());
    let host = builder(&Keypair::generate_ed25519())
        .upgrader(circuits)
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    client.attach(&host).unwrap();
    (host, client)
}

struct Net {
    _relay_host: Host,
    _relay: strata_relay::Relay,
    a: Host,
    b: Host,
    _clients: (strata_relay::Client, strata_relay::Client),
}

/// R, A reserved on R, B not yet connected to A.
async fn net() -> Net {
    let relay_host = host().await;
    let relay = strata_relay::Relay::attach(&relay_host, strata_relay::Config::default()).unwrap();
    let ((a, a_client), (b, b_client)) = (client_host().await, client_host().await);
    let through_relay: Multiaddr = format!("{}/p2p-circuit", address_of(&relay_host)).parse().unwrap();
    within(a.listen(through_relay)).await.unwrap();
    Net { _relay_host: relay_host, _relay: relay, a, b, _clients: (a_client, b_client) }
}

/// B dials A through the relay; returns A's id.
async fn relay_connect(net: &Net) -> PeerId {
    let circuit = net.a.listen_addrs().into_iter().find(is_relayed).unwrap();
    let target = circuit.with_p2p(net.a.peer_id()).unwrap();
    within(net.b.dial(target)).await.unwrap()
}

/// The next hole punch outcome.
async fn next(events: &mut broadcast::Receiver<Event>) -> (PeerId, Role, strata_dcutr::Outcome) {
    match within(events.recv()).await.unwrap() {
        Event::HolePunch { peer, role, result } => (peer, role, result),
        other => panic!("unexpected event {other:?}"),
    }
}

/// Private addresses allowed (all is loopback here), and a short dial
/// timeout so that a failed attempt costs little.
fn lab() -> Config {
    Config::default().with_private_addrs(true).with_dial_timeout(Duration::from_secs(2))
}

/// The host's dials (recording the roles asked), and a channel of the
/// connections it is asked to close.
struct Recording {
    dials: HostPuncher,
    roles: Roles,
    closed: mpsc::UnboundedSender<(PeerId, ConnectionId)>,
}

/// The roles a [`Recording`] was asked to dial in.
type Roles = Arc<Mutex<Vec<Endpoint>>>;

/// The connections a [`Recording`] was asked to close.
type Closes = mpsc::UnboundedReceiver<(PeerId, ConnectionId)>;

impl Recording {
    fn new(host: &Host) -> (Self, Roles, Closes) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let roles = Roles::default();
        (Self { dials: HostPuncher::new(host), roles: Arc::clone(&roles), closed: sender }, roles, receiver)
    }
}

impl Puncher for Recording {
    fn dial(&self, addr: Multiaddr, role: Endpoint) -> BoxFuture<'_, strata_host::Result<PeerId>> {
        self.roles.lock().unwrap().push(role);
        self.dials.dial(addr, role)
    }

    fn close(&self, peer: PeerId, connection: ConnectionId) -> BoxFuture<'_, bool> {
        let _ = self.closed.send((peer, connection));
        Box::pin(async { true })
    }
}

#[tokio::test]
async fn a_relayed_connection_is_upgraded_to_a_direct_one() {
    let net = net().await;
    let grace = Duration::from_millis(200);
    let (a_puncher, a_roles, mut closed) = Recording::new(&net.a);
    let (b_puncher, b_roles, mut b_closed) = Recording::new(&net.b);
    let a_dcutr = Dcutr::attach_with(&net.a, lab().with_close_relayed_after(Some(grace)), a_puncher).unwrap();
    let b_dcutr = Dcutr::attach_with(&net.b, lab().with_close_relayed_after(None), b_puncher).unwrap();
    let (mut a_events, mut b_events) = (a_dcutr.events(), b_dcutr.events());
    let mut a_lifecycle = net.a.lifecycle();

    relay_connect(&net).await;
    let relayed = strata_testkit::established(&mut a_lifecycle, net.b.peer_id()).await;
    assert!(relayed.is_limited());

    // A accepted the relayed connection: A initiates, B responds.
    let (peer, role, result) = next(&mut a_events).await;
    assert_eq!((peer, role), (net.b.peer_id(), Role::Initiator));
    let success = result.unwrap();
    assert!(!is_relayed(&success.addr), "{}", success.addr);
    // Usually 1. On loopback A's dial (as the server) can land on B's
    // listening socket before B dials: then both sides take the server's
    // part, the upgrade stalls, and the next attempt does it.
    assert!((1..=3).contains(&success.attempts), "{success:?}");
    // B answered each attempt; the last one succeeded.
    let mut last = None;
    for _ in 0..success.attempts {
        let (peer, role, result) = next(&mut b_events).await;
        assert_eq!((peer, role), (net.a.peer_id(), Role::Responder));
        last = Some(result);
    }
    assert!(!is_relayed(&last.unwrap().unwrap().addr));

    // Roles on the direct connection: the responder B dials as the
    // client at once on SYNC; the initiator A (RTT/2 later) as the server,
    // unless B's connection arrived first and made its dial moot.
    let b_roles = b_roles.lock().unwrap().clone();
    assert!(!b_roles.is_empty() && b_roles.iter().all(|role| *role == Endpoint::Dialer), "{b_roles:?}");
    assert!(a_roles.lock().unwrap().iter().all(|role| *role == Endpoint::Listener));

    // A direct connection besides the relayed one.
    assert!(net.a.connection_count(net.b.peer_id()) >= 2);
    let stats = a_dcutr.stats();
    assert_eq!((stats.hole_punches, stats.successes, stats.attempts), (1, 1, u64::from(success.attempts)));
    assert!(stats.failures.is_empty());

    // After the grace period, A closes the relayed connection (and only it).
    let strata_host::ConnectionEvent::Established { connection, .. } = relayed else { unreachable!() };
    assert_eq!(within(closed.recv()).await, Some((net.b.peer_id(), connection)));
    eventually("the close is counted", async || a_dcutr.stats().relayed_closed == 1).await;
    // B keeps it (no grace period configured).
    assert!(b_closed.try_recv().is_err());
}

#[tokio::test]
async fn garbage_on_dcutr_fails_with_a_reason_and_leaves_the_relayed_connection() {
    let net = net().await;
    // B answers DCUtR with a frame that is no HolePunch, and serves an echo.
    net.b
        .handle(PROTOCOL, |mut stream| async move {
            stream.write_all(&[0x05, 0xff, 0xff, 0xff, 0xff, 0xff]).await?;
            stream.flush().await?;
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            Ok(())
        })
        .unwrap();
    net.b
        .handle("/strata/test/echo/1.0.0", |mut stream| async move {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            stream.write_all(&byte).await?;
            stream.shutdown().await
        })
        .unwrap();
    let a_dcutr = Dcutr::attach(&net.a, lab()).unwrap();
    let mut a_events = a_dcutr.events();

    relay_connect(&net).await;
    let (_, role, result) = next(&mut a_events).await;
    assert_eq!(role, Role::Initiator);
    let failure = result.unwrap_err();
    assert_eq!((failure.reason, failure.attempts), (Reason::Protocol, 1));
    assert_eq!(a_dcutr.stats().failures.get(&Reason::Protocol), Some(&1));

    // The relayed connection still carries streams, and is the only one.
    assert_eq!(net.a.connection_count(net.b.peer_id()), 1);
    let mut echo = within(net.a.open_stream(net.b.peer_id(), &["/strata/test/echo/1.0.0"])).await.unwrap();
    assert!(echo.is_limited());
    echo.write_all(b"x").await.unwrap();
    let mut byte = [0u8; 1];
    within(echo.read_exact(&mut byte)).await.unwrap();
    assert_eq!(&byte, b"x");
}

#[tokio::test]
async fn a_peer_that_does_not_serve_dcutr_refuses() {
    let net = net().await;
    let a_dcutr = Dcutr::attach(&net.a, lab()).unwrap();
    let mut a_events = a_dcutr.events();
    relay_connect(&net).await;
    let failure = next(&mut a_events).await.2.unwrap_err();
    assert_eq!(failure.reason, Reason::Refused);
    assert!(net.a.is_connected(net.b.peer_id()));
}

#[tokio::test]
async fn without_public_addresses_there_is_nothing_to_punch() {
    let net = net().await;
    // Loopback only, and private addresses not allowed: nothing to offer.
    let wait = Duration::from_millis(300);
    let a_dcutr = Dcutr::attach(&net.a, Config::default().with_local_addrs_wait(wait)).unwrap();
    let b_dcutr = Dcutr::attach(&net.b, Config::default()).unwrap();
    assert!(a_dcutr.offered_addrs().is_empty());
    let (mut a_events, mut b_events) = (a_dcutr.events(), b_dcutr.events());
    let began = std::time::Instant::now();
    relay_connect(&net).await;
    let failure = next(&mut a_events).await.2.unwrap_err();
    assert_eq!((failure.reason, failure.attempts), (Reason::NoLocalAddresses, 0));
    // After waiting that long for an address to appear, and no longer.
    let waited = began.elapsed();
    assert!(waited >= wait && waited < wait + Duration::from_secs(1), "{waited:?}");
    assert!(failure.elapsed < Duration::from_secs(1));
    // B never heard of it: no stream was opened.
    assert!(b_events.try_recv().is_err());
    assert_eq!(b_dcutr.stats().hole_punches, 0);
    assert_eq!(net.a.connection_count(net.b.peer_id()), 1);
}

#[tokio::test]
async fn offered_addresses_are_never_relayed_and_private_only_when_allowed() {
    let net = net().await;
    let lab_dcutr = Dcutr::attach(&net.a, lab()).unwrap();
    let offered = lab_dcutr.offered_addrs();
    assert!(!offered.is_empty());
    assert!(offered.iter().all(|addr| !is_relayed(addr)), "{offered:?}");
    // A confirmed external address is offered first, even without the lab switch.
    let external: Multiaddr = "/ip4/203.0.113.5/tcp/4001".parse().unwrap();
    net.b.add_external_addr(external.clone());
    let strict = Dcutr::attach(&net.b, Config::default()).unwrap();
    assert_eq!(strict.offered_addrs(), [external]);
}

/// Dials that always fail (a NAT that drops everything).
struct Unreachable;

impl Puncher for Unreachable {
    fn dial(&self, addr: Multiaddr, _role: Endpoint) -> BoxFuture<'_, strata_host::Result<PeerId>> {
        Box::pin(async move { Err(strata_host::Error::UnsupportedAddress(addr)) })
    }

    fn close(&self, _peer: PeerId, _connection: ConnectionId) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
}

#[tokio::test]
async fn failed_dials_are_retried_twice_then_reported() {
    let net = net().await;
    let config = lab().with_dial_timeout(Duration::from_millis(100));
    let a_dcutr = Dcutr::attach_with(&net.a, config.clone(), Unreachable).unwrap();
    let b_dcutr = Dcutr::attach_with(&net.b, config, Unreachable).unwrap();
    let (mut a_events, mut b_events) = (a_dcutr.events(), b_dcutr.events());
    relay_connect(&net).await;

    let failure = next(&mut a_events).await.2.unwrap_err();
    assert_eq!((failure.reason, failure.attempts), (Reason::DialsFailed, 3));
    // B answered three exchanges, each one attempt of its own.
    for _ in 0..3 {
        let (_, role, result) = next(&mut b_events).await;
        assert_eq!(role, Role::Responder);
        assert_eq!(result.unwrap_err().reason, Reason::DialsFailed);
    }
    let stats = a_dcutr.stats();
    assert_eq!((stats.hole_punches, stats.attempts, stats.successes), (1, 3, 0));
    assert_eq!(stats.failures.get(&Reason::DialsFailed), Some(&1));
    assert_eq!(b_dcutr.stats().hole_punches, 3);
    // Still connected through the relay.
    assert_eq!(net.a.connection_count(net.b.peer_id()), 1);
}

#[tokio::test]
async fn a_responder_waits_for_an_address_of_its_own_that_comes_late() {
    let net = net().await;
    let config = lab().with_dial_timeout(Duration::from_millis(100)).with_max_attempts(1);
    let a_dcutr = Dcutr::attach_with(&net.a, config, Unreachable).unwrap();
    // B offers no private address and has no public one until "identify"
    // tells it, a while after the relayed connection is up.
    let b_dcutr =
        Dcutr::attach_with(&net.b, Config::default().with_dial_timeout(Duration::from_millis(100)), Unreachable)
            .unwrap();
    let observed: Multiaddr = "/ip4/198.18.0.9/tcp/4001".parse().unwrap();
    let known = Arc::new(Mutex::new(Vec::new()));
    let source = Arc::clone(&known);
    b_dcutr.observed_addrs_from(move || source.lock().unwrap().clone());
    assert!(b_dcutr.offered_addrs().is_empty());
    let (mut a_events, mut b_events) = (a_dcutr.events(), b_dcutr.events());
    relay_connect(&net).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    known.lock().unwrap().push(observed.clone());

    // B waited and offered it: the exchange ran to the dials (which fail
    // here), instead of ending at once for want of an address.
    let (_, role, result) = next(&mut b_events).await;
    assert_eq!(role, Role::Responder);
    assert_eq!(result.unwrap_err().reason, Reason::DialsFailed);
    assert_eq!(next(&mut a_events).await.2.unwrap_err().reason, Reason::DialsFailed);
    assert_eq!(b_dcutr.offered_addrs(), [observed]);
}
