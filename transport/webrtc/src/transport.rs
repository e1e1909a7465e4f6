//! `WebRtcTransport`: dialing and listening on WebRTC-direct, as core's
//! `ConnectionSource`.
//!
//! Spec: `libp2p-webrtc-direct.md`, "Connection Establishment".
//!
//! ```text
//! listen /ip4/a/udp/p/webrtc-direct ─▶ UDP socket ─▶ demux task (by source address)
//!   known source   ─▶ that connection's driver
//!   new source     ─▶ a STUN binding request? USERNAME "<server ufrag>:<client ufrag>"
//!                     ─▶ new server Rtc (ICE-lite, DTLS server), driver task, and an
//!                        upgrade handed to accept(): waits for Noise, bounded by the timeout
//! dial .../webrtc-direct/certhash/<h> ─▶ own UDP socket, random ufrag "libp2p+webrtc+v1/…",
//!                     client Rtc (ICE controlling, DTLS client, expects certificate <h>)
//! ```
//!
//! The demux task never waits on a connection: a datagram for a busy
//! connection whose queue is full is dropped, as the network may drop it.
//! New connections are bounded by [`Config::with_max_pending`].

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use strata_core::{ConnectionListener, ConnectionSource, Keypair, Multiaddr, PeerId};
use tokio::{
    net::UdpSocket,
    sync::{mpsc, oneshot},
};
use tracing::Instrument as _;

use crate::{
    Certificate, Config, Error, Fingerprint, Result, WebRtcConnection, addr,
    connection::{Datagram, Shared},
    rtc::{self, Role},
};

/// How many datagrams may wait for one connection's driver.
const QUEUE: usize = 256;

/// The longest datagram we read (above any MTU).
const MAX_DATAGRAM: usize = 2048;

/// The WebRTC-direct transport of one node. Cheap to clone.
#[derive(Clone)]
pub struct WebRtcTransport {
    shared: Arc<TransportShared>,
}

struct TransportShared {
    identity: Keypair,
    /// Made on first use by [`WebRtcTransport::new`] (a key generation),
    /// or given.
    certificate: OnceLock<Certificate>,
    config: Config,
}

impl std::fmt::Debug for WebRtcTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcTransport")
            .field("fingerprint", &self.shared.certificate.get().map(Certificate::fingerprint))
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl WebRtcTransport {
    /// The transport of a node with this identity and a new DTLS
    /// certificate, made on first use: its addresses change with every
    /// run. To keep them, keep the certificate
    /// ([`with_certificate`](Self::with_certificate)).
    pub fn new(identity: &Keypair, config: Config) -> Self {
        let shared = TransportShared { identity: identity.clone(), certificate: OnceLock::new(), config };
        Self { shared: Arc::new(shared) }
    }

    /// The transport of a node with this identity and DTLS certificate
    /// (one it kept, so that its addresses stay the same).
    pub fn with_certificate(identity: &Keypair, certificate: Certificate, config: Config) -> Self {
        let shared = TransportShared { identity: identity.clone(), certificate: certificate.into(), config };
        Self { shared: Arc::new(shared) }
    }

    /// The DTLS certificate (made now if it was not yet): store its
    /// [`der`](Certificate::der) and [`key_der`](Certificate::key_der) to
    /// keep the node's addresses across restarts.
    pub fn certificate(&self) -> Result<&Certificate> {
        if let Some(certificate) = self.shared.certificate.get() {
            return Ok(certificate);
        }
        // Two first uses at once may both make one; one is kept.
        let made = Certificate::generate()?;
        Ok(self.shared.certificate.get_or_init(|| made))
    }

    /// The certificate's fingerprint: the `/certhash` of our addresses.
    pub fn fingerprint(&self) -> Result<Fingerprint> {
        Ok(self.certificate()?.fingerprint())
    }

    /// Starts a connection's driver on `socket`.
    fn start(&self, socket: Arc<UdpSocket>, local: SocketAddr, remote: SocketAddr, role: Role) -> Result<Started> {
        let shared = &self.shared;
        let side = if matches!(role, Role::Server { .. }) { "server" } else { "client" };
        let certificate = self.certificate()?;
        let (rtc, noise) = rtc::new_rtc(certificate, local, &role, Instant::now())?;
        let (connection, outcome) =
            Shared::new(rtc, noise, &shared.identity, certificate, role, shared.config.clone(), local);
        let (sender, receiver) = mpsc::channel(QUEUE);
        let span = tracing::debug_span!("webrtc", side, %remote);
        tokio::spawn(Arc::clone(&connection).drive(socket, receiver).instrument(span));
        Ok(Started { sender, outcome, connection })
    }
}

