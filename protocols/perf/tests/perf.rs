//! The perf protocol: the wire exchange as the spec lays it out, and a
//! client measuring a server between two hosts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_perf::{Params, ServerConfig, stream};
use strata_testkit::{address_of, dialer, host, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IDLE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_client_sends_a_big_endian_u64_then_its_upload_then_closes() {
    let (mut ours, mut theirs) = tokio::io::duplex(1 << 20);
    let client = tokio::spawn(async move { stream::client(&mut ours, 5, 3, IDLE).await });
    let mut request = Vec::new();
    theirs.read_to_end(&mut request).await.unwrap(); // the client closed its write side
    assert_eq!(request, [0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0]);
    theirs.write_all(&[9, 9, 9]).await.unwrap();
    theirs.shutdown().await.unwrap();
    let timings = within(client).await.unwrap().unwrap();
    assert_eq!((timings.upload_bytes, timings.download_bytes), (5, 3));
}

#[tokio::test]
async fn the_server_answers_after_the_upload_with_the_bytes_asked() {
    let (mut ours, mut theirs) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(async move { stream::server(&mut ours, u64::MAX, IDLE).await });
    theirs.write_all(&70_000u64.to_be_bytes()).await.unwrap();
    theirs.write_all(&[1u8; 1000]).await.unwrap();
    theirs.shutdown().await.unwrap();
    let mut answer = Vec::new();
    within(theirs.read_to_end(&mut answer)).await.unwrap();
    assert_eq!(answer.len(), 70_000);
    let done = within(server).await.unwrap().unwrap();
    assert_eq!((done.upload_bytes, done.download_bytes), (1000, 70_000));
}

#[tokio::test]
async fn a_short_answer_and_a_request_over_the_limit_fail() {
    let (mut ours, mut theirs) = tokio::io::duplex(1 << 20);
    let client = tokio::spawn(async move { stream::client(&mut ours, 0, 10, IDLE).await });
    let mut request = Vec::new();
    theirs.read_to_end(&mut request).await.unwrap();
    theirs.write_all(&[0; 4]).await.unwrap();
    theirs.shutdown().await.unwrap();
    assert!(matches!(within(client).await.unwrap(), Err(strata_perf::Error::ShortDownload { asked: 10, got: 4 })));

    let (mut ours, mut theirs) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(async move { stream::server(&mut ours, 1 << 20, IDLE).await });
    theirs.write_all(&(2u64 << 20).to_be_bytes()).await.unwrap();
    assert!(within(server).await.unwrap().is_err(), "2 MiB asked of a server that gives 1 MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_measures_a_server_over_several_streams() {
    let server = host().await;
    let mut ended = strata_perf::serve(&server, ServerConfig::default()).unwrap();
    let client = dialer().await;
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let params = Params { upload_bytes: 3_000_001, download_bytes: 5_000_003, streams: 4 };
    let report = within(strata_perf::run(&client, peer, params)).await.unwrap();
    assert_eq!((report.upload_bytes, report.download_bytes, report.streams), (3_000_001, 5_000_003, 4));
    assert!(report.download_mbps() > 0.0 && report.upload_mbps() > 0.0);
    let mut seen = (0, 0);
    for _ in 0..4 {
        let stream = within(ended.recv()).await.unwrap();
        assert_eq!(stream.peer, client.peer_id());
        seen.0 += stream.served.upload_bytes;
        seen.1 += stream.served.download_bytes;
    }
    assert_eq!(seen, (3_000_001, 5_000_003), "the server saw the same bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_not_allowed_is_not_served() {
    let server = host().await;
    let config = ServerConfig { allowed_peers: Some(std::collections::HashSet::new()), ..ServerConfig::default() };
    strata_perf::serve(&server, config).unwrap();
    let client = dialer().await;
    let peer = within(client.dial(address_of(&server))).await.unwrap();
    let params = Params { upload_bytes: 0, download_bytes: 10, streams: 1 };
    assert!(within(strata_perf::run(&client, peer, params)).await.is_err());
}
