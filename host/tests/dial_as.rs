//! `Host::dial_as`: a hole punch's dial, upgraded in the role the hole punch protocol gives
//! (`libp2p-relay-DCUtR.md`, "Simultaneous Connect").
//!
//! A TCP simultaneous open gives both peers one connection that each of
//! them dialed. On loopback the kernel delivers a SYN inside the `connect`
//! call that sends it, so two SYNs practically never cross; the first
//! tests therefore model the simultaneous open with a transport whose two
//! dials meet in one in-memory pipe ([`Crossing`]), which is exactly what
//! the upgrade above TCP sees. The last tests run over TCP on
//! `127.0.0.1`: dials leave from the listen port, and the DCUtR-shaped
//! race on loopback ends connected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use strata_core::{Endpoint, Keypair, Listener, Multiaddr, PeerId, Transport};
use strata_host::{Config, DialError, Error, Event, Host};
use tokio::{io::DuplexStream, sync::oneshot};

/// Every wait of this file is bounded.
async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future).await.expect("timed out")
}

/// Short upgrade limits: a test that expects a stuck negotiation ends soon.
fn config() -> Config {
    Config::default().with_upgrade_timeout(Duration::from_secs(2)).with_first_step_timeout(Duration::from_secs(1))
}

/// Dials that meet: `/memory/<a>` dialing `/memory/<b>` and `/memory/<b>`
/// dialing `/memory/<a>` get the two ends of one pipe, as two TCP dials
/// whose SYNs cross get one connection. Nothing is ever accepted.
#[derive(Clone)]
struct Crossing {
    own: Multiaddr,
    waiting: Arc<Mutex<Waiting>>,
}

/// Dials waiting for their counterpart, by (from, to).
type Waiting = HashMap<(Multiaddr, Multiaddr), oneshot::Sender<DuplexStream>>;

struct NoListener;

impl Listener for NoListener {
    type Stream = DuplexStream;
    type Error = std::io::Error;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        Vec::new()
    }

    async fn accept(&mut self) -> std::io::Result<(DuplexStream, Multiaddr)> {
        std::future::pending().await
    }
}

impl Transport for Crossing {
    type Stream = DuplexStream;
    type Listener = NoListener;
    type Error = std::io::Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        addr.to_string().starts_with("/memory/")
    }

    fn can_listen(&self, _: &Multiaddr) -> bool {
        false
    }

    async fn dial(&self, addr: &Multiaddr) -> std::io::Result<DuplexStream> {
        // A circuit address (`/memory/<n>/p2p-circuit`) meets like the
        // direct one: only the host tells them apart.
        let addr: &Multiaddr = &addr.to_string().replace("/p2p-circuit", "").parse().unwrap();
        let receiver = {
            let mut waiting = self.waiting.lock().unwrap();
            if let Some(other) = waiting.remove(&(addr.clone(), self.own.clone())) {
                let (ours, theirs) = tokio::io::duplex(64 * 1024);
                other.send(theirs).map_err(|_| std::io::Error::other("the other dial gave up"))?;
                return Ok(ours);
            }
            let (sender, receiver) = oneshot::channel();
            waiting.insert((self.own.clone(), addr.clone()), sender);
            receiver
        };
        receiver.await.map_err(|_| std::io::Error::other("the other dial gave up"))
    }

    async fn listen(&self, _: &Multiaddr) -> std::io::Result<NoListener> {
        Err(std::io::Error::other("no listening"))
    }
}

/// Two hosts, `/memory/1` and `/memory/2`, whose dials to each other meet.
async fn crossing_pair() -> ((Host, Multiaddr), (Host, Multiaddr)) {
    let waiting = Arc::default();
    let mut hosts = Vec::new();
    for n in 1..=2 {
        let own: Multiaddr = format!("/memory/{n}").parse().unwrap();
        let transport = Crossing { own: own.clone(), waiting: Arc::clone(&waiting) };
        let keypair = Keypair::generate_ed25519();
        let host = Host::builder(&keypair, transport, strata_noise::Config::new, strata_mplex::Config::default())
            .config(config())
            .build()
            .await
            .unwrap();
        hosts.push((host, own));
    }
    let b = hosts.pop().unwrap();
    (hosts.pop().unwrap(), b)
}

