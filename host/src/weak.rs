//! `WeakHost`: the handle protocol services keep. It reaches every method
//! of [`Host`] but does not keep the host running, so that a service the
//! host owns (in a handler) cannot keep the host alive.

use crate::Host;

/// A handle for services (protocols) to keep: every method of [`Host`]
/// through `Deref`, but it does not keep the host running. A protocol
/// that stored a full `Host` in a handler the host owns would keep the
/// host alive for ever.
#[derive(Clone)]
pub struct WeakHost(pub(crate) Host);

impl std::ops::Deref for WeakHost {
    type Target = Host;

    fn deref(&self) -> &Host {
        &self.0
    }
}

impl WeakHost {
    /// Waits until the host has shut down and every task of it has ended
    /// (bounded by nothing: wrap it in a timeout).
    pub async fn terminated(&self) {
        self.0.inner.shutdown.cancelled().await;
        self.0.inner.tasks.wait().await;
    }

    /// Whether the host is shut down (or shutting down).
    pub fn is_shut_down(&self) -> bool {
        self.0.inner.shutdown.is_cancelled()
    }
}

impl std::fmt::Debug for WeakHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WeakHost").field(&self.0.inner.peer_id).finish()
    }
}
