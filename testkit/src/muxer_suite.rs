//! The muxer compliance suite: what "a muxer works" means in strata.
//!
//! Every check is generic over [`StreamMuxer`] and runs two connections of
//! it back to back over an in-memory pipe. [`muxer_suite!`](crate::muxer_suite!)
//! makes one `#[test]` per check for a muxer config, so a failure names
//! its check; `tests/muxers.rs` runs it against mplex and yamux, and a new
//! muxer joins by adding a line there.
//!
//! The one place muxers differ by design is a reader that falls behind:
//! yamux's windows keep the other streams flowing; mplex has no flow
//! control and applies its documented overflow policy (here: reset the
//! slow stream). [`SlowReader`] says which to expect.

use strata_core::{Endpoint, MuxedConnection, StreamMuxer};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::within;

/// A muxer's connection over the in-memory pipe.
pub type Conn<M> = <M as StreamMuxer>::Connection<DuplexStream>;

/// What the muxer does when one stream's reader stops reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlowReader {
    /// Flow control: the slow stream stops at its window; others flow.
    OthersFlow,
    /// No flow control: the slow stream is reset; others flow.
    SlowStreamReset,
}

/// Two connected muxers: the first dialed, the second accepted.
pub async fn pair<M: StreamMuxer>(dialer: &M, listener: &M) -> (Conn<M>, Conn<M>) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let (a, b) = tokio::join!(dialer.upgrade(a, Endpoint::Dialer), listener.upgrade(b, Endpoint::Listener));
    (a.expect("dialer upgrade"), b.expect("listener upgrade"))
}

async fn accept<C: MuxedConnection>(connection: &C) -> C::Stream {
    within(connection.accept_stream()).await.expect("accept failed").expect("the connection ended")
}

/// A seeded xorshift generator: the suite's runs are reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).expect("below n")
    }
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect()
}

/// Streams open from either side, and carry data both ways.
pub async fn open_and_accept_both_ways<M: StreamMuxer>(config: &M) {
    let (dialer, listener) = pair(config, config).await;
    for (opener, acceptor) in [(&dialer, &listener), (&listener, &dialer)] {
        let mut out = within(opener.open_stream()).await.expect("open");
        out.write_all(b"ping").await.expect("write");
        out.flush().await.expect("flush");
        let mut inc = accept(acceptor).await;
        let mut buf = [0u8; 4];
        within(inc.read_exact(&mut buf)).await.expect("read");
        assert_eq!(&buf, b"ping");
        inc.write_all(b"pong").await.expect("write back");
        inc.flush().await.expect("flush back");
        within(out.read_exact(&mut buf)).await.expect("read back");
        assert_eq!(&buf, b"pong");
    }
}

/// A half-closed stream still carries the other direction, and each side
/// reads to EOF after the other's close.
pub async fn half_close_then_read_to_eof<M: StreamMuxer>(config: &M) {
    let (dialer, listener) = pair(config, config).await;
    let mut out = within(dialer.open_stream()).await.expect("open");
    out.write_all(b"request").await.expect("write");
    out.shutdown().await.expect("half-close");
    let mut inc = accept(&listener).await;
    let mut request = Vec::new();
    within(inc.read_to_end(&mut request)).await.expect("read to EOF");
    assert_eq!(request, b"request");
    // More than one window: the answer flows as the reader reads.
    let answer = pattern(1, 300_000);
    let write = async {
        inc.write_all(&answer).await.expect("answer after the remote's close");
        inc.shutdown().await.expect("close");
    };
    let mut got = Vec::new();
    let read = async { out.read_to_end(&mut got).await.expect("read the answer to EOF") };
    within(async { tokio::join!(write, read) }).await;
    assert_eq!(got, answer);
    assert!(out.write_all(b"more").await.is_err(), "writing after our own close fails");
}

/// A stream dropped without shutdown is reset: the remote's reads fail,
/// whichever side drops it.
pub async fn drop_without_shutdown_resets<M: StreamMuxer>(config: &M) {
    let (dialer, listener) = pair(config, config).await;
    for (opener, acceptor, opener_drops) in [(&dialer, &listener, true), (&dialer, &listener, false)] {
        let mut out = within(opener.open_stream()).await.expect("open");
        out.write_all(b"x").await.expect("write");
        out.flush().await.expect("flush");
        let mut inc = accept(acceptor).await;
        let mut byte = [0u8; 1];
        within(inc.read_exact(&mut byte)).await.expect("read");
        let mut buf = Vec::new();
        if opener_drops {
            drop(out);
            assert!(within(inc.read_to_end(&mut buf)).await.is_err(), "a reset is not a clean EOF");
        } else {
            drop(inc);
            assert!(within(out.read_to_end(&mut buf)).await.is_err(), "a reset is not a clean EOF");
        }
    }
}

/// The sizes of the streams [`many_concurrent_streams`] sends for `seed`.
pub fn stream_sizes(seed: u64, streams: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    (0..streams).map(|_| rng.below(200_000)).collect()
}

