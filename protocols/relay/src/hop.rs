//! The hop service: a host serving `/libp2p/circuit/relay/0.2.0/hop`.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Hop Protocol" and "Stop
//! Protocol" (the relay's half). A thin driver around [`HopState`]:
//!
//! ```text
//! hop stream ─▶ read HopMessage (bounded, timed)
//!   RESERVE ─▶ HopState::reserve ─▶ STATUS OK + Reservation + Limit │ refusal
//!   CONNECT ─▶ HopState::connect ─▶ open stop stream to the target ─▶ StopMessage CONNECT
//!             ─▶ target's STATUS OK ─▶ hop STATUS OK + Limit ─▶ splice (byte and time caps)
//!   else    ─▶ UNEXPECTED_MESSAGE; undecodable ─▶ MALFORMED_MESSAGE
//! lifecycle: a peer's last connection closes ─▶ HopState::disconnected
//! ```
//!
//! Requests that arrive over a relayed connection (a remote address with
//! `/p2p-circuit`) are refused with `PERMISSION_DENIED`, as the spec
//! advises. Reservation vouchers are not sent yet (they are advisory).

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use strata_core::PeerId;
use strata_host::{ConnectionEvent, Host, Lifecycle, Stream, WeakHost};

use crate::{
    Config, Error, HOP_PROTOCOL, HopMessage, HopState, Peer, Reservation, STOP_PROTOCOL, Status, StopMessage, codec,
    splice::splice, state::CircuitId,
};

struct Shared {
    host: WeakHost,
    config: Config,
    state: Mutex<HopState>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, HopState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The relay (hop) service of a host. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    shared: Arc<Shared>,
}

impl Relay {
    /// Serves the hop protocol on `host` with `config`'s limits.
    pub fn attach(host: &Host, config: Config) -> strata_host::Result<Self> {
        let shared = Arc::new(Shared { host: host.downgrade(), state: Mutex::new(HopState::new(&config)), config });
        let serving = Arc::clone(&shared);
        host.handle(HOP_PROTOCOL, move |stream| serve(Arc::clone(&serving), stream))?;
        host.spawn(forget_disconnected(Arc::clone(&shared), host.lifecycle()));
        Ok(Self { shared })
    }

    /// How many reservations are held now.
    pub fn reservation_count(&self) -> usize {
        let mut state = self.shared.state();
        state.expire(Instant::now());
        state.reservation_count()
    }

    /// How many circuits are relayed now.
    pub fn circuit_count(&self) -> usize {
        self.shared.state().circuit_count()
    }
}

/// Ends the reservation of every peer whose last connection closed.
async fn forget_disconnected(shared: Arc<Shared>, mut lifecycle: Lifecycle) {
    while let Some(event) = lifecycle.next().await {
        if let ConnectionEvent::Closed { peer, last: true, .. } = event {
            shared.state().disconnected(peer);
        }
    }
}

fn status(status: Status) -> HopMessage {
    HopMessage::Status { status, reservation: None, limit: None }
}

async fn serve(shared: Arc<Shared>, mut stream: Stream) -> std::io::Result<()> {
    let timeout = shared.config.handshake_timeout;
    let Ok(request) = tokio::time::timeout(timeout, codec::read_hop(&mut stream)).await else {
        return Ok(()); // silent client: drop the stream
    };
    let answer = match request {
        Err(Error::Decode(error)) => {
            tracing::debug!(peer = %stream.peer(), %error, "malformed hop message");
            status(Status::MalformedMessage)
        }
        Err(error) => return Err(std::io::Error::other(error)),
        Ok(_) if stream.is_limited() => status(Status::PermissionDenied),
        Ok(HopMessage::Reserve) => reserve(&shared, &stream),
        Ok(HopMessage::Connect { peer }) => return connect(shared, stream, peer.id).await,
        Ok(HopMessage::Status { .. }) => status(Status::UnexpectedMessage),
    };
    last_answer(&mut stream, &answer).await
}

