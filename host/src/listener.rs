//! The accept loop of one listener: each inbound connection is admitted
//! (or closed) before any handshake (`admission.rs`), then upgraded in a
//! task of its own, holding its handshake slot until it ends. The loop
//! ends at shutdown, when [`crate::Host::stop_listening`] cancels its
//! token, or when the listener says it is finished, and drops the
//! listener.
//!
//! **A listener that ends by itself.** A listener can end without being
//! stopped (a relay listener whose relay connection closed): its accept
//! then fails with an error whose source chain holds an
//! [`io::Error`] of kind [`io::ErrorKind::NotConnected`]. The loop ends,
//! and the listener leaves the host as if stopped ([`remove`]): its
//! addresses leave the listen addresses, each reported as
//! [`Event::ListenAddrExpired`]. Any other accept error is taken as
//! transient (a reset before accept, out of file descriptors): the loop
//! pauses briefly and accepts again.

use std::{io, sync::Arc, time::Duration};

use strata_core::{Endpoint, Multiaddr};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::{Error, Event, admission::Ticket, host::Inner, source::SourceListener};

/// A running listener as the host keeps it: the addresses it added, and
/// the token that stops its accept loop (a child of the shutdown token).
pub(crate) struct Running {
    pub(crate) addrs: Vec<Multiaddr>,
    pub(crate) stop: CancellationToken,
}

/// Starts the accept loop of `listener`, until `stop` is cancelled.
pub(crate) fn spawn(inner: Arc<Inner>, mut listener: Box<dyn SourceListener>, stop: CancellationToken) {
    let tasks = inner.tasks.clone();
    tasks.spawn(async move {
        loop {
            let accepted = tokio::select! {
                biased; // once stopped, accept nothing more
                () = stop.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let pending = match accepted {
                Ok(pending) => pending,
                Err(error) if is_finished(&error) => {
                    tracing::debug!(%error, "the listener ended");
                    remove(&inner, |running| running.stop == stop);
                    break;
                }
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

/// Whether an accept error says the listener is finished: an
/// [`io::ErrorKind::NotConnected`] anywhere in its source chain.
fn is_finished(error: &Error) -> bool {
    let top: &(dyn std::error::Error + 'static) = error;
    std::iter::successors(Some(top), |layer| layer.source())
        .filter_map(|layer| layer.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::NotConnected)
}

/// Removes the first running listener `which` picks: its addresses leave
/// the listen addresses at once, each reported as
/// [`Event::ListenAddrExpired`], and its accept loop is stopped. Returns
/// whether there was one. What [`crate::Host::stop_listening`] does, and
/// what a listener that ended by itself gets.
pub(crate) fn remove(inner: &Inner, which: impl Fn(&Running) -> bool) -> bool {
    let stopped = {
        let mut state = inner.lock();
        let Some(index) = state.listeners.iter().position(which) else {
            return false;
        };
        let stopped = state.listeners.swap_remove(index);
        for gone in &stopped.addrs {
            if let Some(at) = state.listen_addrs.iter().position(|known| known == gone) {
                state.listen_addrs.remove(at);
            }
        }
        stopped
    };
    stopped.stop.cancel();
    for addr in stopped.addrs {
        tracing::info!(%addr, "no longer listening");
        inner.emit(Event::ListenAddrExpired { addr });
    }
    true
}
