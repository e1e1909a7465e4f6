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
//! peers fill, and the limit is checked between frames, so the node can
//! pass it by at most one frame per connection. A connection held back
//! waits on [`MemoryBudget::poll_room`], and is woken by whichever
//! connection's reader brings the node back under the limit.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll, Waker},
};

/// A shared limit on buffered bytes. Cheap to clone: clones share it.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    shared: Arc<Shared>,
    limit: usize,
}

#[derive(Debug, Default)]
struct Shared {
    used: AtomicUsize,
    /// Whether `waiters` may hold anyone (checked without the lock).
    waiting: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { shared: Arc::default(), limit }
    }

    /// Records `bytes` more in use.
    pub fn add(&self, bytes: usize) {
        self.shared.used.fetch_add(bytes, Ordering::SeqCst);
    }

    /// Records `bytes` no longer in use; wakes those waiting for room if
    /// there is room now.
    pub fn remove(&self, bytes: usize) {
        // Saturating: a layer that removes more than it added must not wrap.
        let _ =
            self.shared.used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| Some(used.saturating_sub(bytes)));
        if self.shared.waiting.load(Ordering::SeqCst) && !self.is_over() {
            self.shared.waiting.store(false, Ordering::SeqCst);
            let waiters = std::mem::take(&mut *self.shared.waiters.lock().unwrap_or_else(PoisonError::into_inner));
            waiters.into_iter().for_each(Waker::wake);
        }
    }

    /// The bytes in use.
    pub fn used(&self) -> usize {
        self.shared.used.load(Ordering::SeqCst)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether more is in use than the limit allows.
    pub fn is_over(&self) -> bool {
        self.used() > self.limit
    }

    /// Ready when the budget is not over its limit; otherwise the task is
    /// woken once some of it is removed and it is not.
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.is_over() {
            return Poll::Ready(());
        }
        {
            let mut waiters = self.shared.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            if !waiters.iter().any(|waiter| waiter.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            self.shared.waiting.store(true, Ordering::SeqCst);
        }
        // A removal between the first look and the flag must not be missed.
        if self.is_over() { Poll::Pending } else { Poll::Ready(()) }
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

    #[test]
    fn a_task_waiting_for_room_is_woken_when_there_is_room() {
        let budget = MemoryBudget::new(100);
        budget.add(150);
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let waker = Waker::from(Arc::new(Counter(Arc::clone(&woken))));
        let mut cx = Context::from_waker(&waker);
        assert!(budget.poll_room(&mut cx).is_pending());
        assert!(budget.poll_room(&mut cx).is_pending(), "registered once");
        budget.remove(20);
        assert_eq!(woken.load(Ordering::SeqCst), 0, "still over: nobody woken");
        budget.remove(30);
        assert_eq!(woken.load(Ordering::SeqCst), 1, "room: woken once");
        assert!(budget.poll_room(&mut cx).is_ready());
    }

    struct Counter(Arc<std::sync::atomic::AtomicUsize>);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}
