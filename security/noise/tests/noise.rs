//! The Noise upgrade end to end, over `tokio::io::duplex` and over TCP on
//! loopback: both roles, large transfers with checksums, many small
//! writes, frames split across reads, and every way a peer can misbehave:
//! the wrong identity, garbage, silence, tampered or truncated ciphertext.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use sha2::{Digest, Sha256};
use strata_core::{ByteStream, Keypair, Listener, PeerId, PeerIdMismatch, SecurityUpgrade, Transport};
use strata_noise::{Config, Error, NoiseStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

const LIMIT: Duration = Duration::from_mins(1);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

fn keys() -> (Keypair, Keypair) {
    (Keypair::ed25519_from_secret([1; 32]), Keypair::ed25519_from_secret([2; 32]))
}

/// Handshakes over `a` (dialer) and `b` (listener).
async fn secure<S: ByteStream>(a: S, b: S) -> (NoiseStream<S>, NoiseStream<S>) {
    let (alice, bob) = keys();
    let (dialer, listener) = (Config::new(&alice), Config::new(&bob));
    let (outcome, income) =
        within(async { tokio::join!(dialer.secure_outbound(a, Some(bob.peer_id())), listener.secure_inbound(b)) })
            .await;
    let (bob_seen, a) = outcome.unwrap();
    let (alice_seen, b) = income.unwrap();
    assert_eq!(bob_seen, bob.peer_id());
    assert_eq!(alice_seen, alice.peer_id());
    (a, b)
}

/// Deterministic pseudo-random bytes (xorshift), cheap to make.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Writes `total` bytes of a repeating 1 MiB pattern in varied write sizes;
/// returns their SHA-256.
async fn send_pattern(mut writer: impl tokio::io::AsyncWrite + Unpin, total: usize) -> Vec<u8> {
    let block = pattern(1 << 20, 7);
    let sizes = [1usize, 100, 65519, 65520, 200_000, 1 << 20, 3, 70_000];
    let mut hasher = Sha256::new();
    let (mut sent, mut turn) = (0, 0);
    while sent < total {
        let offset = sent % block.len();
        let len = sizes[turn % sizes.len()].min(block.len() - offset).min(total - sent);
        writer.write_all(&block[offset..offset + len]).await.unwrap();
        hasher.update(&block[offset..offset + len]);
        sent += len;
        turn += 1;
    }
    writer.shutdown().await.unwrap();
    hasher.finalize().to_vec()
}

/// Reads to the end; returns the byte count and SHA-256.
async fn receive_all(mut reader: impl tokio::io::AsyncRead + Unpin) -> (usize, Vec<u8>) {
    let mut buf = vec![0u8; 100_000];
    let (mut hasher, mut total) = (Sha256::new(), 0);
    loop {
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            return (total, hasher.finalize().to_vec());
        }
        hasher.update(&buf[..n]);
        total += n;
    }
}

