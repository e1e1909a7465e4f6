//! A host's external addresses: kept as told, reported as events, capped;
//! and what the host tells a peer of its external and listen addresses
//! depends on where that peer is. Unspecified addresses are told to no one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_core::{Keypair, Listener, Multiaddr, Transport, multiaddr::Scope};
use strata_host::{Event, Host, MAX_EXTERNAL_ADDRS};
use strata_memory::MemoryTransport;
use strata_tcp::TcpTransport;

async fn host() -> Host {
    let keypair = Keypair::generate_ed25519();
    Host::builder(&keypair, MemoryTransport::default(), strata_noise::Config::new, strata_mplex::Config::default())
        .build()
        .await
        .unwrap()
}

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn confirmed_and_expired_addresses_are_events() {
    let host = host().await;
    let mut events = host.events();
    let public = addr("/ip4/198.18.0.7/tcp/4001");
    assert!(host.add_external_addr(public.clone()));
    assert!(!host.add_external_addr(public.clone()), "an address already confirmed is not new");
    assert_eq!(host.external_addrs(), vec![public.clone()]);
    assert!(matches!(events.recv().await.unwrap(), Event::ExternalAddrConfirmed { addr } if addr == public));
    assert!(host.remove_external_addr(&public));
    assert!(!host.remove_external_addr(&public));
    assert!(host.external_addrs().is_empty());
    assert!(matches!(events.recv().await.unwrap(), Event::ExternalAddrExpired { addr } if addr == public));
}

#[tokio::test]
async fn the_set_is_capped_and_forgets_the_oldest() {
    let host = host().await;
    for port in 0..=MAX_EXTERNAL_ADDRS {
        host.add_external_addr(addr(&format!("/ip4/198.18.0.7/tcp/{}", 1000 + port)));
    }
    let kept = host.external_addrs();
    assert_eq!(kept.len(), MAX_EXTERNAL_ADDRS);
    assert!(!kept.contains(&addr("/ip4/198.18.0.7/tcp/1000")), "the oldest went");
}

#[tokio::test]
async fn confirmed_addresses_are_told_by_the_peer_s_scope() {
    let host = host().await;
    host.listen(addr("/memory/0")).await.unwrap();
    // Confirmed external addresses of each scope.
    let (loopback, private, public) =
        (addr("/ip4/127.0.0.1/tcp/1"), addr("/ip4/192.168.1.2/tcp/1"), addr("/ip4/198.18.0.9/tcp/1"));
    for confirmed in [&public, &private, &loopback] {
        host.add_external_addr(confirmed.clone());
    }
    let told_public = host.advertised_addrs(&addr("/ip4/198.18.0.2/tcp/5"));
    assert!(told_public.contains(&public) && !told_public.contains(&private) && !told_public.contains(&loopback));
    assert!(told_public.iter().any(|a| a.to_string().starts_with("/memory/")), "an address of unknown reach is told");
    let told_lan = host.advertised_addrs(&addr("/ip4/192.168.1.3/tcp/5"));
    assert!(told_lan.contains(&public) && told_lan.contains(&private) && !told_lan.contains(&loopback));
    let told_local = host.advertised_addrs(&addr("/ip4/127.0.0.1/tcp/5"));
    assert!(told_local.contains(&loopback) && told_local.contains(&private));
}

/// What a peer seen at `remote` is told of `addrs`, in their order.
fn told_of(host: &Host, remote: &str, addrs: &[Multiaddr]) -> Vec<Multiaddr> {
    let told = host.advertised_addrs(&addr(remote));
    addrs.iter().filter(|listed| told.contains(listed)).cloned().collect()
}

#[tokio::test]
async fn a_wildcard_listener_s_addresses_are_told_by_the_peer_s_scope() {
    let keypair = Keypair::generate_ed25519();
    let host =
        Host::builder(&keypair, TcpTransport::default(), strata_noise::Config::new, strata_mplex::Config::default())
            .build()
            .await
            .unwrap();
    let listening = host.listen(addr("/ip4/0.0.0.0/tcp/0")).await.unwrap();
    assert_eq!(host.listen_addrs(), listening);
    // One address per interface, the loopback among them; never the wildcard.
    assert!(listening.iter().any(|a| a.scope() == Scope::Loopback), "{listening:?}");
    assert!(listening.iter().all(|a| a.ip().is_some_and(|ip| !ip.is_unspecified())), "{listening:?}");
    let of = |scopes: &[Scope]| -> Vec<Multiaddr> {
        listening.iter().filter(|a| scopes.contains(&a.scope())).cloned().collect()
    };
    assert_eq!(told_of(&host, "/ip4/198.18.0.2/tcp/5", &listening), of(&[Scope::Public]));
    assert_eq!(told_of(&host, "/dns4/peer.example/tcp/5", &listening), of(&[Scope::Public]));
    assert_eq!(told_of(&host, "/ip4/192.168.1.3/tcp/5", &listening), of(&[Scope::Public, Scope::Private]));
    assert_eq!(told_of(&host, "/ip4/127.0.0.1/tcp/5", &listening), listening, "a local peer hears every one");
}

/// A transport whose listener lists the wildcard it is bound to, as a
/// TCP listener does when the interfaces cannot be listed.
struct Wildcard;

struct WildcardListener;

impl Transport for Wildcard {
    type Stream = tokio::io::DuplexStream;
    type Listener = WildcardListener;
    type Error = std::io::Error;

    fn can_dial(&self, _: &Multiaddr) -> bool {
        false
    }

    fn can_listen(&self, _: &Multiaddr) -> bool {
        true
    }

    async fn dial(&self, _: &Multiaddr) -> std::io::Result<Self::Stream> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    async fn listen(&self, _: &Multiaddr) -> std::io::Result<WildcardListener> {
        Ok(WildcardListener)
    }
}

impl Listener for WildcardListener {
    type Stream = tokio::io::DuplexStream;
    type Error = std::io::Error;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        vec![addr("/ip4/0.0.0.0/tcp/4001"), addr("/ip6/::/tcp/4001")]
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Stream, Multiaddr)> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn unspecified_addresses_are_told_to_no_one() {
    let keypair = Keypair::generate_ed25519();
    let host = Host::builder(&keypair, Wildcard, strata_noise::Config::new, strata_mplex::Config::default())
        .build()
        .await
        .unwrap();
    let listening = host.listen(addr("/ip4/0.0.0.0/tcp/4001")).await.unwrap();
    assert_eq!(host.listen_addrs(), listening, "listed, as the listener gave them");
    host.add_external_addr(addr("/ip4/0.0.0.0/tcp/4002"));
    for remote in ["/ip4/127.0.0.1/tcp/5", "/ip6/::1/tcp/5", "/ip4/192.168.1.3/tcp/5", "/ip4/198.18.0.2/tcp/5"] {
        let told = host.advertised_addrs(&addr(remote));
        assert!(told.is_empty(), "{remote} is told {told:?}");
    }
}
