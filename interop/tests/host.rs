//! A strata host against a rust-libp2p 0.57 swarm on TCP + Noise + yamux,
//! both directions: the connection is established, each side knows the
//! other's `PeerId`, and a stream on a custom protocol (rust-libp2p's
//! `libp2p-stream` behaviour) carries data both ways.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_testkit::within;

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{Multiaddr as TheirMultiaddr, StreamProtocol};
use strata::{Keypair, Multiaddr, PeerId};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};

const ECHO: &str = "/echo/1.0.0";

use rust_peer::ours;

fn theirs(peer: PeerId) -> libp2p::PeerId {
    libp2p::PeerId::from_bytes(&peer.to_bytes()).unwrap()
}

fn convert(addr: &TheirMultiaddr) -> Multiaddr {
    Multiaddr::from_bytes(&addr.to_vec()).unwrap()
}

#[path = "support/rust_peer.rs"]
mod rust_peer;

use rust_peer::RustPeer;

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| i.to_le_bytes()[0].wrapping_mul(13) ^ seed).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p_and_opens_a_stream() {
    let mut rust = RustPeer::new(true);
    // rust-libp2p echoes on /echo/1.0.0 and reports who opened the stream.
    let mut incoming = rust.control.accept(StreamProtocol::new(ECHO)).unwrap();
    let (seen_tx, mut seen_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        while let Some((peer, mut stream)) = incoming.next().await {
            let mut data = Vec::new();
            stream.read_to_end(&mut data).await.unwrap();
            stream.write_all(&data).await.unwrap();
            stream.close().await.unwrap();
            seen_tx.send(peer).await.unwrap();
        }
    });
    let their_addr = within(rust.listening.recv()).await.unwrap();

    let strata = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    let addr = convert(&their_addr).with_p2p(ours(rust.peer)).unwrap();
    let peer = within(strata.dial(addr)).await.unwrap();
    assert_eq!(peer, ours(rust.peer));
    assert_eq!(within(rust.established.recv()).await.unwrap(), theirs(strata.peer_id()));

    let data = payload(1_000_003, 1); // several windows each way
    let mut stream = within(strata.open_stream(peer, &[ECHO])).await.unwrap();
    stream.write_all(&data).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    within(stream.read_to_end(&mut echoed)).await.unwrap();
    assert!(echoed == data, "the data came back intact");
    assert_eq!(within(seen_rx.recv()).await.unwrap(), theirs(strata.peer_id()));
    strata.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata_and_opens_a_stream() {
    let strata = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let (seen_tx, mut seen_rx) = mpsc::channel(1);
    strata
        .handle(ECHO, move |mut stream| {
            let seen_tx = seen_tx.clone();
            async move {
                let mut data = Vec::new();
                stream.read_to_end(&mut data).await?;
                stream.write_all(&data).await?;
                stream.shutdown().await?;
                let _ = seen_tx.send(stream.peer()).await;
                Ok(())
            }
        })
        .unwrap();

    let mut rust = RustPeer::new(false);
    let addr = strata.listen_addrs()[0].clone().with_p2p(strata.peer_id()).unwrap();
    rust.dial(TheirMultiaddr::try_from(addr.to_vec()).unwrap());
    assert_eq!(within(rust.established.recv()).await.unwrap(), theirs(strata.peer_id()));

    let data = payload(1_000_003, 2); // several windows each way
    let mut stream =
        within(rust.control.open_stream(theirs(strata.peer_id()), StreamProtocol::new(ECHO))).await.unwrap();
    stream.write_all(&data).await.unwrap();
    stream.close().await.unwrap();
    let mut echoed = Vec::new();
    within(stream.read_to_end(&mut echoed)).await.unwrap();
    assert!(echoed == data, "the data came back intact");
    assert_eq!(within(seen_rx.recv()).await.unwrap(), ours(rust.peer));
    assert!(strata.is_connected(ours(rust.peer)));
    strata.shutdown().await;
}
