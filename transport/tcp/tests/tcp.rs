//! The TCP transport over loopback: dial and accept on IPv4 and IPv6, DNS
//! names, refused addresses, a closed port and a
//! connect timeout. Every test binds `127.0.0.1` or `::1` only, and every wait
//! is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::{Listener, Multiaddr, Transport};
use strata_tcp::{Config, Error, TcpTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(10);

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

/// Listens on `listen`, dials what the listener reports, and checks that
/// bytes cross both ways and that each side sees the other's address.
async fn round_trip(transport: &TcpTransport, listen: &str) {
    let mut listener = within(transport.listen(&addr(listen))).await.unwrap();
    let reported = listener.local_addrs();
    assert_eq!(reported.len(), 1, "{reported:?}");
    let target = reported[0].clone();
    assert!(!target.to_string().ends_with("/tcp/0"), "the real port is reported: {target}");

    let (dialed, accepted) = within(async { tokio::join!(transport.dial(&target), listener.accept()) }).await;
    let mut dialed = dialed.unwrap();
    let (mut accepted, remote) = accepted.unwrap();
    assert_eq!(remote, strata_tcp::socket_addr_to_multiaddr(dialed.local_addr().unwrap()));
    assert!(dialed.nodelay().unwrap() && accepted.nodelay().unwrap(), "TCP_NODELAY on both ends");

    dialed.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    within(accepted.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"ping");
    accepted.write_all(b"pong").await.unwrap();
    within(dialed.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"pong");
}

#[tokio::test]
async fn ipv4_loopback() {
    round_trip(&TcpTransport::default(), "/ip4/127.0.0.1/tcp/0").await;
}

/// Fails where the machine cannot bind `[::1]` (IPv6 disabled): a test that
/// cannot run says so by failing, not by passing. Linux machines and CI
/// runners have an IPv6 loopback unless it was turned off.
#[tokio::test]
async fn ipv6_loopback() {
    let transport = TcpTransport::default();
    if let Err(Error::Bind { source, .. }) = transport.listen(&addr("/ip6/::1/tcp/0")).await {
        panic!("this machine cannot bind [::1], so IPv6 is untested ({source}); enable IPv6 on the loopback");
    }
    round_trip(&transport, "/ip6/::1/tcp/0").await;
}

#[tokio::test]
async fn dns_names_are_resolved() {
    let transport = TcpTransport::default();
    let mut listener = transport.listen(&addr("/ip4/127.0.0.1/tcp/0")).await.unwrap();
    let port = listener.bound_addr().port();
    for name in [addr(&format!("/dns4/localhost/tcp/{port}")), addr(&format!("/dns/localhost/tcp/{port}"))] {
        let (dialed, accepted) = within(async { tokio::join!(transport.dial(&name), listener.accept()) }).await;
        let dialed = dialed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(dialed.peer_addr().unwrap().ip().is_loopback());
        accepted.unwrap();
    }
    // A failing lookup is not tested here: it would query the machine's DNS
    // resolver, which is off this machine.
}

#[tokio::test]
async fn foreign_addresses_are_refused() {
    let transport = TcpTransport::default();
    for foreign in ["/ip4/127.0.0.1/udp/1", "/ip4/127.0.0.1/tcp/1/ws", "/ip4/127.0.0.1/udp/1/quic-v1", "/memory/1", ""]
    {
        let foreign = addr(foreign);
        assert!(!transport.can_dial(&foreign) && !transport.can_listen(&foreign), "{foreign}");
        assert!(matches!(transport.dial(&foreign).await, Err(Error::UnsupportedAddress(_))), "{foreign}");
        assert!(matches!(transport.listen(&foreign).await, Err(Error::UnsupportedAddress(_))), "{foreign}");
    }
    let name = addr("/dns4/localhost/tcp/1");
    assert!(transport.can_dial(&name) && !transport.can_listen(&name), "names are dialed, never bound");
    let peer = addr("/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA");
    assert!(!transport.can_dial(&peer), "the upgrader strips /p2p before dialing");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let transport = TcpTransport::default();
    let listener = transport.listen(&addr("/ip4/127.0.0.1/tcp/0")).await.unwrap();
    let target = listener.local_addrs().remove(0);
    drop(listener);
    let err = within(transport.dial(&target)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );
}

#[tokio::test]
async fn a_port_in_use_is_a_bind_error() {
    let transport = TcpTransport::default();
    let first = transport.listen(&addr("/ip4/127.0.0.1/tcp/0")).await.unwrap();
    let taken = first.local_addrs().remove(0);
    assert!(matches!(transport.listen(&taken).await, Err(Error::Bind { .. })));
}

#[tokio::test]
async fn a_dial_that_hangs_ends_at_the_connect_timeout() {
    // A listener that never accepts, with the smallest backlog: once its
    // queue is full, the kernel drops further SYNs (tcp_abort_on_overflow
    // is 0 by default), so the next connect hangs, all on 127.0.0.1.
    let timeout = Duration::from_millis(300);
    let transport = TcpTransport::new(Config::default().with_connect_timeout(timeout));
    let listener = TcpTransport::new(Config::default().with_listen_backlog(0))
        .listen(&addr("/ip4/127.0.0.1/tcp/0"))
        .await
        .unwrap();
    let target = listener.local_addrs().remove(0);
    let mut held = Vec::new();
    let mut outcome = None;
    for _ in 0..64 {
        match within(transport.dial(&target)).await {
            Ok(stream) => held.push(stream),
            Err(err) => {
                outcome = Some(err);
                break;
            }
        }
    }
    let err = outcome.expect("the backlog never filled");
    assert!(matches!(err, Error::ConnectTimeout { timeout: t, .. } if t == timeout), "{err}");
}
