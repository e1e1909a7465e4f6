//! Resolution against a DNS server the test starts on 127.0.0.1 with its
//! own records (`strata_testkit::dns`): no test asks a real resolver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::{Duration, Instant},
};

use strata_core::{Keypair, Multiaddr, PeerId};
use strata_dns::{Config, Error, Resolver};
use strata_testkit::{
    dns::{DnsServer, Zone},
    within,
};

fn peer(seed: u8) -> PeerId {
    Keypair::ed25519_from_secret([seed; 32]).peer_id()
}

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

fn texts(addrs: &[Multiaddr]) -> Vec<String> {
    addrs.iter().map(ToString::to_string).collect()
}

fn resolver(server: &DnsServer) -> Resolver {
    Resolver::new(Config::default().with_nameserver(server.addr()))
}

#[tokio::test]
async fn nested_links_lead_to_the_dialed_peer_only() {
    let (a, b) = (peer(1), peer(2));
    let zone = Zone::new()
        .txt("_dnsaddr.test.example", &format!("dnsaddr=/dnsaddr/nested.test.example/p2p/{a}"))
        .txt("_dnsaddr.test.example", &format!("dnsaddr=/ip4/10.0.0.2/tcp/4002/p2p/{b}"))
        .txt("_dnsaddr.test.example", "dnsaddr=/ip4/10.0.0.3/tcp/4003")
        .txt("_dnsaddr.test.example", "v=spf1 -all")
        .txt("_dnsaddr.nested.test.example", &format!("dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/{a}"))
        .txt("_dnsaddr.nested.test.example", &format!("dnsaddr=/dns4/quic.test.example/udp/4001/quic-v1/p2p/{a}"))
        .a("quic.test.example", Ipv4Addr::new(10, 0, 0, 4));
    let server = DnsServer::start(zone).await;

    let resolved = within(resolver(&server).resolve(&addr(&format!("/dnsaddr/test.example/p2p/{a}")))).await.unwrap();
    assert_eq!(
        texts(&resolved),
        [format!("/ip4/10.0.0.1/tcp/4001/p2p/{a}"), format!("/ip4/10.0.0.4/udp/4001/quic-v1/p2p/{a}")]
    );

    // Without a peer id, every record applies (a nested link still keeps
    // only the records that end like it).
    let resolved = within(resolver(&server).resolve(&addr("/dnsaddr/test.example"))).await.unwrap();
    assert_eq!(
        texts(&resolved),
        [
            format!("/ip4/10.0.0.1/tcp/4001/p2p/{a}"),
            format!("/ip4/10.0.0.4/udp/4001/quic-v1/p2p/{a}"),
            format!("/ip4/10.0.0.2/tcp/4002/p2p/{b}"),
            "/ip4/10.0.0.3/tcp/4003".to_owned(),
        ]
    );
}

#[tokio::test]
async fn dns_names_become_ips_and_keep_the_rest() {
    let a = peer(1);
    let zone = Zone::new()
        .a("node.test.example", Ipv4Addr::new(10, 0, 0, 4))
        .aaaa("node.test.example", Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 4))
        .a("v4only.test.example", Ipv4Addr::new(10, 0, 0, 5));
    let server = DnsServer::start(zone).await;
    let resolver = resolver(&server);

    let quic = format!("/dns4/node.test.example/udp/4001/quic-v1/p2p/{a}");
    assert_eq!(
        texts(&within(resolver.resolve(&addr(&quic))).await.unwrap()),
        [format!("/ip4/10.0.0.4/udp/4001/quic-v1/p2p/{a}")]
    );
    let tcp = within(resolver.resolve(&addr("/dns6/NODE.test.example./tcp/1"))).await.unwrap();
    assert_eq!(texts(&tcp), ["/ip6/fd00::4/tcp/1"]);
    // `/dns`: both families, IPv6 first; a name with only A records is fine.
    let both = within(resolver.resolve(&addr("/dns/node.test.example/tcp/1"))).await.unwrap();
    assert_eq!(texts(&both), ["/ip6/fd00::4/tcp/1", "/ip4/10.0.0.4/tcp/1"]);
    let v4 = within(resolver.resolve(&addr("/dns/v4only.test.example/tcp/1"))).await.unwrap();
    assert_eq!(texts(&v4), ["/ip4/10.0.0.5/tcp/1"]);
    // A family the name lacks is a clear error.
    let error = within(resolver.resolve(&addr("/dns6/v4only.test.example/tcp/1"))).await.unwrap_err();
    assert!(matches!(error, Error::NoRecords { record: "AAAA", .. }), "{error}");
}

#[tokio::test]
async fn addresses_without_a_name_pass_through_without_a_query() {
    let server = DnsServer::start(Zone::new()).await;
    for text in ["/ip4/127.0.0.1/tcp/1", "/ip6/::1/udp/1/quic-v1", "/memory/7", ""] {
        assert_eq!(within(resolver(&server).resolve(&addr(text))).await.unwrap(), [addr(text)]);
    }
    assert_eq!(server.queries(), 0);
}

