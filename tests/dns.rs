//! Dialing by name through the default host: `/dnsaddr` links (nested,
//! with a record for another peer and a dead address among them) and
//! `/dns4` names, over TCP and over QUIC, against a DNS server the test
//! starts on 127.0.0.1 (`strata_testkit::dns`). No test asks a real
//! resolver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::net::Ipv4Addr;

use strata::{BuilderExt as _, Event, Host, Keypair, Multiaddr, PeerId, host::Error};
use strata_testkit::{
    dns::{DnsServer, Zone},
    within,
};
use tokio::sync::broadcast;

async fn listening(addr: &str) -> Host {
    strata::builder(&Keypair::generate_ed25519()).listen(addr.parse().unwrap()).build().await.unwrap()
}

/// A default host whose DNS questions go to `server`.
async fn dialer(server: &DnsServer) -> Host {
    strata::builder(&Keypair::generate_ed25519()).dns_server(server.addr()).build().await.unwrap()
}

/// The port of `host`'s first listen address of this kind (`tcp`, `udp`).
fn port(host: &Host, kind: &str) -> u16 {
    let addr = host.listen_addrs()[0].to_string();
    let mut parts = addr.split('/').skip_while(|part| *part != kind);
    parts.nth(1).unwrap().parse().unwrap()
}

fn with_p2p(addr: &Multiaddr, peer: PeerId) -> Multiaddr {
    addr.clone().with_p2p(peer).unwrap()
}

/// The addresses of the dial failures reported so far.
fn dial_failures(events: &mut broadcast::Receiver<Event>) -> Vec<String> {
    std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|event| match event {
            Event::DialFailed { addr, .. } => Some(addr.to_string()),
            _ => None,
        })
        .collect()
}

/// A TCP port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsaddr_over_tcp_skips_other_peers_and_dead_addresses() {
    let (target, decoy) = (listening("/ip4/127.0.0.1/tcp/0").await, listening("/ip4/127.0.0.1/tcp/0").await);
    let (b, c) = (target.peer_id(), decoy.peer_id());
    let dead = format!("/ip4/127.0.0.1/tcp/{}/p2p/{b}", closed_port().await);
    let zone = Zone::new()
        .txt("_dnsaddr.test.example", &format!("dnsaddr={}", with_p2p(&decoy.listen_addrs()[0], c)))
        .txt("_dnsaddr.test.example", &format!("dnsaddr=/dnsaddr/nested.test.example/p2p/{b}"))
        .txt("_dnsaddr.nested.test.example", &format!("dnsaddr={dead}"))
        .txt(
            "_dnsaddr.nested.test.example",
            &format!("dnsaddr=/dns4/node.test.example/tcp/{}/p2p/{b}", port(&target, "tcp")),
        )
        .a("node.test.example", Ipv4Addr::LOCALHOST);
    let server = DnsServer::start(zone).await;
    let host = dialer(&server).await;
    let mut events = host.events();

    let dialed = within(host.dial(format!("/dnsaddr/test.example/p2p/{b}").parse().unwrap())).await.unwrap();
    assert_eq!(dialed, b);
    assert!(host.is_connected(b));
    assert_eq!(dial_failures(&mut events), [dead], "the dead address was tried first; the decoy never");
    assert!(!host.is_connected(c) && decoy.connected_peers().is_empty(), "the other peer's record is skipped");
    // The peer store keeps the address that worked, not the name.
    let known = host.peer_info(b).unwrap().addrs;
    assert_eq!(known, [format!("/ip4/127.0.0.1/tcp/{}", port(&target, "tcp")).parse().unwrap()]);
    for host in [host, target, decoy] {
        host.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsaddr_and_dns4_over_quic() {
    let (target, decoy) =
        (listening("/ip4/127.0.0.1/udp/0/quic-v1").await, listening("/ip4/127.0.0.1/udp/0/quic-v1").await);
    let (b, c) = (target.peer_id(), decoy.peer_id());
    let quic = format!("/dns4/node.test.example/udp/{}/quic-v1/p2p/{b}", port(&target, "udp"));
    let zone = Zone::new()
        .txt("_dnsaddr.test.example", &format!("dnsaddr={}", with_p2p(&decoy.listen_addrs()[0], c)))
        .txt("_dnsaddr.test.example", &format!("dnsaddr=/dnsaddr/nested.test.example/p2p/{b}"))
        .txt("_dnsaddr.nested.test.example", &format!("dnsaddr={quic}"))
        .a("node.test.example", Ipv4Addr::LOCALHOST);
    let server = DnsServer::start(zone).await;

    // Through the links ...
    let host = dialer(&server).await;
    let dialed = within(host.dial(format!("/dnsaddr/test.example/p2p/{b}").parse().unwrap())).await.unwrap();
    assert_eq!(dialed, b);
    let known = host.peer_info(b).unwrap().addrs;
    assert_eq!(known, [format!("/ip4/127.0.0.1/udp/{}/quic-v1", port(&target, "udp")).parse().unwrap()]);
    assert!(decoy.connected_peers().is_empty(), "the other peer's record is skipped");

    // ... and by its name alone: QUIC itself dials only IP addresses.
    let other = dialer(&server).await;
    assert_eq!(within(other.dial(quic.parse().unwrap())).await.unwrap(), b);
    for host in [host, other, target, decoy] {
        host.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_resolve_fails_the_dial_clearly() {
    let target = listening("/ip4/127.0.0.1/tcp/0").await;
    let b = target.peer_id();
    let zone = Zone::new()
        .txt("_dnsaddr.other.test.example", &format!("dnsaddr=/ip4/127.0.0.1/tcp/1/p2p/{}", PeerId::random()));
    let server = DnsServer::start(zone).await;
    let host = dialer(&server).await;
    let mut events = host.events();

    let missing: Multiaddr = format!("/dnsaddr/missing.test.example/p2p/{b}").parse().unwrap();
    let error = within(host.dial(missing.clone())).await.unwrap_err();
    let Error::Dial(error) = error else { panic!("{error}") };
    let strata::DialError::Resolve { addr, source } = &*error else { panic!("{error}") };
    assert_eq!(*addr, missing);
    let cause = source.downcast_ref::<strata::dns::Error>().unwrap();
    assert!(
        matches!(cause, strata::dns::Error::NoSuchDomain { name } if name == "_dnsaddr.missing.test.example"),
        "{cause}"
    );
    assert_eq!(dial_failures(&mut events), [missing.to_string()]);

    // Records only for another peer: nothing to dial, and it says so.
    let error = within(host.dial(format!("/dnsaddr/other.test.example/p2p/{b}").parse().unwrap())).await.unwrap_err();
    let Error::Dial(error) = error else { panic!("{error}") };
    let strata::DialError::Resolve { source, .. } = &*error else { panic!("{error}") };
    assert!(
        matches!(source.downcast_ref::<strata::dns::Error>(), Some(strata::dns::Error::NoAddresses { .. })),
        "{source}"
    );
    host.shutdown().await;
    target.shutdown().await;
}