/// Writes the last message of a hop stream and closes it for writing. The
/// close matters over QUIC: a stream dropped unclosed is reset, and a
/// QUIC reset may discard what was written but not yet delivered.
async fn last_answer(stream: &mut Stream, answer: &HopMessage) -> std::io::Result<()> {
    codec::write_hop(stream, answer).await.map_err(std::io::Error::other)?;
    tokio::io::AsyncWriteExt::shutdown(stream).await
}

fn reserve(shared: &Shared, stream: &Stream) -> HopMessage {
    let peer = stream.peer();
    let granted = shared.state().reserve(peer, stream.remote_addr().ip(), Instant::now());
    if let Err(refusal) = granted {
        tracing::debug!(%peer, ?refusal, "reservation refused");
        return status(refusal);
    }
    let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let expire = (unix_now + shared.config.reservation_ttl).as_secs();
    let relay = shared.host.peer_id();
    // What this relay tells a peer seen where the reserving one is (no
    // private or loopback address to a public peer; confirmed external
    // addresses first), its own circuit addresses left out: a circuit
    // through a circuit is not served.
    let addrs = shared
        .host
        .advertised_addrs(stream.remote_addr())
        .into_iter()
        .filter(|addr| !strata_host::is_relayed(addr))
        .filter_map(|addr| addr.with_p2p(relay).ok())
        .collect();
    HopMessage::Status {
        status: Status::Ok,
        reservation: Some(Reservation { expire, addrs, voucher: None }),
        limit: Some(shared.config.limit()),
    }
}

/// Frees a circuit's slots when the circuit ends, however it ends.
struct CircuitGuard {
    shared: Arc<Shared>,
    id: CircuitId,
}

impl Drop for CircuitGuard {
    fn drop(&mut self) {
        self.shared.state().circuit_closed(self.id);
    }
}

async fn connect(shared: Arc<Shared>, mut hop: Stream, target: PeerId) -> std::io::Result<()> {
    let src = hop.peer();
    let admitted = shared.state().connect(src, target, Instant::now());
    let id = match admitted {
        Ok(id) => id,
        Err(refusal) => {
            tracing::debug!(%src, %target, ?refusal, "circuit refused");
            return last_answer(&mut hop, &status(refusal)).await;
        }
    };
    let _guard = CircuitGuard { shared: Arc::clone(&shared), id };
    let timeout = shared.config.handshake_timeout;
    let stop = tokio::time::timeout(timeout, open_stop(&shared, src, target)).await;
    let Ok(Some(stop)) = stop else {
        return last_answer(&mut hop, &status(Status::ConnectionFailed)).await;
    };
    let ok = HopMessage::Status { status: Status::Ok, reservation: None, limit: Some(shared.config.limit()) };
    codec::write_hop(&mut hop, &ok).await.map_err(std::io::Error::other)?;
    let end = splice(hop, stop, shared.config.circuit_bytes, shared.config.circuit_duration).await;
    tracing::debug!(%src, %target, ?end, "circuit ended");
    Ok(())
}

/// Opens the stop stream to `target` and has it accept the circuit from
/// `src`; `None` if anything fails or it refuses.
async fn open_stop(shared: &Shared, src: PeerId, target: PeerId) -> Option<Stream> {
    let mut stop = shared.host.open_stream(target, &[STOP_PROTOCOL]).await.ok()?;
    let connect =
        StopMessage::Connect { peer: Peer { id: src, addrs: Vec::new() }, limit: Some(shared.config.limit()) };
    codec::write_stop(&mut stop, &connect).await.ok()?;
    match codec::read_stop(&mut stop).await {
        Ok(StopMessage::Status(Status::Ok)) => Some(stop),
        answer => {
            tracing::debug!(%src, %target, ?answer, "target refused the circuit");
            None
        }
    }
}
