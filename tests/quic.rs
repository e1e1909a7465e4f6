//! The default host over QUIC: the whole protocol set (ping, identify,
//! request/response, floodsub, gossipsub, Kademlia) between nodes that
//! reach each other only by `/udp/<port>/quic-v1` addresses, a dial of the
//! wrong peer id failing, and one host serving TCP and QUIC side by side.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata::{Host, Keypair, Multiaddr, PeerId, floodsub, gossipsub, host::RequestConfig, identify, kad, ping};
use strata_testkit::{eventually, within};

fn quic() -> Multiaddr {
    "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()
}

/// A default host listening on QUIC only.
async fn node() -> Host {
    strata::builder(&Keypair::generate_ed25519()).listen(quic()).build().await.unwrap()
}

fn quic_addr(host: &Host) -> Multiaddr {
    let addr = host.listen_addrs().into_iter().find(|addr| addr.to_string().contains("/quic-v1")).unwrap();
    addr.with_p2p(host.peer_id()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_identify_and_a_request_over_quic() {
    let (a, b) = (node().await, node().await);
    let identify_a = identify::Identify::attach(&a, identify::Config::default()).unwrap();
    let _identify_b = identify::Identify::attach(&b, identify::Config::default()).unwrap();
    let ping_a = ping::Ping::attach(&a, ping::Config::default()).unwrap();
    let _ping_b = ping::Ping::attach(&b, ping::Config::default()).unwrap();
    let limits = RequestConfig::default().with_max_request_len(64).with_max_response_len(64);
    b.serve("/strata/test/upper/1.0.0", limits.clone(), |_, request| async move {
        Ok(String::from_utf8_lossy(&request).to_uppercase().into_bytes())
    })
    .unwrap();

    assert_eq!(within(a.dial(quic_addr(&b))).await.unwrap(), b.peer_id());
    within(ping_a.ping(b.peer_id())).await.unwrap();
    let info = within(identify_a.identify(b.peer_id())).await.unwrap();
    assert!(info.listen_addrs.iter().any(|addr| addr.to_string().ends_with("/quic-v1")), "{:?}", info.listen_addrs);
    assert!(info.observed_addr.as_ref().is_some_and(|addr| addr.to_string().contains("/udp/")), "{info:?}");
    let answer = within(a.request(b.peer_id(), "/strata/test/upper/1.0.0", b"quic", &limits)).await.unwrap();
    assert_eq!(answer, b"QUIC");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floodsub_and_gossipsub_deliver_over_quic() {
    let (a, b) = (node().await, node().await);
    let flood_a = floodsub::Floodsub::attach(&a, floodsub::Config::default()).unwrap();
    let flood_b = floodsub::Floodsub::attach(&b, floodsub::Config::default()).unwrap();
    within(a.dial(quic_addr(&b))).await.unwrap();
    let _sub_a = flood_a.subscribe("flood");
    let mut sub_b = flood_b.subscribe("flood");
    eventually("a sees b subscribed", async || flood_a.peers("flood").contains(&b.peer_id())).await;
    flood_a.publish("flood", b"over quic").unwrap();
    assert_eq!(within(sub_b.next()).await.unwrap().data, b"over quic");

    let (c, d) = (node().await, node().await);
    let gossip_c = gossipsub::Gossipsub::attach(&c, gossipsub::Config::default()).unwrap();
    let gossip_d = gossipsub::Gossipsub::attach(&d, gossipsub::Config::default()).unwrap();
    within(c.dial(quic_addr(&d))).await.unwrap();
    let _sub_c = gossip_c.subscribe("gossip");
    let mut sub_d = gossip_d.subscribe("gossip");
    eventually("c sees d subscribed", async || gossip_c.peers("gossip").contains(&d.peer_id())).await;
    gossip_c.publish("gossip", b"meshed over quic").unwrap();
    assert_eq!(within(sub_d.next()).await.unwrap().data, b"meshed over quic");
    for host in [a, b, c, d] {
        host.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kademlia_finds_a_record_over_quic() {
    let mut nodes = Vec::new();
    for _ in 0..5 {
        let host = node().await;
        let identify = identify::Identify::attach(&host, identify::Config::default()).unwrap();
        let dht = kad::Kad::attach(&host, kad::Config::default().with_bootstrap_interval(None)).unwrap();
        nodes.push((host, dht, identify));
    }
    let (first, first_addr) = (nodes[0].0.peer_id(), quic_addr(&nodes[0].0));
    for (_, dht, _) in &nodes[1..] {
        dht.add_address(first, &first_addr);
        within(dht.bootstrap()).await.unwrap();
    }
    for (_, dht, _) in &nodes {
        within(dht.bootstrap()).await.unwrap();
    }
    within(nodes[1].1.put_value(b"transport", b"quic".to_vec())).await.unwrap();
    assert_eq!(within(nodes[4].1.get_value(b"transport")).await.unwrap(), b"quic");
    for (host, _, _) in nodes {
        host.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_of_the_wrong_peer_id_fails_and_one_host_serves_tcp_and_quic() {
    let (a, b) = (node().await, node().await);
    let wrong = quic_addr(&b).to_string().replace(&b.peer_id().to_string(), &PeerId::random().to_string());
    assert!(within(a.dial(wrong.parse().unwrap())).await.is_err());
    assert!(!a.is_connected(b.peer_id()));

    let both = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .listen(quic())
        .build()
        .await
        .unwrap();
    let addrs: Vec<String> = both.listen_addrs().iter().map(ToString::to_string).collect();
    assert!(
        addrs.iter().any(|addr| addr.contains("/tcp/")) && addrs.iter().any(|addr| addr.ends_with("/quic-v1")),
        "{addrs:?}"
    );
    let tcp = both.listen_addrs().into_iter().find(|addr| addr.to_string().contains("/tcp/")).unwrap();
    let over_tcp = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    assert_eq!(within(over_tcp.dial(tcp.with_p2p(both.peer_id()).unwrap())).await.unwrap(), both.peer_id());
    assert_eq!(within(a.dial(quic_addr(&both))).await.unwrap(), both.peer_id());
    for host in [a, b, both, over_tcp] {
        host.shutdown().await;
    }
}
