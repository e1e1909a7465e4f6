//! Hostile peers against a live node (quick versions): each attack runs
//! while a well-behaved peer keeps dialing the node and pinging it, and
//! every one of its rounds must succeed. Attackers speak raw TCP from
//! their own loopback addresses (127.0.0.x, x ≥ 2), so per-address limits
//! apply to them and not to the well-behaved peer on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::{Duration, Instant};

use strata::{Keypair, host::Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use attack::*;

#[path = "support/attack.rs"]
mod attack;

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
