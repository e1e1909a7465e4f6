//! strata's `/perf/1.0.0` against a rust-libp2p 0.57 node (yamux,
//! `libp2p-stream`) speaking the spec's exchange, both directions: strata's
//! client measures the rust node's server, and the rust node's client gets
//! exactly the bytes it asked of strata's server. (rust-libp2p's own
//! `libp2p-perf` on crates.io, 0.3, is built for an older libp2p; the rust
//! side here follows the spec's five steps over its real streams.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_testkit::within;

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::StreamProtocol;
use strata::{Keypair, Multiaddr, perf};

#[path = "support/rust_peer.rs"]
mod rust_peer;

use rust_peer::{RustPeer, ours};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_measures_a_rust_libp2p_perf_server() {
    let mut rust = RustPeer::new(true);
    let mut incoming = rust.control.accept(StreamProtocol::new(perf::PROTOCOL)).unwrap();
    let (served_tx, mut served_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some((_, mut stream)) = incoming.next().await {
            let served_tx = served_tx.clone();
            tokio::spawn(async move {
                let mut wanted = [0u8; 8];
                stream.read_exact(&mut wanted).await.unwrap();
                let mut uploaded = Vec::new();
                stream.read_to_end(&mut uploaded).await.unwrap();
                let wanted = u64::from_be_bytes(wanted);
                stream.write_all(&vec![0u8; usize::try_from(wanted).unwrap()]).await.unwrap();
                stream.close().await.unwrap();
                served_tx.send((uploaded.len() as u64, wanted)).unwrap();
            });
        }
    });
    let their_addr = within(rust.listening.recv()).await.unwrap();
    let strata = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    let addr = Multiaddr::from_bytes(&their_addr.to_vec()).unwrap().with_p2p(ours(rust.peer)).unwrap();
    let peer = within(strata.dial(addr)).await.unwrap();
    // One stream: libp2p-stream hands inbound streams over a channel of
    // one slot and resets a second that arrives while the first waits
    // ("Channel is full, dropping inbound stream"). Several streams at once
    // are tested against strata's own server.
    let params = perf::Params { upload_bytes: 2_000_003, download_bytes: 3_000_005, streams: 1 };
    let report = within(perf::run(&strata, peer, params)).await.unwrap();
    assert_eq!((report.upload_bytes, report.download_bytes), (2_000_003, 3_000_005));
    let served = within(served_rx.recv()).await.unwrap();
    assert_eq!(served, (2_000_003, 3_000_005), "the rust node saw the same bytes");
    strata.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_libp2p_client_gets_what_it_asks_of_strata() {
    let strata = strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let mut served = perf::serve(&strata, perf::ServerConfig::default()).unwrap();
    let mut rust = RustPeer::new(false);
    let addr = strata.listen_addrs()[0].clone().with_p2p(strata.peer_id()).unwrap();
    rust.dial(libp2p::Multiaddr::try_from(addr.to_vec()).unwrap());
    within(rust.established.recv()).await.unwrap();
    let their_id = libp2p::PeerId::from_bytes(&strata.peer_id().to_bytes()).unwrap();
    let mut stream = within(rust.control.open_stream(their_id, StreamProtocol::new(perf::PROTOCOL))).await.unwrap();
    stream.write_all(&1_234_567u64.to_be_bytes()).await.unwrap();
    stream.write_all(&vec![7u8; 100_000]).await.unwrap();
    stream.close().await.unwrap();
    let mut answer = Vec::new();
    within(stream.read_to_end(&mut answer)).await.unwrap();
    assert_eq!(answer.len(), 1_234_567);
    let stream = within(served.recv()).await.unwrap();
    assert_eq!((stream.served.upload_bytes, stream.served.download_bytes), (100_000, 1_234_567));
    assert_eq!(stream.peer, ours(rust.peer));
    strata.shutdown().await;
}
