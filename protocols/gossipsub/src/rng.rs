//! A small seeded generator (splitmix64) for the router's random choices:
//! which peers join a mesh, which get gossip. Seeded from the OS unless
//! the config fixes a seed, so simulations replay exactly.

#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            if let Err(error) = strata_core::random::fill(&mut bytes) {
                tracing::warn!(%error, "gossipsub: no random seed; using a fixed one");
            }
            u64::from_le_bytes(bytes)
        });
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Shuffles in place (Fisher–Yates).
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let bound = u64::try_from(i + 1).unwrap_or(u64::MAX);
            let j = usize::try_from(self.next() % bound).unwrap_or(0);
            items.swap(i, j);
        }
    }

    /// Up to `n` of `items`, chosen at random.
    pub(crate) fn choose<T>(&mut self, mut items: Vec<T>, n: usize) -> Vec<T> {
        self.shuffle(&mut items);
        items.truncate(n);
        items
    }
}