/// The hole punch protocol's TCP punch: one side dials as the dialer, the other as the
/// listener, and one connection serves both, authenticated both ways.
#[tokio::test]
async fn a_simultaneous_open_with_dcutr_roles_is_one_authenticated_connection() {
    let ((a, a_addr), (b, b_addr)) = crossing_pair().await;
    let (mut a_events, mut b_events) = (a.events(), b.events());
    let (as_listener, as_dialer) =
        within(async { tokio::join!(a.dial_as(b_addr, Endpoint::Listener), b.dial(a_addr)) }).await;
    assert_eq!(as_listener.unwrap(), b.peer_id());
    assert_eq!(as_dialer.unwrap(), a.peer_id());
    assert_eq!((a.connection_count(b.peer_id()), b.connection_count(a.peer_id())), (1, 1));
    // Both opened the socket: both report it dialed.
    for events in [&mut a_events, &mut b_events] {
        match within(events.recv()).await.unwrap() {
            Event::ConnectionEstablished { endpoint, .. } => assert_eq!(endpoint, Endpoint::Dialer),
            other => panic!("unexpected {other:?}"),
        }
    }
    // Streams flow over it.
    b.handle("/echo", |mut stream| async move {
        let mut buf = [0; 4];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut buf).await?;
        tokio::io::AsyncWriteExt::write_all(&mut stream, &buf).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut stream).await
    })
    .unwrap();
    let mut stream = within(a.open_stream(b.peer_id(), &["/echo"])).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"ping").await.unwrap();
    let mut buf = [0; 4];
    within(tokio::io::AsyncReadExt::read_exact(&mut stream, &mut buf)).await.unwrap();
    assert_eq!(&buf, b"ping");
}

/// Without roles a simultaneous open does not come up: two initiators (or
/// two responders) cannot agree. This is why the hole punch protocol assigns them.
#[tokio::test]
async fn the_same_role_on_both_sides_fails() {
    for role in [Endpoint::Dialer, Endpoint::Listener] {
        let ((a, a_addr), (b, b_addr)) = crossing_pair().await;
        let (from_a, from_b) = within(async { tokio::join!(a.dial_as(b_addr, role), b.dial_as(a_addr, role)) }).await;
        assert!(from_a.is_err() && from_b.is_err(), "{role:?}: {from_a:?} {from_b:?}");
        assert!(!a.is_connected(b.peer_id()));
    }
}

/// A `/p2p/<id>` is checked on the responder's side too, once the
/// handshake names the remote.
#[tokio::test]
async fn dialing_as_the_listener_checks_the_peer_id() {
    let ((a, a_addr), (b, b_addr)) = crossing_pair().await;
    let stranger = Keypair::generate_ed25519().peer_id();
    let wrong = b_addr.with_p2p(stranger).unwrap();
    let (from_a, _) = within(async { tokio::join!(a.dial_as(wrong, Endpoint::Listener), b.dial(a_addr)) }).await;
    match from_a {
        Err(Error::Dial(error)) => match &*error {
            DialError::PeerIdMismatch { expected, actual, .. } => {
                assert_eq!((*expected, *actual), (stranger, b.peer_id()));
            }
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("unexpected {other:?}"),
    }
    assert!(!a.is_connected(b.peer_id()));
}

async fn tcp_host() -> (Host, Multiaddr) {
    tcp_host_with(strata_tcp::Config::default()).await
}

async fn tcp_host_with(tcp: strata_tcp::Config) -> (Host, Multiaddr) {
    let keypair = Keypair::generate_ed25519();
    let transport = strata_tcp::TcpTransport::new(tcp);
    let host = Host::builder(&keypair, transport, strata_noise::Config::new, strata_mplex::Config::default())
        .config(config())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let addr = host.listen_addrs().remove(0);
    (host, addr)
}

/// The remote address a host sees `peer`'s next connection from.
async fn seen_from(events: &mut tokio::sync::broadcast::Receiver<Event>, peer: PeerId) -> Multiaddr {
    loop {
        if let Event::ConnectionEstablished { peer: from, remote_addr, endpoint: Endpoint::Listener, .. } =
            within(events.recv()).await.unwrap()
            && from == peer
        {
            return remote_addr;
        }
    }
}

/// Over TCP: `dial_as` opens a new connection beside an existing one, from
/// the listen port, and the remote sees that port.
#[tokio::test]
async fn over_tcp_dial_as_adds_a_connection_from_the_listen_port() {
    let ((a, a_addr), (b, b_addr)) = (tcp_host().await, tcp_host().await);
    let mut b_events = b.events();
    // A plain dial leaves from the listen port too (port reuse is on).
    within(a.dial(b_addr.clone())).await.unwrap();
    assert_eq!(seen_from(&mut b_events, a.peer_id()).await, a_addr);
    // The pair of ports is taken now: a hole punch's dial fails at once,
    // rather than leaving from another port.
    let taken = within(a.dial_as(b_addr.clone(), Endpoint::Dialer)).await;
    assert!(matches!(&taken, Err(Error::Dial(_))), "{taken:?}");
    // To a third host, beside a connection it dialed to us (from an
    // ephemeral port: a relayed connection in a real hole punch).
    let (c, c_addr) = tcp_host_with(strata_tcp::Config::default().with_port_reuse(false)).await;
    let mut c_events = c.events();
    within(c.dial(a_addr.clone())).await.unwrap();
    assert_eq!(within(a.dial_as(c_addr.with_p2p(c.peer_id()).unwrap(), Endpoint::Dialer)).await.unwrap(), c.peer_id());
    assert_eq!(a.connection_count(c.peer_id()), 2, "a new connection, not the one there was");
    assert_eq!(seen_from(&mut c_events, a.peer_id()).await, a_addr);
}

/// The hole punch race on loopback, where SYNs do not cross: `a` dials `b` as
/// the listener while `b` dials `a`. Whichever SYN goes first lands on the
/// other's listener. If it is `b`'s, `b` is the initiator and `a`'s
/// listener the responder: connected, and `a`'s dial finds the ports
/// taken. If it is `a`'s, both sides are responders and that connection
/// never comes up (it ends at the upgrade timeout), while `b`'s dial
/// leaves from another port and connects. Either way the two end up
/// connected, and `b`'s dial succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_the_dcutr_race_ends_connected() {
    let ((a, a_addr), (b, b_addr)) = (tcp_host().await, tcp_host().await);
    let (from_a, from_b) = within(async { tokio::join!(a.dial_as(b_addr, Endpoint::Listener), b.dial(a_addr)) }).await;
    assert_eq!(from_b.unwrap(), a.peer_id());
    assert!(a.is_connected(b.peer_id()) && b.is_connected(a.peer_id()));
    // For whoever runs with `--nocapture`: which way it went.
    eprintln!("a's dial as the listener: {from_a:?}");
}