/// Many streams at once, of random sizes, written in random chunks in a
/// random interleaving (seeded): every byte arrives on its own stream.
pub async fn many_concurrent_streams<M: StreamMuxer>(config: &M, seed: u64, streams: usize) {
    let (dialer, listener) = pair(config, config).await;
    let sizes = stream_sizes(seed, streams);
    let echo = async {
        let mut tasks = Vec::new();
        for _ in 0..streams {
            let mut stream = accept(&listener).await;
            tasks.push(async move {
                let mut data = Vec::new();
                stream.read_to_end(&mut data).await.expect("echo read");
                stream.write_all(&data).await.expect("echo write");
                stream.shutdown().await.expect("echo close");
            });
        }
        futures_join_all(tasks).await;
    };
    let senders = async {
        let mut tasks = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let mut stream = within(dialer.open_stream()).await.expect("open");
            let mut chunks = Rng::new(seed ^ (i as u64 + 1));
            tasks.push(async move {
                let data = pattern(i as u64, size);
                let mut sent = 0;
                while sent < data.len() {
                    let n = (1 + chunks.below(40_000)).min(data.len() - sent);
                    stream.write_all(&data[sent..sent + n]).await.expect("write");
                    sent += n;
                    if chunks.below(4) == 0 {
                        tokio::task::yield_now().await; // let the others interleave
                    }
                }
                stream.shutdown().await.expect("close");
                let mut back = Vec::new();
                stream.read_to_end(&mut back).await.expect("read back");
                assert!(back == data, "stream {i}: {} bytes back of {}", back.len(), data.len());
            });
        }
        futures_join_all(tasks).await;
    };
    within(async { tokio::join!(echo, senders) }).await;
}

/// Runs futures concurrently on this task (no spawning: the suite stays
/// generic over streams that need not be `'static`).
async fn futures_join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        futures.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if futures.is_empty() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
}

/// One stream's reader stops; another stream still moves its data (4 MiB
/// with flow control). What happens to the slow one is `expected`.
pub async fn slow_reader<M: StreamMuxer>(config: &M, expected: SlowReader) {
    let (dialer, listener) = pair(config, config).await;
    let mut slow = within(dialer.open_stream()).await.expect("open slow");
    slow.write_all(b"s").await.expect("first byte");
    slow.flush().await.expect("flush");
    let mut slow_in = accept(&listener).await; // accepted, then never read
    let mut first = [0u8; 1];
    within(slow_in.read_exact(&mut first)).await.expect("first byte");
    // The slow stream's writer pushes far more than any window or buffer.
    let flood = async {
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        while sent < (64 << 20) {
            if slow.write_all(&chunk).await.is_err() {
                return (sent, true); // reset
            }
            sent += chunk.len();
        }
        (sent, false)
    };
    let fast = async {
        let mut out = within(dialer.open_stream()).await.expect("open fast");
        let mut inc = accept(&listener).await;
        // Without flow control, a fast stream whose reader lags (this task
        // also writes) would meet the overflow policy too: keep it within
        // one stream buffer there.
        let len = if expected == SlowReader::OthersFlow { 4 << 20 } else { 512 * 1024 };
        let data = pattern(9, len);
        let reader = async {
            let mut got = Vec::new();
            inc.read_to_end(&mut got).await.expect("fast read");
            got
        };
        let writer = async {
            out.write_all(&data).await.expect("fast write");
            out.shutdown().await.expect("fast close");
        };
        let (got, ()) = tokio::join!(reader, writer);
        assert!(got == data, "the fast stream got {} of {} bytes", got.len(), data.len());
    };
    match expected {
        SlowReader::OthersFlow => {
            // The flood blocks at the window and never finishes; the fast
            // stream must finish meanwhile.
            tokio::select! {
                () = within(fast) => {}
                (sent, reset) = flood => panic!("the slow stream took {sent} bytes (reset: {reset}) unread"),
            }
        }
        SlowReader::SlowStreamReset => {
            let ((_, reset), ()) = within(async { tokio::join!(flood, fast) }).await;
            assert!(reset, "the slow stream was reset");
        }
    }
    drop(slow_in);
}

/// Closing a connection ends every stream on both sides: reads and writes
/// fail or reach EOF, and nothing hangs.
pub async fn connection_close_ends_every_stream<M: StreamMuxer>(config: &M) {
    let (dialer, listener) = pair(config, config).await;
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..4 {
        let mut stream = within(dialer.open_stream()).await.expect("open");
        stream.write_all(b"x").await.expect("write");
        stream.flush().await.expect("flush");
        ours.push(stream);
        theirs.push(accept(&listener).await);
    }
    within(dialer.close()).await.expect("close");
    for mut stream in ours {
        let mut buf = Vec::new();
        let read = within(stream.read_to_end(&mut buf)).await;
        let write = stream.write_all(b"after").await;
        assert!(read.is_err() || write.is_err(), "a stream of a closed connection still works both ways");
    }
    for mut stream in theirs {
        let mut buf = Vec::new();
        // The remote's streams end: an error or EOF, never a hang.
        let _ = within(stream.read_to_end(&mut buf)).await;
    }
    assert!(within(listener.accept_stream()).await.map_or(true, |s| s.is_none()), "no stream after the close");
    assert!(within(dialer.open_stream()).await.is_err(), "no opening after the close");
}

/// One test per check of the suite for the muxer `$config`, with what its
/// slow reader does (`$slow`, a [`SlowReader`]), in a module `$name`:
///
/// ```ignore
/// strata_testkit::muxer_suite!(yamux_default, yamux::Config::default(), SlowReader::OthersFlow);
/// ```
///
/// The caller needs `tokio` with its `macros` and `rt-multi-thread`.
#[macro_export]
macro_rules! muxer_suite {
    ($name:ident, $config:expr, $slow:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::muxer_suite as suite;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn open_and_accept_both_ways() {
                suite::open_and_accept_both_ways(&$config).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn half_close_then_read_to_eof() {
                suite::half_close_then_read_to_eof(&$config).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn drop_without_shutdown_resets() {
                suite::drop_without_shutdown_resets(&$config).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn many_concurrent_streams() {
                suite::many_concurrent_streams(&$config, 0x5eed, 64).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn slow_reader() {
                suite::slow_reader(&$config, $slow).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn connection_close_ends_every_stream() {
                suite::connection_close_ends_every_stream(&$config).await;
            }
        }
    };
}
