//! The whole stack through the facade, over TCP on 127.0.0.1: TCP, Noise
//! and mplex composed by the host, with an echo protocol and friends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use sha2::{Digest, Sha256};
use strata::{Event, Host, Keypair, Multiaddr, PeerId, Stream};
use strata_testkit::{eventually, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ECHO: &str = "/echo/1.0.0";

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

async fn echo(mut stream: Stream) -> std::io::Result<()> {
    let mut data = Vec::new();
    stream.read_to_end(&mut data).await?;
    stream.write_all(&data).await?;
    stream.shutdown().await
}

/// A host listening on loopback that echoes on `/echo/1.0.0`.
async fn server() -> Host {
    let host = strata::builder(&Keypair::generate_ed25519()).listen(loopback()).build().await.unwrap();
    host.handle(ECHO, echo).unwrap();
    host
}

async fn client() -> Host {
    strata::builder(&Keypair::generate_ed25519()).build().await.unwrap()
}

/// The server's first address, with its peer id.
fn address_of(host: &Host) -> Multiaddr {
    host.listen_addrs()[0].clone().with_p2p(host.peer_id()).unwrap()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| i.to_le_bytes()[0].wrapping_mul(7).wrapping_add(seed) ^ i.to_le_bytes()[1]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_streams_echo_a_mib_each() {
    let (server, client) = (server().await, client().await);
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    assert_eq!(peer, server.peer_id());
    let mut tasks = Vec::new();
    for i in 0..100u8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let data = pattern(1 << 20, i);
            let stream = client.open_stream(peer, &[ECHO]).await.unwrap();
            assert_eq!(stream.protocol(), ECHO);
            let (mut reader, mut writer) = tokio::io::split(stream);
            let send = async {
                writer.write_all(&data).await.unwrap();
                writer.shutdown().await.unwrap();
            };
            let mut echoed = Vec::new();
            tokio::join!(send, async { reader.read_to_end(&mut echoed).await.unwrap() });
            assert_eq!(Sha256::digest(&echoed), Sha256::digest(&data), "stream {i}");
        }));
    }
    for task in tasks {
        within(task).await.unwrap();
    }
    within(client.shutdown()).await;
    within(server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_of_256_mib() {
    const SINK: &str = "/sink/1.0.0";
    let server = server().await;
    server
        .handle(SINK, |mut stream: Stream| async move {
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match stream.read(&mut buf).await? {
                    0 => break,
                    n => hasher.update(&buf[..n]),
                }
            }
            stream.write_all(&hasher.finalize()).await?;
            stream.shutdown().await
        })
        .unwrap();
    let client = client().await;
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let mut stream = within(client.open_stream(peer, &[SINK])).await.unwrap();
    let block = pattern(1 << 20, 3);
    let mut expected = Sha256::new();
    let sending = async {
        for _ in 0..256 {
            stream.write_all(&block).await.unwrap();
            expected.update(&block);
        }
        stream.shutdown().await.unwrap();
        let mut digest = Vec::new();
        stream.read_to_end(&mut digest).await.unwrap();
        digest
    };
    // 256 MiB through Noise and a muxer in a debug build on a loaded
    // machine: more than testkit's 30 s bound for one step.
    let digest = tokio::time::timeout(Duration::from_mins(2), sending).await.expect("256 MiB sent and hashed");
    assert_eq!(digest, expected.finalize().to_vec());
}

#[tokio::test]
async fn half_close_lets_the_other_side_answer() {
    let server = server().await;
    let client = client().await;
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let mut stream = within(client.open_stream(peer, &[ECHO])).await.unwrap();
    stream.write_all(b"are you there?").await.unwrap();
    stream.shutdown().await.unwrap(); // our side is closed; the server can still write
    let mut answer = Vec::new();
    within(stream.read_to_end(&mut answer)).await.unwrap();
    assert_eq!(answer, b"are you there?");
}

