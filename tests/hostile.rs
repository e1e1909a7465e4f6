//! Hostile peers against a live node (quick versions): each attack runs
//! while a well-behaved peer keeps dialing the node and pinging it, and
//! every one of its rounds must succeed. Attackers speak raw TCP from
//! their own loopback addresses (127.0.0.x, x ≥ 2), so per-address limits
//! apply to them and not to the well-behaved peer on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use strata::{Host, Keypair, Multiaddr, host::Config, identify, ping};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    task::JoinHandle,
};

const LIMIT: Duration = Duration::from_mins(1);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

/// The node under attack: ping and identify attached, short handshake
/// deadlines so the quick versions stay quick.
async fn victim(config: Config) -> (Host, ping::Ping, SocketAddr) {
    let config = config.with_first_step_timeout(Duration::from_secs(1)).with_upgrade_timeout(Duration::from_secs(2));
    let host = strata::builder(&Keypair::generate_ed25519())
        .config(config)
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let ping = ping::Ping::attach(&host, ping::Config::default()).unwrap();
    identify::Identify::attach(&host, identify::Config::default()).unwrap();
    let addr = socket_of(&host.listen_addrs()[0]);
    (host, ping, addr)
}

fn socket_of(addr: &Multiaddr) -> SocketAddr {
    let text = addr.to_string(); // /ip4/127.0.0.1/tcp/PORT
    let port: u16 = text.rsplit('/').next().unwrap().parse().unwrap();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A raw TCP connection to `to` from 127.0.0.`from`.
async fn raw_from(from: u8, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, from], 0)))?;
    socket.connect(to).await
}

/// A well-behaved peer that, until stopped, dials the node afresh and
/// pings it every `every`; returns how many rounds it ran and the failures.
fn well_behaved(
    victim: &Host,
    every: Duration,
) -> (tokio::sync::oneshot::Sender<()>, JoinHandle<(usize, Vec<String>)>) {
    let addr = victim.listen_addrs()[0].clone().with_p2p(victim.peer_id()).unwrap();
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let (mut rounds, mut failures) = (0, Vec::new());
        loop {
            let round = async {
                let host = strata::builder(&Keypair::generate_ed25519()).build().await.map_err(|e| e.to_string())?;
                let ping = ping::Ping::attach(&host, ping::Config::default()).map_err(|e| e.to_string())?;
                let peer = host.dial(addr.clone()).await.map_err(|e| format!("dial: {e}"))?;
                let outcome = ping.ping(peer).await.map_err(|e| format!("ping: {e}"));
                host.shutdown().await;
                outcome.map(|_| ())
            };
            match tokio::time::timeout(Duration::from_secs(5), round).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failures.push(error),
                Err(_) => failures.push("round timed out".into()),
            }
            rounds += 1;
            tokio::select! {
                _ = &mut stopped => return (rounds, failures),
                () = tokio::time::sleep(every) => {}
            }
        }
    });
    (stop, task)
}

async fn served_throughout(stop: tokio::sync::oneshot::Sender<()>, task: JoinHandle<(usize, Vec<String>)>) {
    let _ = stop.send(());
    let (rounds, failures) = within(task).await.unwrap();
    assert!(rounds >= 3, "only {rounds} rounds");
    assert!(failures.is_empty(), "the well-behaved peer failed {} of {rounds} rounds: {failures:?}", failures.len());
}

