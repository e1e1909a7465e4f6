//! The accept loop of one listener: each inbound connection is admitted
//! (or closed) before any handshake (`admission.rs`), then upgraded in a
//! task of its own, holding its handshake slot until it ends.

use std::{sync::Arc, time::Duration};

use strata_core::Endpoint;
use tracing::Instrument as _;

use crate::{Event, admission::Ticket, host::Inner, source::SourceListener};

/// Starts the accept loop of `listener`.
pub(crate) fn spawn(inner: Arc<Inner>, mut listener: Box<dyn SourceListener>) {
    let tasks = inner.tasks.clone();
    tasks.spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = inner.shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let pending = match accepted {
                Ok(pending) => pending,
                Err(error) => {
                    // Often transient (a reset before accept, out of file
                    // descriptors): pause briefly rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let permit = match Ticket::take(&inner.gate, &pending.remote_addr) {
                Ok(ticket) => ticket,
                Err(refusal) => {
                    tracing::debug!(remote = %pending.remote_addr, %refusal, "inbound connection refused before its handshake");
                    continue;
                }
            };
            let tasks = inner.tasks.clone();
            let inner = Arc::clone(&inner);
            let span = tracing::debug_span!("inbound", remote = %pending.remote_addr);
            let upgrade = async move {
                let _permit = permit;
                let remote_addr = pending.remote_addr;
                let outcome = tokio::select! {
                    () = inner.shutdown.cancelled() => return,
                    outcome = pending.upgrade => outcome,
                };
                match outcome {
                    Ok(upgraded) => {
                        if let Err(error) = inner.add_connection(upgraded, Endpoint::Listener, remote_addr).await {
                            tracing::debug!(%error, "inbound connection refused");
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%error, "inbound upgrade failed");
                        inner.emit(Event::InboundFailed { remote_addr, error: Arc::new(error) });
                    }
                }
            };
            tasks.spawn(upgrade.instrument(span));
        }
    });
}
