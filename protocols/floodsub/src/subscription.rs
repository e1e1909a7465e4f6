//! `Subscription`: the messages of one topic, as they arrive.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::{Message, service::Shared};

/// A local subscription to a topic. Messages arrive with
/// [`Subscription::next`]; a subscriber that falls behind by more than the
/// configured capacity misses the newest messages (they are dropped for it,
/// not queued without bound). Dropping it unsubscribes (peers are told
/// when the last subscription to a topic goes).
pub struct Subscription {
    topic: String,
    id: u64,
    receiver: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
}

impl Subscription {
    pub(crate) fn new(topic: String, id: u64, receiver: mpsc::Receiver<Message>, shared: Arc<Shared>) -> Self {
        Self { topic, id, receiver, shared }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next message; `None` once the host has shut down. Cancel-safe.
    pub async fn next(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.unsubscribe(&self.topic, self.id);
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("topic", &self.topic).finish_non_exhaustive()
    }
}
