//! Both taps on a real Noise connection over the memory transport: the
//! raw tap sees the handshake and ciphertext, the secured tap the
//! plaintext, and both name the same connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::{Endpoint, Keypair, Listener, SecurityUpgrade, Transport};
use strata_memory::MemoryTransport;
use strata_record::{Direction, Record, Recorder, Tap};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_mins(1);

/// All bytes of one tap and direction, concatenated.
fn bytes_of(records: &[Record], connection: u64, tap: Tap, direction: Direction) -> Vec<u8> {
    records
        .iter()
        .filter_map(|record| match record {
            Record::Data(chunk)
                if chunk.connection == connection && chunk.tap == tap && chunk.direction == direction =>
            {
                Some(chunk.bytes.to_vec())
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[tokio::test]
async fn the_raw_tap_sees_ciphertext_and_the_secured_tap_plaintext_of_one_connection() {
    let (alice, bob) = (Keypair::ed25519_from_secret([1; 32]), Keypair::ed25519_from_secret([2; 32]));
    let recorder = Recorder::new();
    let transport = recorder.transport(MemoryTransport::default());
    let mut listener = transport.listen(&"/memory/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs()[0].clone();
    let (dialer, acceptor) =
        (recorder.security(strata_noise::Config::new(&alice)), recorder.security(strata_noise::Config::new(&bob)));

    let listening = tokio::spawn(async move {
        let (raw, _) = listener.accept().await.unwrap();
        // However wrapped on its way up (the host boxes it, multistream
        // may buffer it), the raw stream's connection is still found.
        let (peer, mut secured) = acceptor.secure_inbound(tokio::io::BufStream::new(raw)).await.unwrap();
        let mut hello = [0; 5];
        secured.read_exact(&mut hello).await.unwrap();
        secured.write_all(b"world").await.unwrap();
        secured.flush().await.unwrap();
        (peer, hello)
    });
    let raw = transport.dial(&addr).await.unwrap();
    let (peer, mut secured) = dialer.secure_outbound(raw, Some(bob.peer_id())).await.unwrap();
    secured.write_all(b"hello").await.unwrap();
    secured.flush().await.unwrap();
    let mut world = [0; 5];
    tokio::time::timeout(LIMIT, secured.read_exact(&mut world)).await.unwrap().unwrap();
    let (seen, hello) = tokio::time::timeout(LIMIT, listening).await.unwrap().unwrap();
    assert_eq!((peer, seen, &hello, &world), (bob.peer_id(), alice.peer_id(), b"hello", b"world"));

    let records = recorder.records();
    let opened: Vec<_> = records
        .iter()
        .filter_map(|record| match record {
            Record::Opened { connection, endpoint, .. } => Some((*connection, *endpoint)),
            _ => None,
        })
        .collect();
    assert_eq!(opened, [(1, Endpoint::Dialer), (2, Endpoint::Listener)]);
    let secured: Vec<_> = records
        .iter()
        .filter_map(|record| match record {
            Record::Secured { connection, remote, protocol } => Some((*connection, *remote, *protocol)),
            _ => None,
        })
        .collect();
    assert!(secured.contains(&(1, bob.peer_id(), "/noise")));
    assert!(secured.contains(&(2, alice.peer_id(), "/noise")));

    // The dialer's raw side opens with Noise message 1: length 32, a key.
    let raw_out = bytes_of(&records, 1, Tap::Raw, Direction::Outbound);
    assert_eq!(&raw_out[..2], &[0, 32]);
    // What one side wrote raw is what the other read raw.
    assert_eq!(raw_out, bytes_of(&records, 2, Tap::Raw, Direction::Inbound));
    // Plaintext above Noise, ciphertext below it.
    assert_eq!(bytes_of(&records, 1, Tap::Secured, Direction::Outbound), b"hello");
    assert_eq!(bytes_of(&records, 1, Tap::Secured, Direction::Inbound), b"world");
    assert_eq!(bytes_of(&records, 2, Tap::Secured, Direction::Inbound), b"hello");
    assert!(!raw_out.windows(5).any(|window| window == b"hello"));
    assert_eq!(recorder.dropped_bytes(), 0);
}

#[tokio::test]
async fn past_its_budget_a_recorder_counts_instead_of_keeping() {
    let recorder = Recorder::with_budget(4);
    let transport = recorder.transport(MemoryTransport::default());
    let mut listener = transport.listen(&"/memory/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs()[0].clone();
    let mut stream = transport.dial(&addr).await.unwrap();
    let (mut inbound, _) = listener.accept().await.unwrap();
    stream.write_all(b"abc").await.unwrap();
    stream.write_all(b"defgh").await.unwrap();
    let mut buf = [0; 8];
    tokio::time::timeout(LIMIT, inbound.read_exact(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf, b"abcdefgh");
    // "abc" fits (3 of 4 bytes); everything after it is over the budget.
    assert_eq!(bytes_of(&recorder.records(), 1, Tap::Raw, Direction::Outbound), b"abc");
    assert!(recorder.dropped_bytes() >= 5);
}
