//! strata ↔ strata over WebSocket through the whole host: the upgrader
//! negotiates Noise and yamux over `/ws` and `/tls/ws` as over TCP, and
//! ping runs on top. A `/tls/ws` dial that does not trust the server's
//! certificate fails with a TLS error, and a peer that never finishes its
//! HTTP upgrade holds up nobody else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

mod support;

use std::net::Ipv4Addr;
use strata_ping::Ping;
use strata_testkit::within;

use strata_testkit::dns::{DnsServer, Zone};
use strata_websocket::Config;
use support::{Pki, address, host};
use tokio::io::AsyncReadExt as _;

/// Dials `addr` from `dialer` and pings the listener three times.
async fn dial_and_ping(dialer: &strata_host::Host, listener: &strata_host::Host, addr: strata_core::Multiaddr) {
    let ping = Ping::attach(dialer, strata_ping::Config::default()).unwrap();
    let _answers = Ping::attach(listener, strata_ping::Config::default()).unwrap();
    let peer = within(dialer.dial(addr)).await.unwrap();
    assert_eq!(peer, listener.peer_id());
    for _ in 0..3 {
        within(ping.ping(peer)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_to_strata_over_ws() {
    let listener = host(Config::default(), &["/ip4/127.0.0.1/tcp/0/ws"]).await;
    let addr = address(&listener, "/ws");
    assert!(!addr.to_string().contains("/tcp/0/"), "the real port: {addr}");
    let dialer = host(Config::default(), &[]).await;
    dial_and_ping(&dialer, &listener, addr).await;
    dialer.shutdown().await;
    listener.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_to_strata_over_tls_ws_and_wss() {
    let pki = Pki::new();
    let listener = host(pki.config("host-tls"), &["/ip4/127.0.0.1/tcp/0/tls/ws"]).await;
    let addr = address(&listener, "/tls/ws");
    let dialer = host(pki.config("host-tls-dialer"), &[]).await;
    dial_and_ping(&dialer, &listener, addr.clone()).await;
    // The same listener by name (the certificate's DNS name) and as /wss.
    let port = addr.iter().find_map(|c| match c {
        strata_core::multiaddr::Component::Tcp(port) => Some(port),
        _ => None,
    });
    let by_name: strata_core::Multiaddr =
        format!("/dns4/localhost/tcp/{}/wss/p2p/{}", port.unwrap(), listener.peer_id()).parse().unwrap();
    let other = host(pki.config("host-tls-other"), &[]).await;
    within(other.dial(by_name)).await.unwrap();
    for node in [dialer, other, listener] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_fails_the_dial_clearly() {
    let listener = host(Pki::new().config("host-untrusted"), &["/ip4/127.0.0.1/tcp/0/tls/ws"]).await;
    let addr = address(&listener, "/tls/ws");
    // Trusts another CA; and the default, Mozilla's roots.
    for config in [Pki::new().config("host-untrusted-dialer"), Config::default()] {
        let dialer = host(config, &[]).await;
        let error = within(dialer.dial(addr.clone())).await.unwrap_err();
        let chain = error_chain(&error);
        assert!(chain.contains("TLS handshake") && chain.contains("UnknownIssuer"), "{chain}");
        dialer.shutdown().await;
    }
    listener.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_on_tls_ws_without_a_certificate_says_so() {
    let upgrader = strata_host::Upgrader::new(support::transport(Config::default()))
        .security(strata_noise::Config::new)
        .muxer(strata_yamux::Config::default());
    let built = strata_host::Builder::new(&strata_core::Keypair::generate_ed25519())
        .upgrader(upgrader)
        .listen("/ip4/127.0.0.1/tcp/0/tls/ws".parse().unwrap())
        .build()
        .await;
    let Err(error) = built else { panic!("no certificate, no listener") };
    let chain = error_chain(&error);
    assert!(chain.contains("no TLS certificate"), "{chain}");
}

/// A peer that opens a TCP connection and never completes the HTTP
/// upgrade loses its socket when the handshake timeout passes; meanwhile
/// an honest peer connects and pings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upgrade_holds_up_nobody() {
    let config = Config::default().with_handshake_timeout(std::time::Duration::from_millis(500));
    let listener = host(config, &["/ip4/127.0.0.1/tcp/0/ws"]).await;
    let addr = address(&listener, "/ws");
    let socket = addr.ip().map(|ip| {
        let port = addr.iter().find_map(|c| match c {
            strata_core::multiaddr::Component::Tcp(port) => Some(port),
            _ => None,
        });
        std::net::SocketAddr::new(ip, port.unwrap())
    });
    let mut stalled = tokio::net::TcpStream::connect(socket.unwrap()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stalled, b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let dialer = host(Config::default(), &[]).await;
    dial_and_ping(&dialer, &listener, addr).await;
    // The listener gives up on the stalled peer: its socket ends.
    let mut rest = Vec::new();
    // An end of file or a reset, within the bound (`within` fails the
    // test otherwise), and never an upgrade.
    let _ended = within(stalled.read_to_end(&mut rest)).await;
    assert!(!rest.starts_with(b"HTTP/1.1 101"), "no upgrade for a half request");
    dialer.shutdown().await;
    listener.shutdown().await;
}

/// A `/dns4/<name>/…/wss` dial, and one through a `/dnsaddr` link: the
/// resolver turns the name into an IP, yet the name stays the TLS server
/// name (the certificate is issued for the name only); dialed by its IP,
/// the same listener fails the certificate check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_stays_the_server_name_through_resolution() {
    let pki = Pki::for_names(&["node.test"]);
    let listener = host(pki.config("host-dns"), &["/ip4/127.0.0.1/tcp/0/tls/ws"]).await;
    let port = support::port(&address(&listener, "/tls/ws"));
    let id = listener.peer_id();
    let link = format!("dnsaddr=/dns4/node.test/tcp/{port}/wss/p2p/{id}");
    let zone = Zone::new().a("node.test", Ipv4Addr::LOCALHOST).txt("_dnsaddr.bootstrap.test", &link);
    let server = DnsServer::start(zone).await;
    let resolver = strata_dns::Resolver::new(strata_dns::Config::default().with_nameserver(server.addr()));
    let dialer = support::builder(pki.config("host-dns-dialer"), &[]).resolver(resolver).build().await.unwrap();

    for addr in [format!("/dns4/node.test/tcp/{port}/wss/p2p/{id}"), format!("/dnsaddr/bootstrap.test/p2p/{id}")] {
        let addr: strata_core::Multiaddr = addr.parse().unwrap();
        assert_eq!(within(dialer.dial(addr.clone())).await.unwrap(), id, "{addr}");
        dialer.disconnect(id).await;
    }
    let by_ip: strata_core::Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/tls/ws/p2p/{id}").parse().unwrap();
    let chain = error_chain(&within(dialer.dial(by_ip)).await.unwrap_err());
    assert!(chain.contains("not valid for name"), "{chain}");
    for node in [dialer, listener] {
        node.shutdown().await;
    }
}

/// An error with its sources, as one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
