//! `MemoryBudget`: one node's limit on memory that peers can make it hold.
//!
//! Per-connection limits (a muxer's receive buffers) bound what one peer
//! can pin, but not what many can: a thousand connections each within
//! their limit can still exhaust a node. A `MemoryBudget` is shared by
//! every connection of a node; each adds what it buffers and removes what
//! the application consumed, and a connection stops reading from its peer
//! while the node is over budget (back-pressure: the peers that send
//! fastest are the ones that wait), until the application catches up.
//!
//! It is a counter, not an allocator: layers account the buffers that
//! peers fill, and the limit is checked between reads, so the node can pass
//! it by at most one read per connection.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

/// A shared limit on buffered bytes. Cheap to clone: clones share it.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { used: Arc::new(AtomicUsize::new(0)), limit }
    }

    /// Records `bytes` more in use.
    pub fn add(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records `bytes` no longer in use.
    pub fn remove(&self, bytes: usize) {
        // Saturating: a layer that removes more than it added must not wrap.
        let _ = self.used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| Some(used.saturating_sub(bytes)));
    }

    /// The bytes in use.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether more is in use than the limit allows.
    pub fn is_over(&self) -> bool {
        self.used() > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_count_and_removal_saturates() {
        let budget = MemoryBudget::new(100);
        let other = budget.clone();
        budget.add(80);
        other.add(30);
        assert!(budget.is_over());
        other.remove(30);
        assert!(!budget.is_over());
        budget.remove(1000);
        assert_eq!(other.used(), 0);
    }
}