/// `hole_punch` reaches the source serving the address: the TCP upgrader
/// has nothing to do (both sides dial), an address nobody serves fails.
#[tokio::test]
async fn hole_punch_finds_the_source() {
    let (a, _) = tcp_host().await;
    within(a.hole_punch(&"/ip4/127.0.0.1/tcp/9".parse().unwrap())).await.unwrap();
    let err = within(a.hole_punch(&"/ip4/127.0.0.1/udp/9/quic-v1".parse().unwrap())).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedAddress(_)), "{err:?}");
}

/// After a hole punch, a peer has a relayed connection and a direct one:
/// new streams take the direct one, and the relayed one can be closed
/// alone.
#[tokio::test]
async fn streams_prefer_the_direct_connection_and_the_relayed_one_closes_alone() {
    let ((a, a_addr), (b, b_addr)) = crossing_pair().await;
    b.handle("/hi", |mut stream| async move { tokio::io::AsyncWriteExt::shutdown(&mut stream).await }).unwrap();
    let relayed: Multiaddr = format!("{b_addr}/p2p-circuit").parse().unwrap();
    let (first, _) =
        within(async { tokio::join!(a.dial(relayed.clone()), b.dial_as(a_addr.clone(), Endpoint::Listener)) }).await;
    assert_eq!(first.unwrap(), b.peer_id());
    let on_relay = within(a.open_stream(b.peer_id(), &["/hi"])).await.unwrap();
    assert!(on_relay.is_limited(), "the only connection is the relayed one");

    let (direct, _) =
        within(async { tokio::join!(a.dial_as(b_addr, Endpoint::Dialer), b.dial_as(a_addr, Endpoint::Listener)) })
            .await;
    assert_eq!(direct.unwrap(), b.peer_id());
    assert_eq!(a.connection_count(b.peer_id()), 2);
    let on_direct = within(a.open_stream(b.peer_id(), &["/hi"])).await.unwrap();
    assert!(!on_direct.is_limited(), "{}", on_direct.remote_addr());

    let mut events = a.events();
    assert!(within(a.close_connection(on_relay.connection())).await);
    loop {
        if let Event::ConnectionClosed { connection, .. } = within(events.recv()).await.unwrap() {
            assert_eq!(connection, on_relay.connection());
            break;
        }
    }
    assert_eq!(a.connection_count(b.peer_id()), 1);
    assert!(!within(a.close_connection(on_relay.connection())).await, "closed once");
    let again = within(a.open_stream(b.peer_id(), &["/hi"])).await.unwrap();
    assert_eq!(again.connection(), on_direct.connection());
}
