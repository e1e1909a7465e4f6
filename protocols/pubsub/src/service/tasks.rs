//! The service's tasks: following the host's connections, the router's
//! heartbeat, and reading each inbound stream (see the parent module).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use strata_core::{Endpoint, framing};
use strata_host::{ConnectionEvent, Lifecycle, Stream};
use tokio::io::AsyncWriteExt;

use super::{PeerConnection, Router, Shared};

/// Follows the host's connections through its reliable lifecycle:
/// announces subscriptions to each new peer, forgets each peer that left.
pub(super) async fn follow<R: Router + ?Sized>(shared: Arc<Shared<R>>, mut lifecycle: Lifecycle) {
    while let Some(event) = lifecycle.next().await {
        match event {
            ConnectionEvent::Established { peer, first: true, remote_addr, endpoint, .. } => {
                let outbound = endpoint == Endpoint::Dialer;
                shared.peer_connected(peer, &PeerConnection { remote_addr, outbound });
            }
            ConnectionEvent::Closed { peer, last: true, .. } => shared.peer_disconnected(peer),
            _ => {}
        }
    }
}

/// Runs the router's heartbeat every `interval` while the service lives.
pub(super) async fn heartbeat<R: Router + ?Sized>(shared: std::sync::Weak<Shared<R>>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else { return };
        let mut state = shared.lock();
        let actions = state.router.heartbeat(Instant::now());
        shared.apply(&mut state, actions);
    }
}

/// Reads RPCs from an inbound stream until the remote closes it.
pub(super) async fn read_inbound<R: Router + ?Sized>(
    shared: Arc<Shared<R>>,
    mut stream: Stream,
) -> std::io::Result<()> {
    let peer = stream.peer();
    {
        let mut state = shared.lock();
        let count = state.inbound.entry(peer).or_default();
        if *count >= shared.config.shared.max_inbound_streams_per_peer {
            tracing::debug!(%peer, "pubsub: too many inbound streams from one peer; dropping one");
            return Ok(());
        }
        *count += 1;
        if shared.host.is_connected(peer) {
            // What it speaks, and evidence of how it uses streams, may
            // come before the connection event does. Of a peer already
            // gone nothing is kept: its disconnect was handled.
            state.router.peer_protocol(peer, stream.protocol());
            state.writers.add_peer(peer);
        }
    }
    let mut rpcs = 0usize;
    let mut ended = false;
    let outcome = loop {
        match framing::try_read_length_prefixed(&mut stream, shared.config.shared.max_rpc_len).await {
            Ok(Some(rpc)) => {
                rpcs += 1;
                if rpcs == 2 {
                    shared.lock().writers.inbound_stream_is_long_lived(peer);
                }
                if !shared.receive(peer, &rpc) {
                    break Ok(());
                }
            }
            // The remote is done: close our side too (a graceful end).
            Ok(None) => {
                ended = true;
                break stream.shutdown().await;
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "pubsub: inbound stream ended");
                break Ok(());
            }
        }
    };
    let mut state = shared.lock();
    let mut others_open = 0;
    if let Some(count) = state.inbound.get_mut(&peer) {
        *count -= 1;
        others_open = *count;
        if *count == 0 {
            state.inbound.remove(&peer);
        }
    }
    if ended {
        state.writers.inbound_stream_ended(peer, rpcs, others_open);
    }
    outcome
}
