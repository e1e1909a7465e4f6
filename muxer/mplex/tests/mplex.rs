//! mplex over `tokio::io::duplex`: strata against strata, and strata
//! against a raw peer that writes the spec's frames by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::{Endpoint, MuxedConnection, StreamMuxer};
use strata_mplex::{Config, Error, MplexConnection, MplexStream, Overflow};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

const LIMIT: Duration = Duration::from_secs(20);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

async fn pair_with(dialer: Config, listener: Config) -> (MplexConnection, MplexConnection) {
    let (a, b) = duplex(256 * 1024);
    let a = dialer.upgrade(a, Endpoint::Dialer).await.unwrap();
    let b = listener.upgrade(b, Endpoint::Listener).await.unwrap();
    (a, b)
}

async fn pair() -> (MplexConnection, MplexConnection) {
    pair_with(Config::default(), Config::default()).await
}

async fn accept(connection: &MplexConnection) -> MplexStream {
    within(connection.accept_stream()).await.unwrap().expect("a stream")
}

#[tokio::test]
async fn a_stream_carries_data_both_ways_with_half_close() {
    let (a, b) = pair().await;
    let mut ours = a.open_stream().await.unwrap();
    ours.write_all(b"hello").await.unwrap();
    ours.shutdown().await.unwrap(); // half-close: we can still read
    let mut theirs = accept(&b).await;
    assert!(!theirs.id().ours && ours.id().ours);
    let mut got = Vec::new();
    within(theirs.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"hello");
    theirs.write_all(b"world").await.unwrap();
    theirs.shutdown().await.unwrap();
    got.clear();
    within(ours.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"world");
    assert!(matches!(ours.write_all(b"late").await, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_streams_echo() {
    let (a, b) = pair().await;
    let b = std::sync::Arc::new(b);
    let server = tokio::spawn({
        let b = std::sync::Arc::clone(&b);
        async move {
            while let Ok(Some(mut stream)) = b.accept_stream().await {
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    stream.read_to_end(&mut data).await.unwrap();
                    stream.write_all(&data).await.unwrap();
                    stream.shutdown().await.unwrap();
                });
            }
        }
    });
    let mut clients = Vec::new();
    for i in 0..100u8 {
        let mut stream = a.open_stream().await.unwrap();
        clients.push(tokio::spawn(async move {
            let data: Vec<u8> = (0..64 * 1024).map(|j: u32| j.to_le_bytes()[0] ^ i).collect();
            let (mut reader, mut writer) = tokio::io::split(&mut stream);
            let send = async {
                writer.write_all(&data).await.unwrap();
                writer.shutdown().await.unwrap();
            };
            let mut echoed = Vec::new();
            tokio::join!(send, async { reader.read_to_end(&mut echoed).await.unwrap() });
            assert_eq!(echoed, data, "stream {i}");
        }));
    }
    for client in clients {
        within(client).await.unwrap();
    }
    within(a.close()).await.unwrap();
    within(server).await.unwrap();
}

#[tokio::test]
async fn dropping_an_unclosed_stream_resets_it_on_both_sides() {
    let (a, b) = pair().await;
    let mut ours = a.open_stream().await.unwrap();
    ours.write_all(b"partial").await.unwrap();
    ours.flush().await.unwrap();
    let mut theirs = accept(&b).await;
    drop(ours);
    let mut buf = [0u8; 64];
    let outcome = within(async {
        loop {
            match theirs.read(&mut buf).await {
                Ok(0) => panic!("a reset is an error, not EOF"),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    })
    .await;
    assert_eq!(outcome.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(theirs.write_all(b"x").await.is_err());
}

#[tokio::test]
async fn the_stream_limit_resets_new_streams_and_refuses_local_opens() {
    // `a` holds at most 2 streams; `b` has room for a third, which it opens.
    let (a, b) = pair_with(Config::default().with_max_streams(2), Config::default().with_max_streams(3)).await;
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut stream = a.open_stream().await.unwrap();
        stream.write_all(b"ok").await.unwrap();
        streams.push(stream);
    }
    assert!(matches!(a.open_stream().await, Err(Error::TooManyStreams(2))));
    let _accepted = (accept(&b).await, accept(&b).await);

    // `b` opens one more than `a`'s limit allows: `a` resets it.
    let mut extra = b.open_stream().await.unwrap();
    extra.write_all(b"over the limit").await.unwrap();
    extra.flush().await.unwrap();
    let mut buf = [0u8; 8];
    let err = within(extra.read(&mut buf)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    // The streams within the limit still work.
    streams[0].write_all(b" still").await.unwrap();
    streams[0].flush().await.unwrap();
}

#[tokio::test]
async fn overflow_reset_policy_resets_only_the_slow_stream() {
    let listener = Config::default().with_overflow(Overflow::ResetStream).with_max_buffer(64 * 1024);
    let (a, b) = pair_with(Config::default(), listener).await;
    let mut flood = a.open_stream().await.unwrap();
    let mut ok = a.open_stream().await.unwrap();
    let (mut slow, mut fine) = (accept(&b).await, accept(&b).await);
    // Nobody reads `slow`; the flood overflows its buffer.
    let flooding = async {
        let chunk = vec![1u8; 16 * 1024];
        for _ in 0..64 {
            if flood.write_all(&chunk).await.is_err() {
                break;
            }
            let _ = flood.flush().await;
        }
    };
    within(flooding).await;
    ok.write_all(b"unaffected").await.unwrap();
    ok.shutdown().await.unwrap();
    let mut got = Vec::new();
    within(fine.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"unaffected");
    let mut buf = [0u8; 16];
    assert_eq!(within(slow.read(&mut buf)).await.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    let err = within(flood.read(&mut buf)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "the writer sees the reset too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_block_policy_loses_nothing() {
    let listener = Config::default().with_overflow(Overflow::Block).with_max_buffer(64 * 1024);
    let (a, b) = pair_with(Config::default(), listener).await;
    let mut big = a.open_stream().await.unwrap();
    let data: Vec<u8> = (0..2_000_000u32).map(|i| i.to_le_bytes()[1]).collect();
    let writer = tokio::spawn({
        let data = data.clone();
        async move {
            big.write_all(&data).await.unwrap();
            big.shutdown().await.unwrap();
            big
        }
    });
    let mut slow = accept(&b).await;
    // Let the buffer fill and the connection block before reading. A sleep,
    // not a wait on an event: what is checked is that the writer does NOT
    // finish within the window.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!writer.is_finished(), "2 MB cannot all be buffered: the writer must be held back");
    let mut got = Vec::new();
    within(slow.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "every byte, in order");
    within(writer).await.unwrap();
}

#[tokio::test]
async fn frames_up_to_one_mib() {
    let config = Config::default().with_split_send_size(1 << 20).with_max_outbound_queue(2 << 20);
    let (a, b) = pair_with(config.clone(), config).await;
    let mut ours = a.open_stream().await.unwrap();
    let data = vec![9u8; 1 << 20];
    let sending = async {
        ours.write_all(&data).await.unwrap();
        ours.shutdown().await.unwrap();
    };
    let mut theirs = accept(&b).await;
    let mut got = Vec::new();
    within(async { tokio::join!(sending, theirs.read_to_end(&mut got)) }).await.1.unwrap();
    assert_eq!(got.len(), 1 << 20);
}

#[tokio::test]
async fn dropping_the_connection_ends_every_stream() {
    let (a, b) = pair().await;
    let mut ours = a.open_stream().await.unwrap();
    ours.write_all(b"x").await.unwrap();
    ours.flush().await.unwrap();
    let mut theirs = accept(&b).await;
    drop(a);
    assert!(within(b.accept_stream()).await.unwrap().is_none(), "the remote's end is a clean end");
    let mut buf = [0u8; 4];
    assert_eq!(within(theirs.read(&mut buf)).await.unwrap(), 1);
    assert!(within(theirs.read(&mut buf)).await.is_err(), "the stream ended without a Close");
    assert!(ours.write_all(b"y").await.is_err(), "the local stream is dead too");
}

#[tokio::test]
async fn close_flushes_what_was_written() {
    let (a, b) = pair().await;
    let mut ours = a.open_stream().await.unwrap();
    ours.write_all(&vec![5u8; 100_000]).await.unwrap();
    ours.shutdown().await.unwrap();
    within(a.close()).await.unwrap();
    let mut theirs = accept(&b).await;
    let mut got = Vec::new();
    within(theirs.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got.len(), 100_000);
}

// ----- against a raw peer speaking bytes from the spec -----

/// Accepts (and drops) streams until the connection ends; how it ended.
async fn until_the_end(connection: &MplexConnection) -> Result<Option<MplexStream>, Error> {
    let mut next = connection.accept_stream().await;
    while let Ok(Some(_)) = next {
        next = connection.accept_stream().await;
    }
    next
}

async fn raw_peer() -> (MplexConnection, DuplexStream) {
    let (ours, raw) = duplex(64 * 1024);
    (Config::default().upgrade(ours, Endpoint::Listener).await.unwrap(), raw)
}

#[tokio::test]
async fn wire_format_against_the_spec() {
    let (connection, mut raw) = raw_peer().await;
    // NewStream(0, "x"), MessageInitiator(0, "hi"), CloseInitiator(0).
    raw.write_all(&[0x00, 0x01, b'x', 0x02, 0x02, b'h', b'i', 0x04, 0x00]).await.unwrap();
    let mut stream = accept(&connection).await;
    let mut got = Vec::new();
    within(stream.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"hi");
    stream.write_all(b"yo").await.unwrap();
    stream.shutdown().await.unwrap();
    // We answer as the receiver: MessageReceiver (1), then CloseReceiver (3).
    let mut reply = [0u8; 6];
    within(raw.read_exact(&mut reply)).await.unwrap();
    assert_eq!(reply, [0x01, 0x02, b'y', b'o', 0x03, 0x00]);

    // Our own stream: NewStream with our number, then MessageInitiator (2).
    let mut outbound = connection.open_stream().await.unwrap();
    outbound.write_all(b"!").await.unwrap();
    outbound.flush().await.unwrap();
    let mut opened = [0u8; 6];
    within(raw.read_exact(&mut opened)).await.unwrap();
    assert_eq!(opened, [0x00, 0x01, b'0', 0x02, 0x01, b'!']);
    // The remote resets it: ResetReceiver (5) for a stream we opened.
    raw.write_all(&[0x05, 0x00]).await.unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(within(outbound.read(&mut buf)).await.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn an_oversized_frame_ends_the_connection() {
    let (connection, mut raw) = raw_peer().await;
    raw.write_all(&[0x00, 0x00]).await.unwrap(); // NewStream(0)
    let mut stream = accept(&connection).await;
    // MessageInitiator(0) announcing 1 MiB + 1 byte.
    raw.write_all(&[0x02, 0x81, 0x80, 0x40]).await.unwrap();
    assert!(matches!(within(connection.accept_stream()).await, Err(Error::Protocol(_))));
    let mut buf = [0u8; 1];
    assert!(within(stream.read(&mut buf)).await.is_err());
}

#[tokio::test]
async fn garbage_ends_the_connection() {
    for garbage in [&[0x07, 0x00][..], &[0xff; 16], &[0x00, 0x00, 0x00, 0x00]] {
        let (connection, mut raw) = raw_peer().await;
        raw.write_all(garbage).await.unwrap();
        let result = within(until_the_end(&connection)).await;
        assert!(matches!(result, Err(Error::Protocol(_))), "{garbage:?}: {result:?}");
    }
}

// ----- hostile peers -----

/// The header and length of one frame (spec: `varint(id << 3 | flag)`,
/// `varint(len)`), followed by `len` bytes of `fill`.
fn frame(id: u64, flag: u64, len: usize, fill: u8) -> Vec<u8> {
    let mut out = Vec::new();
    strata_core::varint::encode(id << 3 | flag, &mut out);
    strata_core::varint::encode(len as u64, &mut out);
    out.resize(out.len() + len, fill);
    out
}

/// Writes `bytes` to `raw` until a write stalls for `stall`; returns how
/// many bytes went in.
async fn write_until_stalled(raw: &mut DuplexStream, bytes: &[u8], stall: Duration) -> usize {
    let mut written = 0;
    for chunk in bytes.chunks(4096) {
        match tokio::time::timeout(stall, raw.write_all(chunk)).await {
            Ok(Ok(())) => written += chunk.len(),
            _ => break,
        }
    }
    written
}

#[tokio::test]
async fn unread_streams_cannot_pin_more_than_the_connection_budget() {
    const BUDGET: usize = 256 * 1024;
    let (ours, mut raw) = duplex(64 * 1024);
    let config = Config::default().with_max_connection_buffer(BUDGET).with_max_buffer(1 << 20);
    let connection = std::sync::Arc::new(config.upgrade(ours, Endpoint::Listener).await.unwrap());
    // Accept every stream, read none of them (yet).
    let accepting = std::sync::Arc::clone(&connection);
    let (streams_tx, mut streams) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(stream)) = accepting.accept_stream().await {
            drop(streams_tx.send(stream));
        }
    });
    // 64 streams × 32 KiB: 2 MiB, eight times the budget.
    let mut flood = Vec::new();
    for id in 0..64 {
        flood.extend(frame(id, 0, 0, 0));
        flood.extend(frame(id, 2, 32 * 1024, b'x'));
    }
    let written = write_until_stalled(&mut raw, &flood, Duration::from_millis(300)).await;
    // Read: the budget, one socket read of 64 KiB, the pipe's 64 KiB, and
    // the frame that crossed the budget.
    assert!(written < BUDGET + 3 * 64 * 1024 + 40 * 1024, "{written} bytes went in against a {BUDGET}-byte budget");
    // Reading frees the budget and the rest flows: nothing is lost.
    let writer = tokio::spawn(async move {
        raw.write_all(&flood[written..]).await.unwrap();
        raw
    });
    let mut total = 0;
    for _ in 0..64 {
        let mut stream = within(streams.recv()).await.unwrap();
        let mut buf = vec![0u8; 32 * 1024];
        within(stream.read_exact(&mut buf)).await.unwrap();
        total += buf.len();
    }
    assert_eq!(total, 64 * 32 * 1024);
    drop(within(writer).await.unwrap());
}

#[tokio::test]
async fn a_peer_that_never_reads_gets_nothing_more_read() {
    // A tiny pipe fills at once; the peer opens streams past the limit
    // (each answered with a reset it never reads).
    let (ours, mut raw) = duplex(1024);
    let config =
        Config::default().with_max_streams(2).with_max_outbound_queue(4096).with_stall_timeout(Duration::from_secs(1));
    let connection = config.upgrade(ours, Endpoint::Listener).await.unwrap();
    let mut opens = Vec::new();
    for id in 0..1_000_000 {
        opens.extend(frame(id, 0, 0, 0));
    }
    let written = write_until_stalled(&mut raw, &opens, Duration::from_millis(300)).await;
    // The resets owed (4 KiB), a socket read (64 KiB), the pipe.
    assert!(
        written < 128 * 1024,
        "{written} of {} bytes of opens were read from a peer that reads nothing",
        opens.len()
    );
    // Still not reading after the stall timeout: it loses the connection.
    let ended = within(until_the_end(&connection)).await;
    assert!(matches!(ended, Err(Error::Stalled(_))), "{ended:?}");
}

#[tokio::test]
async fn connections_sharing_a_node_budget_stay_within_it_together() {
    const NODE: usize = 256 * 1024;
    let budget = strata_core::MemoryBudget::new(NODE);
    // Each connection alone may buffer 4 MiB; together they get 256 KiB.
    let config = Config::default().with_max_connection_buffer(4 << 20).with_memory_budget(budget.clone());
    let mut peers = Vec::new();
    for _ in 0..4 {
        let (ours, raw) = duplex(64 * 1024);
        peers.push((config.clone().upgrade(ours, Endpoint::Listener).await.unwrap(), raw));
    }
    // Each peer sends 512 KiB on one stream nobody reads until `go`.
    // In 64 KiB frames, as senders split them (the budget is checked
    // between frames).
    let mut flood = frame(0, 0, 0, 0);
    for _ in 0..8 {
        flood.extend(frame(0, 2, 64 * 1024, b'y'));
    }
    let go = std::sync::Arc::new(tokio::sync::Notify::new());
    let (mut writers, mut readers) = (Vec::new(), Vec::new());
    for (connection, mut raw) in peers {
        let flood = flood.clone();
        writers.push(tokio::spawn(async move {
            raw.write_all(&flood).await.unwrap();
            raw
        }));
        let go = std::sync::Arc::clone(&go);
        readers.push(tokio::spawn(async move {
            let mut stream = connection.accept_stream().await.unwrap().unwrap();
            go.notified().await;
            let mut buf = vec![0u8; 512 * 1024];
            stream.read_exact(&mut buf).await.unwrap();
            connection
        }));
    }
    // A sleep, not a wait on an event: what is checked is that no sender
    // gets past the node budget within the window.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Each connection can pass the budget by one read and one frame.
    assert!(budget.used() <= NODE + 4 * (64 + 64) * 1024, "{} bytes buffered", budget.used());
    assert!(writers.iter().all(|writer| !writer.is_finished()), "the node budget held every sender back");
    // Reading lets every connection go on, through the retry.
    go.notify_waiters();
    let mut connections = Vec::new();
    for reader in readers {
        connections.push(within(reader).await.unwrap());
        go.notify_waiters(); // readers that were still accepting
    }
    for writer in writers {
        drop(within(writer).await.unwrap());
    }
    assert_eq!(budget.used(), 0);
}
