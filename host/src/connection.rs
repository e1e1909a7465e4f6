//! The task of one connection: it accepts the streams the remote opens,
//! negotiates each one's protocol against the host's handlers, and runs the
//! handler in a task of its own. When the connection ends (or the host
//! shuts down) it closes the connection and reports it.

use std::sync::Arc;

use strata_core::{Multiaddr, PeerId, multistream};

use crate::{
    ConnectionId, Error, Stream,
    host::Inner,
    stack::{BoxStream, Muxed},
};

/// Starts the task of connection `id`.
pub(crate) fn spawn(inner: Arc<Inner>, id: ConnectionId, peer: PeerId, remote_addr: Multiaddr, muxed: Arc<dyn Muxed>) {
    let tasks = inner.tasks.clone();
    tasks.spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = inner.shutdown.cancelled() => break,
                accepted = muxed.accept() => accepted,
            };
            match accepted {
                Ok(Some(stream)) => serve(Arc::clone(&inner), id, peer, remote_addr.clone(), stream),
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%peer, ?id, %error, "host: connection failed");
                    break;
                }
            }
        }
        if let Err(error) = muxed.close().await {
            tracing::debug!(%peer, ?id, %error, "host: closing the connection failed");
        }
        inner.remove_connection(id);
    });
}

/// Negotiates an inbound stream and hands it to its handler, in a task.
fn serve(inner: Arc<Inner>, id: ConnectionId, peer: PeerId, remote_addr: Multiaddr, mut io: BoxStream) {
    let tasks = inner.tasks.clone();
    tasks.spawn(async move {
        let protocols = inner.protocols();
        let timeout = inner.config.negotiation_timeout;
        let negotiation = tokio::time::timeout(timeout, multistream::listener_select(&mut io, &protocols));
        let protocol = match negotiation.await {
            Ok(Ok(protocol)) => protocol.clone(),
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "host: inbound stream negotiation failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, error = %Error::Timeout("stream negotiation", timeout), "host: inbound stream dropped");
                return;
            }
        };
        let Some(handler) = inner.handler(&protocol) else {
            return; // removed in the meantime
        };
        let stream = Stream::new(io, Arc::from(protocol.as_str()), peer, id, remote_addr);
        tokio::select! {
            () = inner.shutdown.cancelled() => {}
            outcome = handler(stream) => {
                if let Err(error) = outcome {
                    tracing::debug!(%peer, %protocol, %error, "host: handler failed");
                }
            }
        }
    });
}
