//! Ping between two hosts over TCP + Noise + mplex on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use strata_core::PeerId;
use strata_host::{Host, Stream};
use strata_ping::{Config, Error, Event, PROTOCOL, Ping};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use strata_testkit::{LIMIT, address_of, dialer, eventually, host, within};

/// A client connected to `server`; returns the client and the server's id.
async fn connected_to(server: &Host) -> (Host, PeerId) {
    let client = dialer().await;
    let peer = within(client.dial(address_of(server))).await.unwrap();
    (client, peer)
}

#[tokio::test]
async fn pings_report_rtts_and_feed_the_peer_store() {
    let server = host().await;
    Ping::attach(&server, Config::default()).unwrap();
    let (client, peer) = connected_to(&server).await;
    let ping = Ping::attach(&client, Config::default()).unwrap();
    let mut events = ping.events();
    for _ in 0..3 {
        let rtt = within(ping.ping(peer)).await.unwrap();
        assert!(rtt > Duration::ZERO && rtt < LIMIT);
        assert!(
            matches!(within(events.recv()).await.unwrap(), Event::Pong { peer: p, rtt: r } if p == peer && r == rtt)
        );
        assert_eq!(client.peer_info(peer).unwrap().rtt, Some(rtt));
    }
    assert!(server.protocols().contains(&PROTOCOL.to_owned()));
}

#[tokio::test]
async fn several_pings_reuse_one_stream() {
    let server = host().await;
    let streams = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&streams);
    server
        .handle(PROTOCOL, move |mut stream: Stream| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let mut payload = [0u8; 32];
                while stream.read_exact(&mut payload).await.is_ok() {
                    stream.write_all(&payload).await?;
                    stream.flush().await?;
                }
                Ok(())
            }
        })
        .unwrap();
    let (client, peer) = connected_to(&server).await;
    let ping = Ping::attach(&client, Config::default()).unwrap();
    for _ in 0..5 {
        within(ping.ping(peer)).await.unwrap();
    }
    assert_eq!(streams.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_third_inbound_stream_is_refused() {
    let server = host().await;
    Ping::attach(&server, Config::default()).unwrap();
    let (client, peer) = connected_to(&server).await;
    // Each stream is opened and used while the earlier ones stay open; the
    // third is reset by the server, which shows at negotiation or at the
    // first read, depending on timing.
    let mut streams = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..3 {
        let answered = within(async {
            let mut stream = client.open_stream(peer, &[PROTOCOL]).await.ok()?;
            stream.write_all(&[7u8; 32]).await.ok()?;
            stream.flush().await.ok()?;
            let mut echo = [0u8; 32];
            stream.read_exact(&mut echo).await.ok()?;
            streams.push(stream);
            Some(echo)
        })
        .await;
        answers.push(answered == Some([7u8; 32]));
    }
    assert_eq!(answers, [true, true, false]);
}

#[tokio::test]
async fn a_wrong_echo_is_a_mismatch_and_silence_a_timeout() {
    let server = host().await;
    server
        .handle(PROTOCOL, |mut stream: Stream| async move {
            let mut payload = [0u8; 32];
            stream.read_exact(&mut payload).await?;
            payload[0] ^= 1;
            stream.write_all(&payload).await?;
            stream.flush().await?;
            // Kept open (so the client sees a wrong echo, not an end)
            // until the client drops the stream.
            drop(stream.read_to_end(&mut Vec::new()).await);
            Ok(())
        })
        .unwrap();
    let (client, peer) = connected_to(&server).await;
    let ping = Ping::attach(&client, Config::default().with_timeout(Duration::from_millis(300))).unwrap();
    assert!(matches!(within(ping.ping(peer)).await, Err(Error::Mismatch)));
    // The stream was dropped; the next ping opens another, which the
    // server answers wrongly again.
    assert!(matches!(within(ping.ping(peer)).await, Err(Error::Mismatch)));

    let silent = host().await;
    silent
        .handle(PROTOCOL, |mut stream: Stream| async move {
            // Kept open and never answered, until the client drops it.
            drop(stream.read_to_end(&mut Vec::new()).await);
            Ok(())
        })
        .unwrap();
    let quiet = within(client.dial(address_of(&silent))).await.unwrap();
    let outcome = within(ping.ping(quiet)).await;
    assert!(matches!(outcome, Err(Error::Timeout(_))), "{outcome:?}");
}

#[tokio::test]
async fn keep_alive_closes_an_unresponsive_connection() {
    let server = host().await;
    server
        .handle(PROTOCOL, |mut stream: Stream| async move {
            // Kept open and never answered, until the client drops it.
            drop(stream.read_to_end(&mut Vec::new()).await);
            Ok(())
        })
        .unwrap();
    let (client, peer) = connected_to(&server).await;
    let config = Config::default()
        .with_keep_alive(Duration::from_millis(50))
        .with_timeout(Duration::from_millis(100))
        .with_max_failures(2);
    let ping = Ping::attach(&client, config).unwrap();
    let mut events = ping.events();
    let closed = within(async {
        loop {
            if let Event::Closed { peer: p } = events.recv().await.unwrap() {
                return p;
            }
        }
    })
    .await;
    assert_eq!(closed, peer);
    eventually("the unresponsive connection is closed", async || !client.is_connected(peer)).await;
}

#[tokio::test]
async fn keep_alive_keeps_a_healthy_connection() {
    let server = host().await;
    Ping::attach(&server, Config::default()).unwrap();
    let (client, peer) = connected_to(&server).await;
    let ping = Ping::attach(&client, Config::default().with_keep_alive(Duration::from_millis(20))).unwrap();
    let mut events = ping.events();
    for _ in 0..3 {
        assert!(matches!(within(events.recv()).await.unwrap(), Event::Pong { peer: p, .. } if p == peer));
    }
    assert!(client.is_connected(peer));
    within(client.shutdown()).await;
}
