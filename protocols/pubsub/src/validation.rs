//! Application validation: the application's word on each received
//! message before a router forwards or delivers it.
//!
//! Spec: `libp2p-gossipsub-v1.1.md` "Extended Validators": a validator
//! answers *accept* (forward and deliver), *reject* (invalid: the sender
//! is penalised) or *ignore* (drop quietly, nobody penalised).
//!
//! ```text
//! router ──Action::Validate { id, from, message }──▶ service
//!     Validator::sync ─▶ verdict at once, under the service's lock
//!     Validator::asynchronous ─▶ a task (bounded count, timeout ─▶ Ignore)
//! service ──Router::validated(id, verdict)──▶ router ─▶ forward / deliver / penalise
//! ```
//!
//! A synchronous validator runs under the service's lock: it must be quick
//! and must not call back into the service. Anything slower (a database
//! lookup, a signature over the payload) belongs in an asynchronous one.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use strata_core::PeerId;

use crate::Message;

/// The application's verdict on a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Valid: forward it and deliver it.
    Accept,
    /// Invalid: drop it and penalise the peers that sent it.
    Reject,
    /// Not wanted, but not the sender's fault: drop it quietly.
    Ignore,
}

type SyncCheck = dyn Fn(PeerId, &Message) -> Verdict + Send + Sync;
type AsyncCheck = dyn Fn(PeerId, Message) -> Pin<Box<dyn Future<Output = Verdict> + Send>> + Send + Sync;

#[derive(Clone)]
enum Check {
    Sync(Arc<SyncCheck>),
    Async(Arc<AsyncCheck>),
}

/// An application validator: synchronous or asynchronous. Cheap to clone.
#[derive(Clone)]
pub struct Validator {
    check: Check,
    timeout: Duration,
    max_pending: usize,
}

/// How a [`Validator`] is run, for the service.
pub(crate) enum Run {
    /// The verdict, computed now.
    Ready(Verdict),
    /// A verdict to wait for (bounded by the validator's timeout).
    Later(Pin<Box<dyn Future<Output = Verdict> + Send>>),
}

impl Validator {
    /// A validator answered at once, under the service's lock: keep it
    /// quick, and do not call the pubsub service from it.
    pub fn sync(check: impl Fn(PeerId, &Message) -> Verdict + Send + Sync + 'static) -> Self {
        Self { check: Check::Sync(Arc::new(check)), timeout: Duration::from_secs(10), max_pending: 1024 }
    }

    /// A validator that answers later: each message is checked in a task
    /// of its own. At most 1,024 wait at once (more are ignored), each for
    /// at most 10 s (then ignored); see [`Validator::with_limits`].
    pub fn asynchronous<F>(check: impl Fn(PeerId, Message) -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = Verdict> + Send + 'static,
    {
        let check: Arc<AsyncCheck> = Arc::new(move |from, message| Box::pin(check(from, message)));
        Self { check: Check::Async(check), timeout: Duration::from_secs(10), max_pending: 1024 }
    }

    /// How long an asynchronous verdict is waited for, and how many may
    /// be awaited at once; past either the message is ignored.
    #[must_use]
    pub fn with_limits(mut self, timeout: Duration, max_pending: usize) -> Self {
        self.timeout = timeout;
        self.max_pending = max_pending.max(1);
        self
    }

    /// How long an asynchronous verdict is waited for.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many messages may wait for a verdict at once.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    pub(crate) fn run(&self, from: PeerId, message: Message) -> Run {
        match &self.check {
            Check::Sync(check) => Run::Ready(check(from, &message)),
            Check::Async(check) => Run::Later(check(from, message)),
        }
    }
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.check {
            Check::Sync(_) => "sync",
            Check::Async(_) => "async",
        };
        f.debug_struct("Validator")
            .field("kind", &kind)
            .field("timeout", &self.timeout)
            .field("max_pending", &self.max_pending)
            .finish()
    }
}
