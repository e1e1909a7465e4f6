//! Noise draws its keys from `strata_core::random`, so a seeded process
//! makes the same static and ephemeral keys each run (what the anatomy
//! example relies on), and the handshake observer sees every message.
//!
//! Its own test binary: seeding is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use strata_core::{Keypair, SecurityUpgrade, random};
use strata_noise::{Config, HandshakeMessage};
use tokio::io::{AsyncReadExt, duplex};

const LIMIT: Duration = Duration::from_mins(1);

type Seen = Arc<Mutex<Vec<HandshakeMessage>>>;

fn observed(key: &Keypair) -> (Config, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let config = Config::new(key).with_handshake_observer(move |message| log.lock().unwrap().push(message.clone()));
    (config, seen)
}

/// One full handshake between fresh configs; what each side observed.
async fn handshake() -> (Vec<HandshakeMessage>, Vec<HandshakeMessage>) {
    let (alice, bob) = (Keypair::ed25519_from_secret([1; 32]), Keypair::ed25519_from_secret([2; 32]));
    let ((dialer, dialer_seen), (listener, listener_seen)) = (observed(&alice), observed(&bob));
    // Static keys first, in this order: the two sides' draws would race.
    dialer.static_public_key().unwrap();
    listener.static_public_key().unwrap();
    let (a, b) = duplex(65536);
    let (outcome, income) = tokio::time::timeout(LIMIT, async {
        tokio::join!(dialer.secure_outbound(a, Some(bob.peer_id())), listener.secure_inbound(b))
    })
    .await
    .unwrap();
    assert_eq!(outcome.unwrap().0, bob.peer_id());
    assert_eq!(income.unwrap().0, alice.peer_id());
    let take = |seen: Seen| seen.lock().unwrap().clone();
    (take(dialer_seen), take(listener_seen))
}

/// Message 1 as it crosses the wire: 2 length bytes and the ephemeral key.
async fn first_message() -> Vec<u8> {
    let (a, mut b) = duplex(65536);
    let dialer = Config::new(&Keypair::ed25519_from_secret([1; 32]));
    let dialing = tokio::spawn(async move { dialer.secure_outbound(a, None).await.map(|_| ()) });
    let mut message = vec![0; 34];
    tokio::time::timeout(LIMIT, b.read_exact(&mut message)).await.unwrap().unwrap();
    drop(b);
    drop(dialing.await);
    message
}

#[tokio::test]
async fn a_seeded_process_makes_the_same_keys_and_the_observer_sees_all_three_messages() {
    random::seed_insecurely(5);
    let (dialer_seen, listener_seen) = handshake().await;
    random::seed_insecurely(5);
    let (dialer_again, listener_again) = handshake().await;
    random::seed_insecurely(6);
    let (dialer_other, _) = handshake().await;

    // The dialer wrote 1 and 3 and read 2; the listener the other way round.
    let shape = |seen: &[HandshakeMessage]| seen.iter().map(|m| (m.number, m.sent)).collect::<Vec<_>>();
    assert_eq!(shape(&dialer_seen), [(1, true), (2, false), (3, true)]);
    assert_eq!(shape(&listener_seen), [(1, false), (2, true), (3, false)]);
    assert!(dialer_seen.iter().all(|m| m.initiator) && listener_seen.iter().all(|m| !m.initiator));
    assert!(dialer_seen[0].payload.is_empty() && !dialer_seen[1].payload.is_empty());
    // What one side sent is what the other read, in plaintext.
    assert_eq!(dialer_seen[1].payload, listener_seen[1].payload);
    assert_eq!(dialer_seen[2].payload, listener_seen[2].payload);

    let remote_static = |seen: &[HandshakeMessage], n: usize| seen[n].remote_static.clone().unwrap();
    assert_eq!(remote_static(&dialer_seen, 1).len(), 32);
    // Each side learned the key the other holds (made before the
    // handshake, in a fixed order: see `handshake`).
    random::seed_insecurely(5);
    let (alice, bob) = (Keypair::ed25519_from_secret([1; 32]), Keypair::ed25519_from_secret([2; 32]));
    let alice_static = Config::new(&alice).static_public_key().unwrap();
    let bob_static = Config::new(&bob).static_public_key().unwrap();
    assert_eq!(remote_static(&dialer_seen, 1), bob_static);
    assert_eq!(remote_static(&listener_seen, 2), alice_static);
    assert_eq!(remote_static(&listener_seen, 2).len(), 32);
    // Same seed, same static keys; another seed, other keys.
    assert_eq!(remote_static(&dialer_seen, 1), remote_static(&dialer_again, 1));
    assert_eq!(remote_static(&listener_seen, 2), remote_static(&listener_again, 2));
    assert_ne!(remote_static(&dialer_seen, 1), remote_static(&dialer_other, 1));

    // Ephemeral keys too: message 1 is the same bytes on the wire.
    random::seed_insecurely(9);
    let first = first_message().await;
    random::seed_insecurely(9);
    assert_eq!(first, first_message().await);
    assert_eq!(&first[..2], &[0, 32]);
    random::seed_insecurely(10);
    assert_ne!(first, first_message().await);
}
