//! The life of one connection: it accepts the streams the remote opens,
//! negotiates each one's protocol against the host's handlers, and runs the
//! handler in a task of its own. When the connection ends (or the host
//! shuts down) it closes the connection and returns; the host, which
//! started it, then forgets and reports it (calls go one way: host.rs
//! into this file, never back).
//!
//! Logs: the task runs in the connection's span (peer, id, remote
//! address); each stream's handler in a `stream` span (protocol) inside
//! it, so logs read as a tree.

use std::sync::Arc;

use strata_core::{Multiaddr, PeerId, multistream};
use tracing::Instrument as _;

use crate::{
    ConnectionId, Error, Stream,
    host::Inner,
    source::{BoxStream, Muxed},
};

/// Serves connection `id` until it ends or the host shuts down, then
/// closes it.
pub(crate) async fn run(
    inner: &Arc<Inner>,
    id: ConnectionId,
    peer: PeerId,
    remote_addr: Multiaddr,
    muxed: Arc<dyn Muxed>,
) {
    loop {
        let accepted = tokio::select! {
            () = inner.shutdown.cancelled() => break,
            accepted = muxed.accept() => accepted,
        };
        match accepted {
            Ok(Some(stream)) => serve(Arc::clone(inner), id, peer, remote_addr.clone(), stream),
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(%error, "connection failed");
                break;
            }
        }
    }
    if let Err(error) = muxed.close().await {
        tracing::debug!(%error, "closing the connection failed");
    }
}

/// Negotiates an inbound stream and hands it to its handler, in a task.
fn serve(inner: Arc<Inner>, id: ConnectionId, peer: PeerId, remote_addr: Multiaddr, mut io: BoxStream) {
    let tasks = inner.tasks.clone();
    let task = async move {
        let protocols = inner.protocols();
        let timeout = inner.config.negotiation_timeout;
        let negotiation = tokio::time::timeout(timeout, multistream::listener_select(&mut io, &protocols));
        let protocol = match negotiation.await {
            Ok(Ok(protocol)) => protocol.clone(),
            Ok(Err(error)) => {
                tracing::debug!(%error, "inbound stream negotiation failed");
                return;
            }
            Err(_) => {
                tracing::debug!(error = %Error::Timeout("stream negotiation", timeout), "inbound stream dropped");
                return;
            }
        };
        let Some(handler) = inner.handler(&protocol) else {
            return; // removed in the meantime
        };
        let span = tracing::debug_span!("stream", %protocol);
        let stream = Stream::new(io, Arc::from(protocol.as_str()), peer, id, remote_addr);
        let run = async {
            tokio::select! {
                () = inner.shutdown.cancelled() => {}
                outcome = handler(stream) => {
                    if let Err(error) = outcome {
                        tracing::debug!(%error, "handler failed");
                    }
                }
            }
        };
        run.instrument(span).await;
    };
    tasks.spawn(task.in_current_span());
}