/// `_dnsaddr.l0.test.example` links to `l1`, …, and `l<links>` holds the
/// address.
fn chain(links: usize, a: PeerId) -> Zone {
    let zone = (0..links).fold(Zone::new(), |zone, i| {
        zone.txt(&format!("_dnsaddr.l{i}.test.example"), &format!("dnsaddr=/dnsaddr/l{}.test.example/p2p/{a}", i + 1))
    });
    zone.txt(&format!("_dnsaddr.l{links}.test.example"), &format!("dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/{a}"))
}

#[tokio::test]
async fn links_nest_up_to_the_depth_limit() {
    let a = peer(1);
    let dialed = addr(&format!("/dnsaddr/l0.test.example/p2p/{a}"));
    // Four lookups deep (the default limit) resolves ...
    let server = DnsServer::start(chain(3, a)).await;
    let resolved = within(resolver(&server).resolve(&dialed)).await.unwrap();
    assert_eq!(texts(&resolved), [format!("/ip4/10.0.0.1/tcp/1/p2p/{a}")]);

    // ... five does not, and says why.
    let server = DnsServer::start(chain(4, a)).await;
    let error = within(resolver(&server).resolve(&dialed)).await.unwrap_err();
    match error {
        Error::TooDeep { addr, max: 4 } => assert_eq!(addr.to_string(), format!("/dnsaddr/l4.test.example/p2p/{a}")),
        other => panic!("{other}"),
    }
    assert_eq!(server.queries(), 4, "the link past the limit is not looked up");

    // The limit is the config's.
    let shallow = Resolver::new(Config::default().with_nameserver(server.addr()).with_max_depth(2));
    assert!(matches!(within(shallow.resolve(&dialed)).await, Err(Error::TooDeep { max: 2, .. })));
}

#[tokio::test]
async fn a_loop_of_links_ends() {
    let a = peer(1);
    let zone = Zone::new()
        .txt("_dnsaddr.a.test.example", &format!("dnsaddr=/dnsaddr/b.test.example/p2p/{a}"))
        .txt("_dnsaddr.b.test.example", &format!("dnsaddr=/dnsaddr/A.test.example./p2p/{a}"));
    let server = DnsServer::start(zone).await;
    let error =
        within(resolver(&server).resolve(&addr(&format!("/dnsaddr/a.test.example/p2p/{a}")))).await.unwrap_err();
    assert!(matches!(error, Error::Loop { .. }), "{error}");
    assert_eq!(server.queries(), 2, "each name is asked once");
}

/// `_dnsaddr.many.test.example` with `count` addresses of peer `a`.
fn many(count: u8, a: PeerId) -> Zone {
    (0..count).fold(Zone::new(), |zone, i| {
        zone.txt("_dnsaddr.many.test.example", &format!("dnsaddr=/ip4/10.0.1.{i}/udp/4001/quic-v1/p2p/{a}"))
    })
}

#[tokio::test]
async fn too_many_answers_are_cut_to_the_limits() {
    let a = peer(1);
    let dialed = addr(&format!("/dnsaddr/many.test.example/p2p/{a}"));
    // 200 records do not fit a UDP answer: the server truncates it and the
    // client asks again over TCP.
    let server = DnsServer::start(many(200, a)).await;
    let resolved = within(resolver(&server).resolve(&dialed)).await.unwrap();
    assert_eq!(resolved.len(), 64, "the default address limit");
    assert_eq!(
        resolved[0].to_string(),
        format!("/ip4/10.0.1.0/udp/4001/quic-v1/p2p/{a}"),
        "the first records are kept"
    );
    assert_eq!(server.queries(), 2, "over UDP (truncated), then over TCP");

    let config = Config::default().with_nameserver(server.addr());
    let few_records = Resolver::new(config.clone().with_max_txt_records(10));
    assert_eq!(within(few_records.resolve(&dialed)).await.unwrap().len(), 10);
    let few_addrs = Resolver::new(config.with_max_addrs(3));
    assert_eq!(within(few_addrs.resolve(&dialed)).await.unwrap().len(), 3);
}

#[tokio::test]
async fn lookups_are_budgeted() {
    let a = peer(1);
    let zone = (0..5).fold(Zone::new(), |zone, i| {
        zone.txt("_dnsaddr.fan.test.example", &format!("dnsaddr=/dnsaddr/n{i}.test.example/p2p/{a}"))
            .txt(&format!("_dnsaddr.n{i}.test.example"), &format!("dnsaddr=/ip4/10.0.2.{i}/tcp/1/p2p/{a}"))
    });
    let server = DnsServer::start(zone).await;
    let budgeted = Resolver::new(Config::default().with_nameserver(server.addr()).with_max_lookups(3));
    let resolved = within(budgeted.resolve(&addr(&format!("/dnsaddr/fan.test.example/p2p/{a}")))).await.unwrap();
    assert_eq!(texts(&resolved), [format!("/ip4/10.0.2.0/tcp/1/p2p/{a}"), format!("/ip4/10.0.2.1/tcp/1/p2p/{a}")]);
    assert_eq!(server.queries(), 3);
}

