//! Running one [`Exchange`] on a host: the actions it asks for (open a
//! stream, write, dial), and what happens (a message, a deadline, the
//! relayed connection gone) back into it. Spec: `libp2p-relay-DCUtR.md`,
//! steps 1 to 5; the state machine is [`crate::state`], the service
//! around it [`crate::Dcutr`].
//!
//! Every wait is bounded: reads and the stream's opening by the
//! exchange's deadline or [`crate::Config::stream_timeout`], dials by
//! [`crate::Config::dial_timeout`].

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use strata_core::{Endpoint, Multiaddr, PeerId};
use strata_host::{ConnectionId, Stream};
use tokio::{io::AsyncWriteExt as _, task::JoinSet};

use crate::state::is_quic;

use crate::{Action, Error, Exchange, HolePunch, Outcome, PROTOCOL, Reason, codec, service::Shared};

/// Runs `exchange` to its end: what it asks, it does; what happens, it
/// is told. Every wait is bounded by the exchange's deadline.
pub(crate) async fn drive(
    shared: &Arc<Shared>,
    peer: PeerId,
    relayed: ConnectionId,
    mut exchange: Exchange,
    mut stream: Option<Stream>,
) -> (u32, Outcome) {
    let mut changes = shared.changes.subscribe();
    let mut relay_seen = false;
    loop {
        while let Some(action) = exchange.poll_action() {
            match action {
                Action::OpenStream => {
                    stream = None;
                    match open(shared, peer, relayed).await {
                        Ok(opened) => stream = Some(opened),
                        Err(reason) => exchange.on_stream_error(reason, Instant::now()),
                    }
                }
                Action::Send(message) => {
                    let Some(open) = stream.as_mut() else { continue };
                    let written =
                        tokio::time::timeout(shared.config.stream_timeout, codec::write_message(open, &message));
                    if !matches!(written.await, Ok(Ok(()))) {
                        exchange.on_stream_error(Reason::StreamClosed, Instant::now());
                    }
                }
                Action::Dial { addrs, role } => {
                    close(shared, stream.take()); // the exchange is over on this stream
                    let deadline = exchange.deadline().unwrap_or_else(Instant::now);
                    let outcome = dial_all(shared, peer, addrs, role, deadline).await;
                    exchange.on_dial_outcome(outcome, Instant::now());
                }
                Action::Done(outcome) => {
                    close(shared, stream.take());
                    return (exchange.attempts(), outcome);
                }
            }
        }
        let Some(deadline) = exchange.deadline() else {
            // Not done and nothing to wait for: cannot happen; end safely.
            return (
                exchange.attempts(),
                Err(crate::Failure {
                    reason: Reason::Protocol,
                    attempts: exchange.attempts(),
                    elapsed: Duration::ZERO,
                }),
            );
        };
        // Gone once seen: an inbound stream may come before the lifecycle
        // has told us of its connection.
        relay_seen |= shared.relayed_alive(peer, relayed);
        let relay_gone = async {
            let mut seen = relay_seen;
            loop {
                let alive = shared.relayed_alive(peer, relayed);
                if seen && !alive {
                    return;
                }
                seen |= alive;
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let reading = stream.as_mut().filter(|_| exchange.awaits_message());
        tokio::select! {
            message = read(reading) => match message {
                Ok(message) => exchange.on_message(message, Instant::now(), |addr| shared.host.can_dial(addr)),
                Err(reason) => exchange.on_stream_error(reason, Instant::now()),
            },
            () = tokio::time::sleep_until(deadline.into()) => exchange.on_timeout(Instant::now()),
            () = relay_gone => exchange.on_relay_closed(Instant::now()),
        }
    }
}

/// Closes `stream` gracefully, in the background (dropping it would reset
/// it, and a reset may overtake the last message in the remote's buffer).
fn close(shared: &Shared, stream: Option<Stream>) {
    let (Some(mut stream), Some(host)) = (stream, shared.host_handle()) else { return };
    let timeout = shared.config.stream_timeout;
    host.spawn(async move {
        let _ = tokio::time::timeout(timeout, stream.shutdown()).await;
    });
}

/// Reads one message from `stream` (pends for ever without one: the
/// caller's deadline bounds it).
async fn read(stream: Option<&mut Stream>) -> Result<HolePunch, Reason> {
    let Some(stream) = stream else { return std::future::pending().await };
    codec::read_message(stream).await.map_err(|error| {
        tracing::debug!(%error, "reading a DCUtR message failed");
        match error {
            Error::Frame(strata_core::Error::Io(_)) => Reason::StreamClosed,
            _ => Reason::Protocol,
        }
    })
}

/// Opens a `/libp2p/dcutr` stream on the relayed connection.
async fn open(shared: &Shared, peer: PeerId, relayed: ConnectionId) -> Result<Stream, Reason> {
    let opening = shared.host.open_stream(peer, &[PROTOCOL]);
    let stream = match tokio::time::timeout(shared.config.stream_timeout, opening).await {
        Err(_) => return Err(Reason::Timeout),
        Ok(Err(strata_host::Error::Negotiation(error))) => {
            tracing::debug!(%peer, %error, "the peer does not serve DCUtR");
            return Err(Reason::Refused);
        }
        Ok(Err(strata_host::Error::NotConnected(_))) => return Err(Reason::RelayClosed),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "opening a DCUtR stream failed");
            return Err(Reason::StreamClosed);
        }
        Ok(Ok(stream)) => stream,
    };
    if stream.connection() != relayed {
        // The host opens streams on a peer's oldest connection: another
        // connection came first (a direct one would have stopped us).
        tracing::debug!(%peer, "the DCUtR stream went over another connection");
    }
    Ok(stream)
}

/// Dials `addrs` at once (QUIC addresses, as the server B, are punched
/// instead: A dials them), until one connects to `peer`, a direct
/// connection to `peer` appears, or `deadline`. The direct connection's
/// address, if any.
async fn dial_all(
    shared: &Arc<Shared>,
    peer: PeerId,
    addrs: Vec<Multiaddr>,
    role: Endpoint,
    deadline: Instant,
) -> Option<Multiaddr> {
    let mut dials = JoinSet::new();
    for addr in addrs {
        let puncher = Arc::clone(&shared.puncher);
        let punch = role == Endpoint::Listener && is_quic(&addr);
        dials.spawn(async move {
            if punch {
                puncher.punch(addr.clone()).await;
                None
            } else {
                match puncher.dial(addr.clone(), role).await {
                    Ok(remote) if remote == peer => Some(addr),
                    Ok(other) => {
                        tracing::debug!(%addr, %other, "a hole punch dial reached another peer");
                        None
                    }
                    Err(error) => {
                        tracing::debug!(%addr, %error, "a hole punch dial failed");
                        None
                    }
                }
            }
        });
    }
    let mut changes = shared.changes.subscribe();
    let appeared = async {
        loop {
            if let Some(addr) = shared.direct(peer) {
                return addr;
            }
            if changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let ours = async {
        while let Some(joined) = dials.join_next().await {
            if let Ok(Some(addr)) = joined {
                return Some(addr);
            }
        }
        None
    };
    let outcome = tokio::time::timeout_at(deadline.into(), async {
        tokio::pin!(appeared);
        tokio::select! {
            addr = &mut appeared => Some(addr),
            dialed = ours => match dialed {
                Some(addr) => Some(addr),
                // Ours all failed: the remote's may still land.
                None => Some((&mut appeared).await),
            },
        }
    })
    .await;
    dials.abort_all();
    outcome.ok().flatten()
}
