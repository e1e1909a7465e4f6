//! Host v2 through the facade: the reliable lifecycle under a burst of
//! connections, shutdown by dropping the last handle with every service
//! attached, muxer negotiation from ordered lists, request/response.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use strata::{
    ConnectionEvent, Endpoint, Host, Keypair, Multiaddr, floodsub,
    host::{Builder, Config, RequestConfig, RequestError, Upgrader},
    identify, mplex, noise, ping, tcp,
};
use strata_testkit::{eventually, within};

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_connections_leaves_nothing_behind() {
    const CLIENTS: usize = 100;
    const PER_CLIENT: usize = 5;
    // A tiny event backlog (the broadcast lags) and lifecycle queue (the
    // host must wait for the protocols): neither may lose anything.
    // All clients share 127.0.0.1: the per-address admission limits are
    // lifted for them.
    let config = Config::default()
        .with_event_capacity(2)
        .with_lifecycle_capacity(4)
        .with_max_pending_upgrades(1024)
        .with_max_pending_upgrades_per_ip(1024, 1024)
        .with_accept_rate_per_ip(100_000);
    let server = strata::builder(&Keypair::generate_ed25519()).config(config).listen(loopback()).build().await.unwrap();
    let server_ping = ping::Ping::attach(&server, ping::Config::default()).unwrap();
    let _server_identify = identify::Identify::attach(&server, identify::Config::default()).unwrap();
    let server_pubsub = floodsub::Floodsub::attach(&server, floodsub::Config::default()).unwrap();
    let _topic = server_pubsub.subscribe("t");
    let addr = server.listen_addrs()[0].clone(); // no /p2p/: every dial is a new connection

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let client = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
        let pubsub = floodsub::Floodsub::attach(&client, floodsub::Config::default()).unwrap();
        let subscription = pubsub.subscribe("t");
        ping::Ping::attach(&client, ping::Config::default()).unwrap();
        identify::Identify::attach(&client, identify::Config::default()).unwrap();
        clients.push((client, pubsub, subscription));
    }
    let dials: Vec<_> = clients
        .iter()
        .flat_map(|(client, ..)| (0..PER_CLIENT).map(|_| (client.clone(), addr.clone())))
        .map(|(client, addr)| tokio::spawn(async move { client.dial(addr).await }))
        .collect();
    for dial in dials {
        within(dial).await.unwrap().unwrap();
    }
    // The server registers each connection once its protocols have room
    // for the event: it may trail the dialers a little.
    eventually("the server counts every client", async || server.connected_peers().len() == CLIENTS).await;
    assert!(clients.iter().all(|(client, ..)| client.connection_count(server.peer_id()) == PER_CLIENT));
    // Every subscription announced, both ways.
    eventually("the server sees every client subscribed", async || server_pubsub.peers("t").len() == CLIENTS).await;
    for (_, pubsub, _) in &clients {
        eventually("each client sees the server subscribed", async || pubsub.peers("t") == [server.peer_id()]).await;
    }
    server_ping.ping(clients[0].0.peer_id()).await.unwrap();

    // Everyone leaves at once.
    let leaving: Vec<_> =
        clients.into_iter().map(|(client, ..)| tokio::spawn(async move { client.shutdown().await })).collect();
    for left in leaving {
        within(left).await.unwrap();
    }
    eventually("every client is gone", async || server.connected_peers().is_empty()).await;
    eventually("the services forget every client", async || {
        server_pubsub.tracked_peers() == 0 && server_ping.tracked_peers() == 0
    })
    .await;
    assert!(server_pubsub.peers("t").is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_starts_with_open_connections_and_flags_first_and_last() {
    let server = strata::builder(&Keypair::generate_ed25519()).listen(loopback()).build().await.unwrap();
    let client = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    let addr = server.listen_addrs()[0].clone();
    within(client.dial(addr.clone())).await.unwrap();
    let mut lifecycle = client.lifecycle();
    let first = within(lifecycle.next()).await.unwrap();
    assert!(matches!(first, ConnectionEvent::Established { first: true, endpoint: Endpoint::Dialer, .. }), "{first:?}");
    within(client.dial(addr)).await.unwrap();
    let second = within(lifecycle.next()).await.unwrap();
    assert!(matches!(second, ConnectionEvent::Established { first: false, .. }), "{second:?}");
    assert_eq!(client.connection_count(server.peer_id()), 2);
    within(client.disconnect(server.peer_id())).await;
    let closed = [within(lifecycle.next()).await.unwrap(), within(lifecycle.next()).await.unwrap()];
    assert!(matches!(closed[0], ConnectionEvent::Closed { last: false, .. }), "{closed:?}");
    assert!(matches!(closed[1], ConnectionEvent::Closed { last: true, .. }), "{closed:?}");
    client.shutdown().await;
    assert_eq!(within(lifecycle.next()).await, None, "ends at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_stops_a_host_with_every_service_attached() {
    let host = strata::builder(&Keypair::generate_ed25519()).listen(loopback()).build().await.unwrap();
    let services = (
        ping::Ping::attach(&host, ping::Config::default().with_keep_alive(Duration::from_millis(50))).unwrap(),
        identify::Identify::attach(&host, identify::Config::default()).unwrap(),
        floodsub::Floodsub::attach(&host, floodsub::Config::default()).unwrap(),
    );
    let subscription = services.2.subscribe("t");
    let addr = host.listen_addrs()[0].clone().with_p2p(host.peer_id()).unwrap();
    let peer = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    within(peer.dial(addr.clone())).await.unwrap();

    let weak = host.downgrade();
    drop(host); // the services and the subscription are still held
    within(weak.terminated()).await;
    assert!(weak.is_shut_down());
    // The listener is closed: its port is free, and a dial fails.
    let Some(strata::multiaddr::Component::Tcp(port)) = addr.iter().nth(1) else { panic!("{addr}") };
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    eventually("the peer sees the connection closed", async || !peer.is_connected(weak.peer_id())).await;
    drop((services, subscription));
    peer.shutdown().await;
}

/// mplex under another protocol name, counting its upgrades: a second
/// muxer for negotiation tests until yamux lands.
#[derive(Clone)]
struct AltMplex(Arc<AtomicUsize>);

impl strata::core::StreamMuxer for AltMplex {
    const PROTOCOL_NAME: &'static str = "/alt-mplex/1.0.0";
    type Connection<S: strata::core::ByteStream> = mplex::MplexConnection;
    type Error = <mplex::Config as strata::core::StreamMuxer>::Error;

    async fn upgrade<S: strata::core::ByteStream>(
        &self,
        stream: S,
        endpoint: Endpoint,
    ) -> Result<mplex::MplexConnection, Self::Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        strata::core::StreamMuxer::upgrade(&mplex::Config::default(), stream, endpoint).await
    }
}

/// A host offering `muxers` (`true` = the alternative name) in order;
/// returns it and how many connections used the alternative.
async fn host_with(muxers: &[bool]) -> (Host, Arc<AtomicUsize>) {
    let keypair = Keypair::generate_ed25519();
    let alt_used = Arc::new(AtomicUsize::new(0));
    let mut upgrader = Upgrader::new(tcp::TcpTransport::default()).security(noise::Config::new);
    for &alt in muxers {
        upgrader = if alt {
            upgrader.muxer(AltMplex(Arc::clone(&alt_used)))
        } else {
            upgrader.muxer(mplex::Config::default())
        };
    }
    let host = Builder::new(&keypair).upgrader(upgrader).listen(loopback()).build().await.unwrap();
    (host, alt_used)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muxers_are_negotiated_from_ordered_lists_both_ways() {
    // (dialer's list, listener's list, whether the alternative is agreed)
    let cases = [
        (vec![true, false], vec![true, false], true),  // both prefer it
        (vec![true, false], vec![false], false),       // the listener lacks it
        (vec![false], vec![true, false], false),       // the dialer lacks it
        (vec![false, true], vec![true, false], false), // the dialer's order wins
        (vec![true, false], vec![false, true], true),
    ];
    for (dialer_muxers, listener_muxers, alt) in cases {
        let (dialer, dialer_alt) = host_with(&dialer_muxers).await;
        let (listener, listener_alt) = host_with(&listener_muxers).await;
        let addr = listener.listen_addrs()[0].clone().with_p2p(listener.peer_id()).unwrap();
        within(dialer.dial(addr)).await.unwrap();
        let expected = usize::from(alt);
        assert_eq!(dialer_alt.load(Ordering::SeqCst), expected, "{dialer_muxers:?} → {listener_muxers:?}");
        eventually("the listener counts the connection", async || {
            listener_alt.load(Ordering::SeqCst) == expected && listener.is_connected(dialer.peer_id())
        })
        .await;
        // Streams work over whichever was agreed.
        listener
            .serve(
                "/upper/1.0.0",
                RequestConfig::default(),
                |_, request| async move { Ok(request.to_ascii_uppercase()) },
            )
            .unwrap();
        let answer =
            within(dialer.request(listener.peer_id(), "/upper/1.0.0", b"hi", &RequestConfig::default())).await.unwrap();
        assert_eq!(answer, b"HI");
        dialer.shutdown().await;
        listener.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_response_dials_bounds_and_answers() {
    let server = strata::builder(&Keypair::generate_ed25519()).listen(loopback()).build().await.unwrap();
    let config = RequestConfig::default().with_max_request_len(16).with_timeout(Duration::from_secs(5));
    server
        .serve("/greet/1.0.0", config.clone(), |requester, name| async move {
            Ok(format!("hello {}, {}", String::from_utf8_lossy(&name), requester.peer).into_bytes())
        })
        .unwrap();
    let client = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    // Not connected: the request dials the address the peer store knows.
    let addr = server.listen_addrs()[0].clone();
    client.update_peer(server.peer_id(), |info| info.addrs.push(addr));
    let answer = within(client.request(server.peer_id(), "/greet/1.0.0", b"ada", &config)).await.unwrap();
    assert_eq!(String::from_utf8(answer).unwrap(), format!("hello ada, {}", client.peer_id()));

    let too_large = client.request(server.peer_id(), "/greet/1.0.0", &[b'x'; 17], &config).await;
    assert!(matches!(too_large, Err(RequestError::TooLarge { len: 17, max: 16 })), "{too_large:?}");
    // A server with a smaller limit than the client's drops the request.
    let lax = RequestConfig::default();
    let refused = within(client.request(server.peer_id(), "/greet/1.0.0", &[b'x'; 100], &lax)).await;
    assert!(refused.is_err(), "{refused:?}");
    // An unknown protocol fails negotiation; the connection stays.
    let unknown = within(client.request(server.peer_id(), "/nope/1.0.0", b"", &lax)).await;
    assert!(matches!(unknown, Err(RequestError::Host(_))), "{unknown:?}");
    assert!(client.is_connected(server.peer_id()));
    client.shutdown().await;
    server.shutdown().await;
}