/// `total` bytes each way at once, checked by SHA-256.
async fn both_ways<S: ByteStream>(a: NoiseStream<S>, b: NoiseStream<S>, total: usize) {
    let (a_read, a_write) = tokio::io::split(a);
    let (b_read, b_write) = tokio::io::split(b);
    let (sent_ab, (got_ab, sum_ab), sent_ba, (got_ba, sum_ba)) = within(async {
        tokio::join!(
            send_pattern(a_write, total),
            receive_all(b_read),
            send_pattern(b_write, total),
            receive_all(a_read)
        )
    })
    .await;
    assert_eq!((got_ab, got_ba), (total, total));
    assert_eq!(sent_ab, sum_ab);
    assert_eq!(sent_ba, sum_ba);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_each_way_over_duplex() {
    let (a, b) = duplex(256 * 1024);
    let (a, b) = secure(a, b).await;
    both_ways(a, b, 64 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_each_way_over_tcp() {
    let tcp = strata_tcp::TcpTransport::default();
    let mut listener = tcp.listen(&"/ip4/127.0.0.1/tcp/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    let (dialed, accepted) = within(async { tokio::join!(tcp.dial(&addr), listener.accept()) }).await;
    let (a, b) = secure(dialed.unwrap(), accepted.unwrap().0).await;
    both_ways(a, b, 64 << 20).await;
}

#[tokio::test]
async fn frames_split_across_tiny_socket_reads() {
    // A 7-byte pipe: every frame arrives in pieces.
    let (a, b) = duplex(7);
    let (a, b) = secure(a, b).await;
    both_ways(a, b, 300_000).await;
}

#[tokio::test]
async fn many_small_writes_and_tiny_reader_buffers() {
    let (a, b) = duplex(64 * 1024);
    let (mut a, mut b) = secure(a, b).await;
    let data = pattern(200_000, 3);
    let writer = async {
        for chunk in data.chunks(7) {
            a.write_all(chunk).await.unwrap();
        }
        a.shutdown().await.unwrap();
    };
    let reader = async {
        let mut got = Vec::new();
        let mut small = [0u8; 3];
        loop {
            let n = b.read(&mut small).await.unwrap();
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&small[..n]);
        }
    };
    let ((), got) = within(async { tokio::join!(writer, reader) }).await;
    assert_eq!(got, data);
}

#[tokio::test]
async fn a_flush_delivers_a_small_write_at_once() {
    let (a, b) = duplex(64 * 1024);
    let (mut a, mut b) = secure(a, b).await;
    a.write_all(b"ping").await.unwrap();
    a.flush().await.unwrap();
    let mut buf = [0u8; 4];
    within(b.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn the_wrong_peer_is_refused_and_the_connection_closed() {
    let (alice, bob) = keys();
    let someone_else = PeerId::random();
    let (a, b) = duplex(64 * 1024);
    let (dialer, listener) = (Config::new(&alice), Config::new(&bob));
    let (outcome, income) =
        within(async { tokio::join!(dialer.secure_outbound(a, Some(someone_else)), listener.secure_inbound(b)) }).await;
    assert!(
        matches!(outcome, Err(Error::PeerIdMismatch(PeerIdMismatch { expected, actual })) if expected == someone_else && actual == bob.peer_id())
    );
    // The dialer stopped before message 3: the listener never learns who it was.
    assert!(matches!(income, Err(Error::Io(_))), "{income:?}");
}

#[tokio::test]
async fn garbage_instead_of_a_handshake() {
    let (_, bob) = keys();
    for garbage in [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), pattern(5000, 11), vec![0, 0], vec![0xff, 0xff, 1]] {
        let (mut a, b) = duplex(64 * 1024);
        a.write_all(&garbage).await.unwrap();
        drop(a);
        let result = within(Config::new(&bob).secure_inbound(b)).await;
        assert!(matches!(result, Err(Error::Noise(_) | Error::Io(_) | Error::InvalidPayload(_))), "{result:?}");
    }
}

#[tokio::test]
async fn garbage_instead_of_message_two() {
    let (alice, _) = keys();
    let (a, mut b) = duplex(64 * 1024);
    let rogue = async move {
        let mut first = [0u8; 34];
        b.read_exact(&mut first).await.unwrap();
        let mut reply = vec![0x00, 0x60];
        reply.extend(pattern(0x60, 5));
        b.write_all(&reply).await.unwrap();
        b
    };
    let dialer = Config::new(&alice);
    let (result, _b) = within(async { tokio::join!(dialer.secure_outbound(a, None), rogue) }).await;
    assert!(matches!(result, Err(Error::Noise(_))), "{result:?}");
}

/// In memory on tokio's paused clock: a timeout of 7 s (not the default),
/// met at once and exactly, not a moment before.
#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_dropped_at_the_handshake_timeout() {
    let (alice, bob) = keys();
    let timeout = Duration::from_secs(7);
    // Silent from the start.
    let (a, _silent) = duplex(1024);
    let started = tokio::time::Instant::now();
    let result = within(Config::new(&alice).with_handshake_timeout(timeout).secure_outbound(a, None)).await;
    assert!(matches!(result, Err(Error::Timeout { after, .. }) if after == timeout), "{result:?}");
    assert_eq!(started.elapsed(), timeout, "dropped at the timeout");
    // Silent mid-handshake: a valid message 1 (an ephemeral key), then nothing.
    let (mut a, b) = duplex(64 * 1024);
    let mut first = vec![0x00, 0x20];
    first.extend(pattern(32, 9));
    a.write_all(&first).await.unwrap();
    let started = tokio::time::Instant::now();
    let result = within(Config::new(&bob).with_handshake_timeout(timeout).secure_inbound(b)).await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert_eq!(started.elapsed(), timeout, "dropped at the timeout");
    drop(a);
}

/// Copies `from` to `to`, flipping one bit at byte `flip_at`, or stopping
/// at byte `cut_at` and closing `to`.
async fn relay(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
    flip_at: Option<usize>,
    cut_at: Option<usize>,
) {
    let mut buf = [0u8; 4096];
    let mut offset = 0;
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let chunk = &mut buf[..n];
        if let Some(at) = flip_at.filter(|at| (offset..offset + n).contains(at)) {
            chunk[at - offset] ^= 0x01;
        }
        if let Some(at) = cut_at.filter(|at| *at < offset + n) {
            let _ = to.write_all(&chunk[..at - offset]).await;
            break;
        }
        if to.write_all(chunk).await.is_err() {
            break;
        }
        offset += n;
    }
    let _ = to.shutdown().await;
}

/// The bytes the dialer sends during the handshake: message 1 (2 + 32) and
/// message 3 (2 + 48 encrypted static key + 104 payload + 16 tag).
const DIALER_HANDSHAKE_BYTES: usize = 34 + 170;

/// A secured dialer and listener connected through a relay that may flip
/// or cut the dialer's bytes.
async fn through_relay(
    flip_at: Option<usize>,
    cut_at: Option<usize>,
) -> (NoiseStream<DuplexStream>, NoiseStream<DuplexStream>) {
    let (a, a_relay) = duplex(64 * 1024);
    let (b, b_relay) = duplex(64 * 1024);
    let (a_relay_read, a_relay_write) = tokio::io::split(a_relay);
    let (b_relay_read, b_relay_write) = tokio::io::split(b_relay);
    tokio::spawn(relay(a_relay_read, b_relay_write, flip_at, cut_at));
    tokio::spawn(relay(b_relay_read, a_relay_write, None, None));
    secure(a, b).await
}

#[tokio::test]
async fn the_relay_is_transparent_when_it_tampers_with_nothing() {
    let (a, b) = through_relay(None, None).await;
    both_ways(a, b, 200_000).await;
}

#[tokio::test]
async fn tampered_ciphertext_breaks_the_stream() {
    let (mut a, mut b) = through_relay(Some(DIALER_HANDSHAKE_BYTES + 10), None).await;
    a.write_all(b"an honest message").await.unwrap();
    a.flush().await.unwrap();
    let mut buf = [0u8; 64];
    let err = within(b.read(&mut buf)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let again = within(b.read(&mut buf)).await.unwrap_err();
    assert_eq!(again.kind(), std::io::ErrorKind::InvalidData, "a broken stream stays broken");
}

#[tokio::test]
async fn a_connection_cut_inside_a_frame_is_unexpected_eof() {
    let (mut a, mut b) = through_relay(None, Some(DIALER_HANDSHAKE_BYTES + 10)).await;
    a.write_all(&[7u8; 1000]).await.unwrap();
    a.flush().await.unwrap();
    let mut buf = [0u8; 2000];
    let err = within(b.read(&mut buf)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn shutdown_delivers_everything_then_end_of_stream() {
    let (a, b) = duplex(64 * 1024);
    let (mut a, mut b) = secure(a, b).await;
    a.write_all(b"last words").await.unwrap();
    a.shutdown().await.unwrap();
    let mut got = Vec::new();
    within(b.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"last words");
}