/// A connection whose driver runs: its datagram queue, and what its
/// upgrade waits for.
struct Started {
    sender: mpsc::Sender<Datagram>,
    outcome: oneshot::Receiver<Result<PeerId>>,
    connection: Arc<Shared>,
}

/// Waits for a connection's handshake, at most `timeout` (its driver also
/// gives up then).
async fn established(
    outcome: oneshot::Receiver<Result<PeerId>>,
    connection: Arc<Shared>,
    timeout: std::time::Duration,
) -> Result<(PeerId, WebRtcConnection)> {
    // Made first, so an abandoned upgrade closes the connection.
    let handle = WebRtcConnection::new(connection);
    let peer = tokio::time::timeout(timeout, outcome)
        .await
        .map_err(|_| Error::Timeout(timeout))?
        .map_err(|_| Error::Closed)??;
    Ok((peer, handle))
}

/// A random ICE ufrag with the spec's version prefix.
fn random_ufrag() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 24];
    strata_core::random::fill(&mut bytes).map_err(|error| Error::Io(std::io::Error::other(error.to_string())))?;
    let suffix: String = bytes.iter().map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()])).collect();
    Ok(format!("libp2p+webrtc+v1/{suffix}"))
}

/// The local address the kernel would send to `remote` from.
fn local_ip_for(remote: SocketAddr) -> Result<IpAddr> {
    let wildcard: IpAddr = if remote.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let probe = std::net::UdpSocket::bind((wildcard, 0))?;
    probe.connect(remote)?;
    Ok(probe.local_addr()?.ip())
}

impl ConnectionSource for WebRtcTransport {
    type Connection = WebRtcConnection;
    type Listener = WebRtcListener;
    type Error = Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        addr::parse(addr).is_some_and(|(_, hashes)| !hashes.is_empty())
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        addr::parse(addr).is_some_and(|(_, hashes)| hashes.is_empty())
    }

    async fn dial(&self, addr: &Multiaddr, expected: Option<PeerId>) -> Result<(PeerId, WebRtcConnection)> {
        let (remote, hashes) = addr::parse(addr).ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let hash = hashes.first().ok_or_else(|| Error::NoCerthash(addr.clone()))?;
        let server = Fingerprint::from_multihash(hash)?;
        let socket = UdpSocket::bind((local_ip_for(remote)?, 0)).await?;
        let local = socket.local_addr()?;
        let socket = Arc::new(socket);
        let role = Role::Client { ufrag: random_ufrag()?, remote, server, expected };
        tracing::debug!(%remote, %local, "webrtc: dialing");
        let Started { sender, outcome, connection } = self.start(Arc::clone(&socket), local, remote, role)?;
        tokio::spawn(read_dialed(socket, remote, sender));
        established(outcome, connection, self.shared.config.handshake_timeout).await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<WebRtcListener> {
        let (socket, _) = addr::parse(addr)
            .filter(|(_, hashes)| hashes.is_empty())
            .ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let fingerprint = self.fingerprint()?;
        let socket = UdpSocket::bind(socket).await?;
        let bound = socket.local_addr()?;
        let (accepted, incoming) = mpsc::channel(16);
        let demux = Demux {
            transport: self.clone(),
            socket: Arc::new(socket),
            bound,
            connections: HashMap::new(),
            pending: Arc::new(AtomicUsize::new(0)),
            accepted,
        };
        tokio::spawn(demux.run());
        tracing::debug!(%bound, "webrtc: listening");
        Ok(WebRtcListener { bound, fingerprint, incoming })
    }
}

/// Reads a dialer's own socket into its connection, until it ends.
async fn read_dialed(socket: Arc<UdpSocket>, remote: SocketAddr, sender: mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) if from == remote => {
                    let datagram = Datagram { from, data: buf[..len].to_vec() };
                    if let Err(mpsc::error::TrySendError::Closed(_)) = sender.try_send(datagram) {
                        return;
                    }
                }
                Ok(_) => {} // not our server
                Err(error) => tracing::debug!(%error, "webrtc: receive failed"),
            },
            () = sender.closed() => return,
        }
    }
}

/// A listener's socket reader: routes datagrams by source address and
/// starts connections for new sources.
struct Demux {
    transport: WebRtcTransport,
    socket: Arc<UdpSocket>,
    bound: SocketAddr,
    connections: HashMap<SocketAddr, mpsc::Sender<Datagram>>,
    /// Connections still in their handshake.
    pending: Arc<AtomicUsize>,
    accepted: mpsc::Sender<(Multiaddr, Upgrade)>,
}

