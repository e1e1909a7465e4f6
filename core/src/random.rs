//! Randomness: the one place strata draws random bytes from.
//!
//! Every random byte a strata node uses comes from [`fill`]: Noise's
//! X25519 keys, ping's payloads, pubsub's first sequence number,
//! gossipsub's peer sampling, Kademlia's random lookup keys, mDNS's peer
//! name and fresh identity keys. By default `fill` reads the operating
//! system's source (`getrandom`).
//!
//! For a *reproducible* run (the anatomy example and the byte excerpts in
//! `docs/` that it generates) [`seed_insecurely`] switches the whole
//! process to a seeded stream: SHA-256 of the seed and a block counter.
//! The same seed and the same order of draws give the same bytes, so two
//! runs of the same program put the same bytes on the wire. Never do this
//! in a node that talks to anyone: whoever knows the seed knows every key.
//!
//! ```text
//! fill(buf) ──▶ seeded?  no ──▶ getrandom (the OS)
//!                        yes ─▶ SHA-256(seed ‖ counter) blocks, in order
//! ```

use std::sync::{
    Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use sha2::{Digest, Sha256};

/// The operating system could not provide random bytes.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// Whether [`seed_insecurely`] was called (read on every draw, locked only
/// when set).
static SEEDED: AtomicBool = AtomicBool::new(false);

/// The seeded stream, once there is one.
static STREAM: Mutex<Option<SeededStream>> = Mutex::new(None);

/// SHA-256 in counter mode over a seed: a deterministic byte stream.
struct SeededStream {
    seed: u64,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededStream {
    fn new(seed: u64) -> Self {
        Self { seed, counter: 0, block: [0; 32], used: 32 }
    }

    fn fill(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == self.block.len() {
                let mut hash = Sha256::new();
                hash.update(b"strata insecure seeded randomness");
                hash.update(self.seed.to_be_bytes());
                hash.update(self.counter.to_be_bytes());
                self.block = hash.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

/// Fills `dest` with random bytes: from the operating system, or from the
/// seeded stream after [`seed_insecurely`].
pub fn fill(dest: &mut [u8]) -> Result<(), RandomError> {
    if SEEDED.load(Ordering::Acquire) {
        let mut stream = STREAM.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(stream) = stream.as_mut() {
            stream.fill(dest);
            return Ok(());
        }
    }
    getrandom::fill(dest).map_err(|error| RandomError(error.to_string()))
}

/// A random `u64` (see [`fill`]).
pub fn u64() -> Result<u64, RandomError> {
    let mut bytes = [0; 8];
    fill(&mut bytes)?;
    Ok(u64::from_be_bytes(bytes))
}

/// **Insecure.** Makes every later draw in this process come from a
/// stream seeded with `seed` instead of the operating system, so that a
/// program that draws in the same order gets the same bytes each run.
/// Calling it again restarts the stream from the new seed.
///
/// For examples, documentation and experiments only: every key a node
/// makes afterwards can be recomputed by anyone who knows the seed.
pub fn seed_insecurely(seed: u64) {
    tracing::warn!(seed, "random: seeded; keys made from now on are predictable");
    *STREAM.lock().unwrap_or_else(PoisonError::into_inner) = Some(SeededStream::new(seed));
    SEEDED.store(true, Ordering::Release);
}

/// Whether [`seed_insecurely`] has been called in this process.
pub fn is_seeded() -> bool {
    SEEDED.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The process-wide switch is not flipped here (other tests in this
    // binary draw keys); the stream itself is what it controls.

    #[test]
    fn a_seeded_stream_repeats_itself_and_depends_on_the_seed() {
        let (mut a, mut b, mut c) = ([0; 100], [0; 100], [0; 100]);
        SeededStream::new(7).fill(&mut a);
        SeededStream::new(7).fill(&mut b);
        SeededStream::new(8).fill(&mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn draws_in_pieces_give_the_same_bytes_as_one_draw() {
        let mut whole = [0; 70];
        SeededStream::new(1).fill(&mut whole);
        let mut stream = SeededStream::new(1);
        let mut pieces = [0; 70];
        for chunk in pieces.chunks_mut(9) {
            stream.fill(chunk);
        }
        assert_eq!(whole, pieces);
    }

    #[test]
    fn the_os_source_gives_different_bytes_each_draw() {
        let (mut a, mut b) = ([0; 32], [0; 32]);
        assert!(fill(&mut a).is_ok());
        assert!(fill(&mut b).is_ok());
        assert_ne!(a, b);
    }
}
