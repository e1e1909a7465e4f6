//! The perf server on a host: opt-in, bounded, and reporting what it served.

use std::{collections::HashSet, sync::Arc, time::Duration};

use strata_core::PeerId;
use strata_host::Host;
use tokio::sync::{Semaphore, mpsc};

use crate::{Error, PROTOCOL, stream};

/// Limits of the perf server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Streams served at once (across peers); past it, new ones are reset.
    /// Default: 16.
    pub max_concurrent_streams: usize,
    /// The most bytes one stream may ask for. Default: `u64::MAX` (the
    /// spec's timer-based download asks for that and closes when done).
    pub max_download: u64,
    /// How long a stream may stay silent (no request, no upload byte)
    /// before it is dropped. Default: 30 s.
    pub idle_timeout: Duration,
    /// If set, only these peers are served (the spec's suggestion for
    /// anything reachable beyond a lab).
    pub allowed_peers: Option<HashSet<PeerId>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_concurrent_streams: 16,
            max_download: u64::MAX,
            idle_timeout: Duration::from_secs(30),
            allowed_peers: None,
        }
    }
}

/// One stream the server finished.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServedStream {
    /// The client.
    pub peer: PeerId,
    /// What was moved, and how long it took.
    pub served: stream::Served,
}

/// Serves `/perf/1.0.0` on `host` until it shuts down. Returns the streams
/// served, as they end (the most recent 256 are kept if nobody reads them).
pub fn serve(host: &Host, config: ServerConfig) -> Result<mpsc::Receiver<ServedStream>, Error> {
    let (tx, rx) = mpsc::channel(256);
    let slots = Arc::new(Semaphore::new(config.max_concurrent_streams));
    let config = Arc::new(config);
    host.handle(PROTOCOL, move |mut io| {
        let (tx, slots, config) = (tx.clone(), Arc::clone(&slots), Arc::clone(&config));
        async move {
            let peer = io.peer();
            if config.allowed_peers.as_ref().is_some_and(|allowed| !allowed.contains(&peer)) {
                tracing::debug!(%peer, "perf: a peer not allowed");
                return Ok(());
            }
            let Ok(_slot) = slots.try_acquire() else {
                tracing::debug!(%peer, "perf: too many streams at once");
                return Ok(());
            };
            match stream::server(&mut io, config.max_download, config.idle_timeout).await {
                Ok(served) => {
                    let _ = tx.try_send(ServedStream { peer, served });
                    Ok(())
                }
                Err(Error::Io(error)) => Err(error),
                Err(error) => Err(std::io::Error::other(error.to_string())),
            }
        }
    })?;
    Ok(rx)
}