impl Demux {
    async fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut prune = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => self.route(from, &buf[..len]),
                    Err(error) => tracing::debug!(%error, "webrtc: receive failed"),
                },
                _ = prune.tick() => {
                    self.connections.retain(|_, sender| !sender.is_closed());
                    if self.accepted.is_closed() && self.connections.is_empty() {
                        tracing::debug!(bound = %self.bound, "webrtc: listener closed");
                        return;
                    }
                }
            }
        }
    }

    fn route(&mut self, from: SocketAddr, data: &[u8]) {
        if let Some(sender) = self.connections.get(&from) {
            match sender.try_send(Datagram { from, data: data.to_vec() }) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => return,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.connections.remove(&from); // ended: a new one may start
                }
            }
        }
        if self.accepted.is_closed() {
            return;
        }
        let Some((local_ufrag, remote_ufrag)) = binding_request_ufrags(data) else { return };
        let max = self.transport.shared.config.max_pending;
        if self.pending.load(Ordering::Relaxed) >= max {
            tracing::debug!(%from, max, "webrtc: too many pending handshakes; ignoring a new one");
            return;
        }
        let local = self.local_for(from);
        let role = Role::Server { local_ufrag, remote_ufrag };
        let Started { sender, outcome, connection } =
            match self.transport.start(Arc::clone(&self.socket), local, from, role) {
                Ok(started) => started,
                Err(error) => return tracing::debug!(%error, %from, "webrtc: cannot start a connection"),
            };
        let _ = sender.try_send(Datagram { from, data: data.to_vec() });
        self.connections.insert(from, sender);
        let pending = Pending::new(&self.pending);
        let timeout = self.transport.shared.config.handshake_timeout;
        let upgrade: Upgrade = Box::pin(async move {
            let result = established(outcome, connection, timeout).await;
            drop(pending);
            result
        });
        let remote = Multiaddr::from_ip(from.ip())
            .with(strata_core::multiaddr::Component::Udp(from.port()))
            .with(strata_core::multiaddr::Component::WebrtcDirect);
        if self.accepted.try_send((remote, upgrade)).is_err() {
            tracing::debug!(%from, "webrtc: accept queue full; dropping a new connection");
        }
    }

    /// The address a datagram from `from` was sent to: the bound address,
    /// or for a wildcard bind the interface address the kernel would
    /// answer from.
    fn local_for(&self, from: SocketAddr) -> SocketAddr {
        if !self.bound.ip().is_unspecified() {
            return self.bound;
        }
        let ip = local_ip_for(from).unwrap_or(self.bound.ip());
        SocketAddr::new(ip, self.bound.port())
    }
}

/// One connection counted as pending until its upgrade ends (or is
/// dropped unfinished).
struct Pending(Arc<AtomicUsize>);

impl Pending {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(count))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The ufrags of a STUN binding request (USERNAME `<server>:<client>`),
/// or `None` if `data` is not one.
fn binding_request_ufrags(data: &[u8]) -> Option<(String, String)> {
    let message = str0m::ice::StunMessage::parse(data).ok()?;
    if !message.is_binding_request() {
        return None;
    }
    let (local, remote) = message.split_username()?;
    let valid = |ufrag: &str| (4..=256).contains(&ufrag.len());
    (valid(local) && valid(remote)).then(|| (local.to_owned(), remote.to_owned()))
}

/// A bound WebRTC-direct listener. Dropping it stops accepting; its
/// socket stays open while its connections live.
pub struct WebRtcListener {
    bound: SocketAddr,
    fingerprint: Fingerprint,
    incoming: mpsc::Receiver<(Multiaddr, Upgrade)>,
}

impl std::fmt::Debug for WebRtcListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcListener").field("bound", &self.bound).finish_non_exhaustive()
    }
}

/// The handshake of one accepted connection.
pub type Upgrade = Pin<Box<dyn Future<Output = Result<(PeerId, WebRtcConnection)>> + Send>>;

impl ConnectionListener for WebRtcListener {
    type Connection = WebRtcConnection;
    type Error = Error;
    type Upgrade = Upgrade;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        addr::reachable_addrs(self.bound, self.fingerprint)
    }

    async fn accept(&mut self) -> Result<(Multiaddr, Upgrade)> {
        self.incoming.recv().await.ok_or(Error::Closed)
    }
}
