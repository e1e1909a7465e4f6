//! Which primitives snow uses: ring's ChaCha20-Poly1305 and SHA-256,
//! curve25519-dalek's X25519 (snow's own resolvers), and strata's
//! randomness ([`strata_core::random`]) for every key snow makes: the
//! static key and each handshake's ephemeral key. Drawing through core
//! keeps one source of randomness for the whole stack, which is what makes
//! a seeded run (the anatomy example) reproducible byte for byte.

use snow::{
    params::{CipherChoice, DHChoice, HashChoice},
    resolvers::{CryptoResolver, DefaultResolver, FallbackResolver, RingResolver},
    types::{Cipher, Dh, Hash, Random},
};

/// snow's ring-then-default resolver, with strata's random source.
pub(crate) struct Resolver(FallbackResolver);

impl Resolver {
    /// The resolver as snow's builder takes it.
    pub(crate) fn boxed() -> Box<dyn CryptoResolver + Send> {
        Box::new(Self(FallbackResolver::new(Box::new(RingResolver), Box::new(DefaultResolver))))
    }
}

impl CryptoResolver for Resolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(CoreRandom))
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        self.0.resolve_dh(choice)
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        self.0.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        self.0.resolve_cipher(choice)
    }
}

/// [`strata_core::random::fill`] as snow's `Random`.
struct CoreRandom;

impl Random for CoreRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        strata_core::random::fill(dest).map_err(|error| {
            tracing::warn!(%error, "noise: no random bytes");
            snow::Error::Rng
        })
    }
}
