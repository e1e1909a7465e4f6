//! The listener's side of a QUIC hole punch (`libp2p-relay-DCUtR.md`,
//! "Simultaneous Connect", for a QUIC address).
//!
//! Two peers behind NATs agreed over a relay to meet. `A` dials `B`'s
//! address; `B`, meanwhile, "starts to send UDP packets filled with random
//! bytes to `A`'s address", "repeatedly in random intervals between 10 and
//! 200 ms". Those packets leave from the socket `B` listens on, so `B`'s
//! NAT opens a mapping for `A`'s address on `B`'s listen port, and `A`'s
//! QUIC Initial gets through: "a QUIC connection where `A` is the client
//! and `B` is the server". `A` ignores the packets (a QUIC endpoint drops
//! what it cannot parse).
//!
//! ```text
//! B: hole_punch(A) ── random 64–200 bytes from B's listen socket ─▶ A   (every 10–200 ms)
//! A: dial(B)       ── QUIC Initial ──────────────────────────────▶ B's listener ─▶ accept
//!                                                                     └─ wakes B's punch: done
//! ```
//!
//! The spec sets no end; like rust-libp2p, the packets stop when `A`'s
//! connection arrives at the listener, or after a time limit
//! ([`crate::Config::with_hole_punch_duration`], the handshake timeout by
//! default).

use std::{
    io,
    net::{SocketAddr, UdpSocket},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::Notify;

/// The shortest and longest gap between two packets (the spec's).
const INTERVAL_MS: (u64, u64) = (10, 200);
/// The smallest and largest packet: too short to be mistaken for anything
/// that parses, and far under any path's MTU.
const SIZE: (usize, usize) = (64, 200);

/// The sockets of the listening endpoints (to punch from), and the punches
/// under way (to stop when their peer's connection arrives).
#[derive(Debug, Default)]
pub(crate) struct Punchers {
    sockets: Mutex<Vec<(SocketAddr, Arc<UdpSocket>)>>,
    waiting: Mutex<Vec<(SocketAddr, Arc<Notify>)>>,
}

/// A punch under way; unregisters on drop.
pub(crate) struct Waiting<'a> {
    punchers: &'a Punchers,
    notify: Arc<Notify>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self.punchers.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.retain(|(_, notify)| !Arc::ptr_eq(notify, &self.notify));
    }
}

impl Punchers {
    /// Keeps a handle on a listening endpoint's socket, bound to `bound`.
    pub(crate) fn add(&self, bound: SocketAddr, socket: UdpSocket) {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner).push((bound, Arc::new(socket)));
    }

    /// Forgets the socket bound to `bound` (its listener is gone).
    pub(crate) fn remove(&self, bound: SocketAddr) {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner).retain(|(addr, _)| *addr != bound);
    }

    /// A listening socket of `remote`'s family.
    pub(crate) fn socket_for(&self, remote: SocketAddr) -> Option<Arc<UdpSocket>> {
        let sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        sockets.iter().find(|(bound, _)| bound.is_ipv4() == remote.is_ipv4()).map(|(_, socket)| Arc::clone(socket))
    }

    /// Registers a punch towards `remote`.
    pub(crate) fn wait_for(&self, remote: SocketAddr) -> Waiting<'_> {
        let notify = Arc::new(Notify::new());
        let remote = canonical(remote);
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).push((remote, Arc::clone(&notify)));
        Waiting { punchers: self, notify }
    }

    /// A connection from `remote` reached a listener: its punches are done.
    pub(crate) fn arrived(&self, remote: SocketAddr) {
        let remote = canonical(remote);
        let waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, notify) in waiting.iter().filter(|(addr, _)| *addr == remote) {
            notify.notify_one();
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Sends random packets to `remote` from `socket` until the connection of
/// `waiting` arrives or `duration` passes; returns whether it arrived.
pub(crate) async fn punch(socket: &UdpSocket, remote: SocketAddr, waiting: &Waiting<'_>, duration: Duration) -> bool {
    let sending = async {
        let mut sent = 0usize;
        loop {
            match send_one(socket, remote) {
                Ok(()) => sent += 1,
                // Best effort: a full send buffer or a route not there yet
                // loses one packet, the next one follows.
                Err(error) => tracing::debug!(%remote, %error, "quic: hole punch packet not sent"),
            }
            tracing::trace!(%remote, sent, "quic: hole punch packet");
            let [gap] = random::<1>();
            let (low, high) = INTERVAL_MS;
            tokio::time::sleep(Duration::from_millis(low + u64::from(gap) % (high - low + 1))).await;
        }
    };
    tokio::select! {
        () = waiting.notify.notified() => true,
        () = tokio::time::sleep(duration) => false,
        () = sending => false,
    }
}

/// One packet of 64 to 200 random bytes.
fn send_one(socket: &UdpSocket, remote: SocketAddr) -> io::Result<()> {
    let bytes = random::<{ SIZE.1 + 1 }>();
    let (low, high) = SIZE;
    let len = low + usize::from(bytes[SIZE.1]) % (high - low + 1);
    socket.send_to(&bytes[..len], remote).map(drop)
}

/// Random bytes from the system's generator; zeros if it fails (the
/// packets' content does not matter, only that they leave).
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    if let Err(error) = getrandom::fill(&mut bytes) {
        tracing::debug!(%error, "no random bytes for a hole punch packet");
    }
    bytes
}