#[tokio::test]
async fn a_whole_resolution_is_bounded_in_time() {
    // One link answers, then four silent names: each lookup would wait its
    // own timeout (400 ms), 1.6 s in all; the walk stops at 1 s with the
    // address found so far.
    let a = peer(1);
    let mut zone = Zone::new().txt("_dnsaddr.slow.test.example", &format!("dnsaddr=/ip4/10.0.3.1/tcp/1/p2p/{a}"));
    for i in 0..4 {
        let name = format!("s{i}.test.example");
        zone = zone.txt("_dnsaddr.slow.test.example", &format!("dnsaddr=/dnsaddr/{name}/p2p/{a}"));
        zone = zone.silent(&format!("_dnsaddr.{name}"));
    }
    let server = DnsServer::start(zone).await;
    let config = Config::default()
        .with_nameserver(server.addr())
        .with_timeout(Duration::from_millis(400))
        .with_resolve_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let resolved = within(Resolver::new(config.clone()).resolve(&addr(&format!("/dnsaddr/slow.test.example/p2p/{a}"))))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(texts(&resolved), [format!("/ip4/10.0.3.1/tcp/1/p2p/{a}")]);
    assert!(took >= Duration::from_millis(900) && took < Duration::from_millis(1500), "{took:?}");
    // With nothing found in time, the error says so.
    let silent = DnsServer::start(Zone::new().silent("_dnsaddr.x.test.example")).await;
    let config = config.with_nameserver(silent.addr()).with_timeout(Duration::from_secs(5));
    let error = within(Resolver::new(config).resolve(&addr("/dnsaddr/x.test.example"))).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { after, .. } if after == Duration::from_secs(1)), "{error:?}");
}

#[tokio::test]
async fn missing_names_are_clear_errors() {
    let (a, b) = (peer(1), peer(2));
    let zone = Zone::new()
        .txt("_dnsaddr.other.test.example", &format!("dnsaddr=/ip4/10.0.0.2/tcp/1/p2p/{b}"))
        .txt("_dnsaddr.partly.test.example", &format!("dnsaddr=/dnsaddr/gone.test.example/p2p/{a}"))
        .txt("_dnsaddr.partly.test.example", &format!("dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/{a}"))
        .txt("_dnsaddr.broken.test.example", &format!("dnsaddr=/dnsaddr/gone.test.example/p2p/{a}"));
    let server = DnsServer::start(zone).await;
    let dns = resolver(&server);
    let resolve = |text: String| {
        let dns = dns.clone();
        async move { within(dns.resolve(&addr(&text))).await }
    };

    let error = resolve(format!("/dnsaddr/missing.test.example/p2p/{a}")).await.unwrap_err();
    assert!(matches!(&error, Error::NoSuchDomain { name } if name == "_dnsaddr.missing.test.example"), "{error}");
    let error = resolve("/dns4/missing.test.example/tcp/1".to_owned()).await.unwrap_err();
    assert!(matches!(&error, Error::NoSuchDomain { name } if name == "missing.test.example"), "{error}");
    // Records only for another peer: nothing to dial.
    let error = resolve(format!("/dnsaddr/other.test.example/p2p/{a}")).await.unwrap_err();
    assert!(matches!(error, Error::NoAddresses { .. }), "{error}");
    // A broken link loses its branch only ...
    let resolved = resolve(format!("/dnsaddr/partly.test.example/p2p/{a}")).await.unwrap();
    assert_eq!(texts(&resolved), [format!("/ip4/10.0.0.1/tcp/1/p2p/{a}")]);
    // ... and is the error when it was the only one.
    let error = resolve(format!("/dnsaddr/broken.test.example/p2p/{a}")).await.unwrap_err();
    assert!(matches!(&error, Error::NoSuchDomain { name } if name == "_dnsaddr.gone.test.example"), "{error}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = DnsServer::silent().await;
    let timeout = Duration::from_millis(300);
    let resolver = Resolver::new(Config::default().with_nameserver(server.addr()).with_timeout(timeout));
    let started = Instant::now();
    let error = within(resolver.resolve(&addr("/dnsaddr/test.example"))).await.unwrap_err();
    assert!(
        matches!(&error, Error::Timeout { name, after } if name == "_dnsaddr.test.example" && *after == timeout),
        "{error}"
    );
    assert!(started.elapsed() < timeout * 5, "took {:?}", started.elapsed());
    assert!(server.queries() >= 1, "the query reached the server");
}