/// Whether the node closed `stream` (EOF or reset) within `wait`, reading
/// and discarding what it sent.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut sink = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_neither_crowd_out_peers_nor_stay() {
    let (host, _ping, addr) = victim(Config::default()).await;
    let (stop, task) = well_behaved(&host, Duration::from_millis(200));
    let mut silent = Vec::new();
    for _ in 0..300 {
        if let Ok(stream) = raw_from(2, addr).await {
            silent.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    served_throughout(stop, task).await;
    // Past the first-step deadline every silent socket was closed.
    for stream in &mut silent {
        assert!(closed_within(stream, Duration::from_secs(3)).await, "a silent socket stayed open");
    }
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_sockets_are_cut_at_the_first_step() {
    let (host, _ping, addr) = victim(Config::default()).await;
    let (stop, task) = well_behaved(&host, Duration::from_millis(200));
    let header = b"\x13/multistream/1.0.0\n\x07/noise\n";
    let started = Instant::now();
    let mut slow: Vec<_> = Vec::new();
    for _ in 0..50 {
        slow.push(raw_from(3, addr).await.unwrap());
    }
    // A byte every 200 ms: the whole negotiation would take ~6 s.
    let mut cut = 0;
    for byte in header.iter().cycle().take(20) {
        for stream in &mut slow {
            if stream.write_all(&[*byte]).await.is_err() {
                cut += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    served_throughout(stop, task).await;
    let mut closed = 0;
    for stream in &mut slow {
        if closed_within(stream, Duration::from_millis(500)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, slow.len(), "every slow socket closed ({cut} writes failed) after {:?}", started.elapsed());
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_abandoned_after_message_2_hold_only_their_share() {
    let (host, _ping, addr) = victim(Config::default()).await;
    let (stop, task) = well_behaved(&host, Duration::from_millis(200));
    let mut stuck = Vec::new();
    for _ in 0..100 {
        let Ok(mut stream) = raw_from(4, addr).await else { continue };
        // multistream "/noise", then a valid-looking message 1 (an
        // ephemeral key is any 32 bytes), then silence instead of message 3.
        let mut hello = b"\x13/multistream/1.0.0\n\x07/noise\n".to_vec();
        hello.extend_from_slice(&32u16.to_be_bytes());
        hello.extend_from_slice(&[9u8; 32]);
        if stream.write_all(&hello).await.is_ok() {
            stuck.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    served_throughout(stop, task).await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_message_1_gets_no_message_2() {
    let (host, _ping, addr) = victim(Config::default()).await;
    let mut stream = raw_from(5, addr).await.unwrap();
    stream.write_all(b"\x13/multistream/1.0.0\n\x07/noise\n").await.unwrap();
    let mut answer = [0u8; 28];
    within(stream.read_exact(&mut answer)).await.unwrap();
    assert_eq!(&answer, b"\x13/multistream/1.0.0\n\x07/noise\n");
    stream.write_all(&65_000u16.to_be_bytes()).await.unwrap();
    drop(stream.write_all(&vec![0x5a; 65_000]).await);
    let mut rest = Vec::new();
    drop(within(stream.read_to_end(&mut rest)).await);
    assert!(rest.is_empty(), "message 2 ({} bytes) sent for garbage", rest.len());
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_identity_gets_a_handful_of_connections() {
    let (host, _ping, _) = victim(Config::default().with_max_connections_per_peer(4)).await;
    let attacker = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    let addr = host.listen_addrs()[0].clone(); // no /p2p/: a new connection each time
    for _ in 0..12 {
        drop(within(attacker.dial(addr.clone())).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(host.connection_count(attacker.peer_id()), 4);
    attacker.shutdown().await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_peers_and_ranges_are_refused() {
    let (host, _ping, addr) = victim(Config::default()).await;
    let attacker = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    let target = host.listen_addrs()[0].clone().with_p2p(host.peer_id()).unwrap();
    within(attacker.dial(target.clone())).await.unwrap();
    within(host.deny_peer(attacker.peer_id())).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while attacker.is_connected(host.peer_id()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!attacker.is_connected(host.peer_id()), "a denied peer's connection is closed");
    drop(within(attacker.dial(target)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!host.is_connected(attacker.peer_id()), "a denied peer is refused after its handshake");

    host.deny_ip_range(strata::host::IpRange::new([127, 0, 0, 6].into(), 32));
    let mut stream = raw_from(6, addr).await.unwrap();
    drop(stream.write_all(b"\x13/multistream/1.0.0\n").await);
    assert!(closed_within(&mut stream, Duration::from_secs(2)).await, "a denied address is closed before any answer");
    attacker.shutdown().await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_from_one_address_is_rate_limited() {
    let (host, _ping, addr) = victim(Config::default().with_accept_rate_per_ip(20)).await;
    let (stop, task) = well_behaved(&host, Duration::from_millis(200));
    let mut streams = Vec::new();
    for _ in 0..200 {
        if let Ok(stream) = raw_from(7, addr).await {
            streams.push(stream);
        }
    }
    // Past the burst (40), sockets are closed at once.
    let mut closed_at_once = 0;
    for stream in &mut streams {
        if closed_within(stream, Duration::from_millis(50)).await {
            closed_at_once += 1;
        }
    }
    assert!(closed_at_once >= 100, "only {closed_at_once} of {} closed at once", streams.len());
    tokio::time::sleep(Duration::from_millis(600)).await;
    served_throughout(stop, task).await;
    host.shutdown().await;
}
