//! The listener's side of a QUIC hole punch on loopback: random packets
//! leave from the listening port, stop when the punched peer's connection
//! arrives, and need a listener to leave from. `127.0.0.1` only; every wait
//! is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::{Duration, Instant};

use strata_core::{ConnectionListener, ConnectionSource, Keypair, Multiaddr};
use strata_quic::{Config, Error, QuicListener, QuicTransport, socket_addr_to_multiaddr};
use strata_testkit::within;

async fn listening(config: Config) -> (QuicTransport, QuicListener, Multiaddr) {
    listening_as(&Keypair::generate_ed25519(), config).await
}

async fn listening_as(identity: &Keypair, config: Config) -> (QuicTransport, QuicListener, Multiaddr) {
    let transport = QuicTransport::new(identity, config);
    let listener = transport.listen(&"/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    (transport, listener, addr)
}

fn port_of(addr: &Multiaddr) -> u16 {
    addr.iter()
        .find_map(|component| match component {
            strata_core::multiaddr::Component::Udp(port) => Some(port),
            _ => None,
        })
        .unwrap()
}

/// A plain UDP socket receives the packets: 64 to 200 bytes each, from the
/// listening port, and the punch ends at its duration when nobody
/// connects.
#[tokio::test]
async fn packets_leave_from_the_listening_port() {
    let duration = Duration::from_millis(1500);
    let (transport, _listener, addr) = listening(Config::default().with_hole_punch_duration(duration)).await;
    let target = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target_addr = socket_addr_to_multiaddr(target.local_addr().unwrap());

    let started = Instant::now();
    let punch = tokio::spawn(async move { transport.hole_punch(&target_addr).await });
    let mut buf = [0u8; 2048];
    let mut sizes = Vec::new();
    for _ in 0..3 {
        let (len, from) = within(target.recv_from(&mut buf)).await.unwrap();
        assert_eq!(from.port(), port_of(&addr), "from the listening socket");
        sizes.push(len);
    }
    assert!(sizes.iter().all(|len| (64..=200).contains(len)), "{sizes:?}");
    within(punch).await.unwrap().unwrap();
    assert!(started.elapsed() >= duration, "punched until the duration passed");
}

/// The punched peer dials the puncher's listen address (through the hole,
/// on a network with NATs): the punch stops as its connection arrives,
/// long before the duration, and the connection comes up despite the
/// random packets the dialer received on its own listening socket.
#[tokio::test]
async fn the_punch_ends_when_the_peer_connects() {
    let long = Duration::from_mins(1);
    let (a_key, b_key) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (b, mut b_listener, b_addr) = listening_as(&b_key, Config::default().with_hole_punch_duration(long)).await;
    let (a, _a_listener, a_addr) = listening_as(&a_key, Config::default()).await;
    let (b_punching, punched) = (b.clone(), a_addr.clone());
    let punch = tokio::spawn(async move { b_punching.hole_punch(&punched).await });
    // Let a few packets reach `a` first.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let accept = async {
        let (remote, upgrade) = b_listener.accept().await.unwrap();
        (remote, upgrade.await.unwrap())
    };
    let (dialed, (remote, (peer, _connection))) = within(async { tokio::join!(a.dial(&b_addr, None), accept) }).await;
    let (b_peer, _a_connection) = dialed.unwrap();
    assert_eq!((peer, b_peer), (a_key.peer_id(), b_key.peer_id()));
    assert_eq!(remote, a_addr, "a dialed from its listening socket: the address b punched");
    // Bounded far below the punch's 60 s: it ended as the connection came.
    within(punch).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_punch_needs_a_listener() {
    let transport = QuicTransport::new(&Keypair::generate_ed25519(), Config::default());
    let err = transport.hole_punch(&"/ip4/127.0.0.1/udp/9/quic-v1".parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::NotListening(_)), "{err:?}");
    let err = transport.hole_punch(&"/ip4/127.0.0.1/tcp/9".parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
}
