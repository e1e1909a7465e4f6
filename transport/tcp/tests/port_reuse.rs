//! Port reuse on loopback: dials leave from the listen port, two
//! transports dialing each other's listen ports at once end with one
//! connection between those ports, and without the option (or without a
//! listener) a dial takes an ephemeral port. `127.0.0.1` only; every wait
//! is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{collections::HashSet, net::SocketAddr, time::Duration};

use strata_core::{Listener, Multiaddr, Transport};
use strata_tcp::{Config, Error, TcpListener, TcpTransport, socket_addr_to_multiaddr};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

async fn listening(transport: &TcpTransport) -> (TcpListener, Multiaddr) {
    let listener = transport.listen(&"/ip4/127.0.0.1/tcp/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    (listener, addr)
}

/// The source port the remote sees, after a dial from `dialer`.
async fn seen_port(from: &TcpTransport) -> u16 {
    let (mut target, addr) = listening(&TcpTransport::default()).await;
    let (outbound, accepted) = within(async { tokio::join!(from.dial(&addr), target.accept()) }).await;
    let (_, remote) = accepted.unwrap();
    let local = outbound.unwrap().local_addr().unwrap();
    assert_eq!(remote, socket_addr_to_multiaddr(local));
    local.port()
}

#[tokio::test]
async fn the_remote_sees_the_listen_port() {
    let dialer = TcpTransport::default();
    let (listener, _) = listening(&dialer).await;
    let port = listener.bound_addr().port();
    assert_eq!(seen_port(&dialer).await, port);
    // Again, to another peer: the same port.
    assert_eq!(seen_port(&dialer).await, port);
    // The listener is gone: an ephemeral port.
    drop(listener);
    assert_ne!(seen_port(&dialer).await, port);
}

#[tokio::test]
async fn without_port_reuse_a_dial_takes_an_ephemeral_port() {
    let dialer = TcpTransport::new(Config::default().with_port_reuse(false));
    let (listener, _) = listening(&dialer).await;
    assert_ne!(seen_port(&dialer).await, listener.bound_addr().port());
    let err = within(dialer.dial_from_listen_port(&listening(&TcpTransport::default()).await.1)).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn a_dial_to_the_own_listener_does_not_connect_to_itself() {
    let transport = TcpTransport::default();
    let (mut listener, addr) = listening(&transport).await;
    let (dialed, accepted) = within(async { tokio::join!(transport.dial(&addr), listener.accept()) }).await;
    let (dialed, (_, remote)) = (dialed.unwrap(), accepted.unwrap());
    assert_ne!(dialed.local_addr().unwrap(), dialed.peer_addr().unwrap());
    assert_eq!(remote, socket_addr_to_multiaddr(dialed.local_addr().unwrap()));
}

/// A second dial between the same two ports finds the socket pair taken:
/// a plain dial moves to an ephemeral port, a hole punch's dial fails.
#[tokio::test]
async fn a_taken_socket_pair() {
    let dialer = TcpTransport::default();
    let (listener, _) = listening(&dialer).await;
    let (mut target, addr) = listening(&TcpTransport::default()).await;
    let (first, accepted) = within(async { tokio::join!(dialer.dial(&addr), target.accept()) }).await;
    let (first, _) = (first.unwrap(), accepted.unwrap());
    assert_eq!(first.local_addr().unwrap().port(), listener.bound_addr().port());

    let err = within(dialer.dial_from_listen_port(&addr)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::AddrNotAvailable),
        "{err:?}"
    );

    let (second, accepted) = within(async { tokio::join!(dialer.dial(&addr), target.accept()) }).await;
    let (second, _) = (second.unwrap(), accepted.unwrap());
    assert_ne!(second.local_addr().unwrap().port(), listener.bound_addr().port());
}

/// Two listeners of this process on one port: refused, as without
/// `SO_REUSEPORT`; port 0 never hands out a port held.
#[tokio::test]
async fn two_listeners_never_share_a_port() {
    let (first, addr) = listening(&TcpTransport::default()).await;
    let err = TcpTransport::default().listen(&addr).await.unwrap_err();
    assert!(matches!(&err, Error::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse), "{err:?}");
    let wildcard = format!("/ip4/0.0.0.0/tcp/{}", first.bound_addr().port()).parse().unwrap();
    assert!(TcpTransport::default().listen(&wildcard).await.is_err(), "the wildcard covers it");
    drop(first);
    let again = TcpTransport::default().listen(&addr).await;
    assert!(again.is_ok(), "free again once the listener is gone: {again:?}");
}

/// The pair of ports a stream joins, in order, so that both ends of one
/// connection give the same key.
fn pair(stream: &TcpStream) -> (SocketAddr, SocketAddr) {
    let (a, b) = (stream.local_addr().unwrap(), stream.peer_addr().unwrap());
    if a < b { (a, b) } else { (b, a) }
}

/// Both sides dial each other's listen port at the same moment, from their
/// own listen ports, as a hole punch does. On loopback a SYN is delivered
/// inside the `connect` call that sends it, so the SYNs rarely cross: one
/// lands on the other side's listener and is accepted, and the other dial
/// then finds the socket pair taken. If they do cross (a TCP simultaneous
/// open), both dials succeed with one connection and nothing is accepted.
/// Either way: exactly one connection, between the two listen ports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialing_each_other_at_once_ends_with_one_connection() {
    let mut simultaneous = 0;
    for round in 0..20 {
        // Fresh ports each round: a closed connection leaves its pair of
        // ports in TIME_WAIT.
        let (a, b) = (TcpTransport::default(), TcpTransport::default());
        let (mut a_listener, a_addr) = listening(&a).await;
        let (mut b_listener, b_addr) = listening(&b).await;
        let ports: HashSet<u16> = [a_listener.bound_addr().port(), b_listener.bound_addr().port()].into();
        let (a_dial, b_dial) =
            within(async { tokio::join!(a.dial_from_listen_port(&b_addr), b.dial_from_listen_port(&a_addr)) }).await;
        let mut streams: Vec<TcpStream> = [a_dial, b_dial].into_iter().filter_map(Result::ok).collect();
        match streams.len() {
            2 => simultaneous += 1,
            1 => {
                // The one that connected was accepted by the other side.
                let accepted = tokio::select! {
                    accepted = a_listener.accept() => accepted,
                    accepted = b_listener.accept() => accepted,
                    () = tokio::time::sleep(LIMIT) => panic!("round {round}: a dial connected and nobody accepted it"),
                };
                streams.push(accepted.unwrap().0);
            }
            _ => panic!("round {round}: neither dial connected"),
        }
        let pairs: HashSet<_> = streams.iter().map(pair).collect();
        assert_eq!(pairs.len(), 1, "round {round}: one connection, seen from both ends: {pairs:?}");
        let (x, y) = pairs.into_iter().next().unwrap();
        assert_eq!(HashSet::from([x.port(), y.port()]), ports, "round {round}: between the listen ports");
    }
    // For whoever runs with `--nocapture`: how often the SYNs crossed.
    eprintln!("{simultaneous} of 20 rounds were a TCP simultaneous open");
}

/// A listener on a specific IP serves only dials the kernel routes from
/// that IP: one on `127.0.0.2` does not lend its port to a dial to
/// `127.0.0.1` (whose source the kernel makes `127.0.0.1`).
#[tokio::test]
async fn a_listener_on_another_source_ip_lends_no_port() {
    let dialer = TcpTransport::default();
    let listener = dialer.listen(&"/ip4/127.0.0.2/tcp/0".parse().unwrap()).await.unwrap();
    assert_ne!(seen_port(&dialer).await, listener.bound_addr().port());
}