#[tokio::test]
async fn a_reset_is_seen_by_the_other_side() {
    const DROPPER: &str = "/dropper/1.0.0";
    let server = server().await;
    server
        .handle(DROPPER, |mut stream: Stream| async move {
            let mut first = [0u8; 1];
            stream.read_exact(&mut first).await?;
            drop(stream); // not shut down: a reset
            Ok(())
        })
        .unwrap();
    let client = client().await;
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let mut stream = within(client.open_stream(peer, &[DROPPER])).await.unwrap();
    stream.write_all(b"x").await.unwrap();
    stream.flush().await.unwrap();
    let mut buf = [0u8; 8];
    let err = within(stream.read(&mut buf)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn streams_past_the_limit_are_reset_and_the_others_work() {
    const HOLD: &str = "/hold/1.0.0";
    let keypair = Keypair::generate_ed25519();
    let server = Host::builder(
        &keypair,
        strata::tcp::TcpTransport::default(),
        strata::noise::Config::new,
        strata::mplex::Config::default().with_max_streams(4),
    )
    .listen(loopback())
    .build()
    .await
    .unwrap();
    server.handle(HOLD, echo).unwrap();
    let client = client().await;
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..6 {
        match within(client.open_stream(peer, &[HOLD])).await {
            Ok(stream) => open.push(stream),
            Err(strata::host::Error::Negotiation(_)) => refused += 1,
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!((open.len(), refused), (4, 2));
    let mut first = open.remove(0);
    first.write_all(b"still here").await.unwrap();
    first.shutdown().await.unwrap();
    let mut answer = Vec::new();
    within(first.read_to_end(&mut answer)).await.unwrap();
    assert_eq!(answer, b"still here");
}

#[tokio::test]
async fn an_unknown_protocol_is_refused() {
    let (server, client) = (server().await, client().await);
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let err = within(client.open_stream(peer, &["/nope/1.0.0"])).await.unwrap_err();
    assert!(
        matches!(&err, strata::host::Error::Negotiation(strata::core::Error::ProtocolsRefused(p)) if p == &["/nope/1.0.0"]),
        "{err}"
    );
    // The connection is unharmed.
    let mut stream = within(client.open_stream(peer, &["/nope/1.0.0", ECHO])).await.unwrap();
    assert_eq!(stream.protocol(), ECHO);
    stream.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dial_with_the_wrong_peer_id_is_refused() {
    let (server, client) = (server().await, client().await);
    let impostor = PeerId::random();
    let addr = server.listen_addrs()[0].clone().with_p2p(impostor).unwrap();
    let err = within(client.dial(addr)).await.unwrap_err();
    let strata::host::Error::Dial(cause) = &err else { panic!("{err}") };
    assert!(
        matches!(**cause, strata::DialError::PeerIdMismatch { expected, actual, .. } if expected == impostor && actual == server.peer_id()),
        "{err}"
    );
    assert!(!client.is_connected(server.peer_id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_silent_peers_are_dropped_while_others_work() {
    let keypair = Keypair::generate_ed25519();
    let config = strata::host::Config::default().with_upgrade_timeout(Duration::from_millis(500));
    let server = strata::builder(&keypair).config(config).listen(loopback()).build().await.unwrap();
    server.handle(ECHO, echo).unwrap();
    let target = server.listen_addrs()[0].to_string();
    let socket: std::net::SocketAddr = {
        let mut parts = target.split('/').skip(2);
        format!("{}:{}", parts.next().unwrap(), parts.nth(1).unwrap()).parse().unwrap()
    };
    let mut garbage = tokio::net::TcpStream::connect(socket).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: strata\r\n\r\n").await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(socket).await.unwrap();

    // A well-behaved peer meanwhile.
    let client = client().await;
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let mut stream = within(client.open_stream(peer, &[ECHO])).await.unwrap();
    stream.write_all(b"fine").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    within(stream.read_to_end(&mut answer)).await.unwrap();
    assert_eq!(answer, b"fine");

    // Both bad peers are disconnected (their reads end, with EOF or a
    // reset) well within a few upgrade timeouts.
    let mut sink = Vec::new();
    let bound = Duration::from_secs(5);
    assert!(tokio::time::timeout(bound, garbage.read_to_end(&mut sink)).await.is_ok(), "garbage peer kept");
    assert!(tokio::time::timeout(bound, silent.read_to_end(&mut sink)).await.is_ok(), "silent peer kept");
    assert!(client.is_connected(server.peer_id()), "the good connection is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_dials_both_work() {
    let (a, b) = (server().await, server().await);
    let (to_b, to_a) = within(async { tokio::join!(a.dial(address_of(&b)), b.dial(address_of(&a))) }).await;
    assert_eq!((to_b.unwrap(), to_a.unwrap()), (b.peer_id(), a.peer_id()));
    for (from, to) in [(&a, &b), (&b, &a)] {
        let mut stream = within(from.open_stream(to.peer_id(), &[ECHO])).await.unwrap();
        stream.write_all(b"both ways").await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = Vec::new();
        within(stream.read_to_end(&mut answer)).await.unwrap();
        assert_eq!(answer, b"both ways");
    }
}

#[tokio::test]
async fn events_report_connections_and_listen_addresses() {
    let server = server().await;
    let client = client().await;
    let mut server_events = server.events();
    let mut client_events = client.events();
    let addrs = within(client.listen(loopback())).await.unwrap();
    assert!(matches!(within(client_events.recv()).await.unwrap(), Event::ListenAddr { addr } if addr == addrs[0]));
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    assert!(matches!(
        within(client_events.recv()).await.unwrap(),
        Event::ConnectionEstablished { peer: p, endpoint: strata::Endpoint::Dialer, .. } if p == peer
    ));
    assert!(matches!(
        within(server_events.recv()).await.unwrap(),
        Event::ConnectionEstablished { peer: p, endpoint: strata::Endpoint::Listener, .. } if p == client.peer_id()
    ));
    within(client.disconnect(peer)).await;
    assert!(
        matches!(within(client_events.recv()).await.unwrap(), Event::ConnectionClosed { peer: p, .. } if p == peer)
    );
    assert!(matches!(within(server_events.recv()).await.unwrap(), Event::ConnectionClosed { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_task_behind() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let (server, client) = (server().await, client().await);
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let mut streams = Vec::new();
    for _ in 0..5 {
        // Streams left open on purpose: shutdown must end their handlers.
        let mut stream = within(client.open_stream(peer, &[ECHO])).await.unwrap();
        stream.write_all(b"pending").await.unwrap();
        stream.flush().await.unwrap();
        streams.push(stream);
    }
    assert!(metrics.num_alive_tasks() > before);
    within(client.shutdown()).await;
    within(server.shutdown()).await;
    drop((client, server, streams));
    eventually("every task of both hosts ends", async || metrics.num_alive_tasks() <= before).await;
}

#[tokio::test]
async fn the_peer_store_remembers_dialed_addresses_for_dial_peer() {
    let (server, client) = (server().await, client().await);
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let info = client.peer_info(peer).expect("a dialed peer is known");
    assert_eq!(info.addrs, [server.listen_addrs()[0].clone()], "stored without the /p2p/ suffix");
    within(client.disconnect(peer)).await;
    eventually("the connection is gone", async || !client.is_connected(peer)).await;
    assert_eq!(within(client.dial_peer(peer)).await.unwrap(), peer);
    assert!(client.is_connected(peer));
    assert!(client.known_peers().contains(&peer));
    let unknown = PeerId::random();
    assert!(
        matches!(within(client.dial_peer(unknown)).await, Err(strata::host::Error::NotConnected(p)) if p == unknown)
    );
}

#[tokio::test]
async fn changes_to_the_served_protocols_are_reported() {
    let host = client().await;
    let mut events = host.events();
    host.handle("/new/1.0.0", echo).unwrap();
    assert!(matches!(within(events.recv()).await.unwrap(), Event::ProtocolsChanged));
    assert_eq!(host.protocols(), ["/new/1.0.0"]);
    assert!(host.remove_handler("/new/1.0.0"));
    assert!(matches!(within(events.recv()).await.unwrap(), Event::ProtocolsChanged));
    assert!(host.protocols().is_empty());
}
