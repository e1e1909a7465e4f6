//! `QuicTransport`: dialing and listening on QUIC, as core's
//! `ConnectionSource`.
//!
//! ```text
//! listen /ip4/a/udp/p/quic-v1 ─▶ UDP socket ─▶ quinn Endpoint (server: our certificate, client certs required)
//! accept ─▶ Incoming ─▶ (remote address, upgrade: QUIC + TLS handshake ─▶ PeerId from the certificate)
//! dial   ─▶ an endpoint of the same IP family (a listener's, so the peer sees our listening port;
//!           else one bound to the wildcard) ─▶ connect with a client config expecting the peer
//! ```
//!
//! A connection arrives already secure and multiplexed: there is no
//! multistream-select for security or muxer on QUIC. Every handshake is
//! bounded by the configured timeout.
//!
//! Dials leave from a listener's endpoint, so a peer (and a NAT) sees our
//! listen port; the listener's side of a hole punch sends its packets from
//! that same socket (`hole_punch.rs`, `ConnectionSource::hole_punch`).

use std::{
    future::Future,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket},
    pin::Pin,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use strata_core::{ConnectionListener, ConnectionSource, Keypair, Multiaddr, PeerId, PeerIdMismatch};

use crate::{
    Config, Error, QuicConnection,
    addr::{self, socket_of},
    hole_punch::{self, Punchers},
    tls::{self, Tls},
};

/// The QUIC transport of one node. Cheap to clone.
#[derive(Clone)]
pub struct QuicTransport {
    shared: Arc<Shared>,
}

struct Shared {
    identity: Keypair,
    config: Config,
    /// Made on first use (a certificate costs a key generation).
    tls: OnceLock<Tls>,
    /// Endpoints we can dial from: listeners', and one per family made for
    /// dialing alone.
    endpoints: Mutex<Vec<quinn::Endpoint>>,
    /// The listening sockets, to punch holes from.
    punchers: Punchers,
}

impl std::fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicTransport").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl QuicTransport {
    /// The transport of a node with this identity.
    pub fn new(identity: &Keypair, config: Config) -> Self {
        let shared = Shared {
            identity: identity.clone(),
            config,
            tls: OnceLock::new(),
            endpoints: Mutex::new(Vec::new()),
            punchers: Punchers::default(),
        };
        Self { shared: Arc::new(shared) }
    }

    fn tls(&self) -> Result<&Tls, Error> {
        if let Some(tls) = self.shared.tls.get() {
            return Ok(tls);
        }
        // Two first uses at once may both make one; one is kept.
        let made = Tls::new(&self.shared.identity)?;
        Ok(self.shared.tls.get_or_init(|| made))
    }

    fn server_config(&self) -> Result<quinn::ServerConfig, Error> {
        let tls = self.tls()?.server().map_err(Error::tls)?;
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(Error::tls)?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(self.shared.config.transport()));
        Ok(config)
    }

    fn client_config(&self, expected: Option<PeerId>, mismatch: Mismatch) -> Result<quinn::ClientConfig, Error> {
        let tls = self.tls()?.client(expected, mismatch).map_err(Error::tls)?;
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(Error::tls)?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(Arc::new(self.shared.config.transport()));
        Ok(config)
    }

    /// An endpoint to dial `remote` from: a live one of its family, else a
    /// new one on the wildcard address.
    fn dialing_endpoint(&self, remote: SocketAddr) -> Result<quinn::Endpoint, Error> {
        let mut endpoints = self.shared.endpoints.lock().unwrap_or_else(PoisonError::into_inner);
        endpoints.retain(|endpoint| endpoint.local_addr().is_ok());
        let family =
            |endpoint: &&quinn::Endpoint| endpoint.local_addr().is_ok_and(|local| local.is_ipv4() == remote.is_ipv4());
        if let Some(endpoint) = endpoints.iter().find(family) {
            return Ok(endpoint.clone());
        }
        let wildcard = if remote.is_ipv4() {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
        };
        let (endpoint, _) = bind(wildcard, None)?;
        endpoints.push(endpoint.clone());
        Ok(endpoint)
    }
}

/// A quinn endpoint on a new UDP socket, and a second handle on that
/// socket (to send hole punch packets from).
fn bind(socket: SocketAddr, server: Option<quinn::ServerConfig>) -> Result<(quinn::Endpoint, UdpSocket), Error> {
    let addr = addr::socket_addr_to_multiaddr(socket);
    let bind_error = |source| Error::Bind { addr: addr.clone(), source };
    let udp = UdpSocket::bind(socket).map_err(bind_error)?;
    let handle = udp.try_clone().map_err(bind_error)?;
    let runtime = quinn::default_runtime().ok_or(Error::NoRuntime)?;
    let endpoint = quinn::Endpoint::new(quinn::EndpointConfig::default(), server, udp, runtime).map_err(bind_error)?;
    Ok((endpoint, handle))
}

/// Where a dial's certificate check leaves the peer it refused.
type Mismatch = Arc<Mutex<Option<PeerIdMismatch>>>;

/// Waits for a handshake, at most `config.handshake_timeout`, and checks
/// who answered. A dial's verifier refuses a wrong peer inside the
/// handshake (before our certificate goes out) and leaves it in
/// `mismatch`, so the failure says who answered.
async fn established(
    connecting: quinn::Connecting,
    config: &Config,
    expected: Option<PeerId>,
    mismatch: &Mismatch,
) -> Result<(PeerId, QuicConnection), Error> {
    let after = config.handshake_timeout;
    let outcome = tokio::time::timeout(after, connecting).await.map_err(|source| Error::Timeout { after, source })?;
    let refused = *mismatch.lock().unwrap_or_else(PoisonError::into_inner);
    let connection = match (outcome, refused) {
        (Ok(connection), _) => connection,
        (Err(_), Some(refused)) => return Err(Error::PeerIdMismatch(refused)),
        (Err(error), None) => return Err(error.into()),
    };
    let peer = tls::peer_of(connection.peer_identity())?;
    if let Some(expected) = expected.filter(|expected| *expected != peer) {
        connection.close(0u32.into(), b"unexpected peer");
        return Err(Error::PeerIdMismatch(PeerIdMismatch { expected, actual: peer }));
    }
    tracing::debug!(%peer, remote = %connection.remote_address(), "quic: connection established");
    Ok((peer, QuicConnection::new(connection)))
}

impl ConnectionSource for QuicTransport {
    type Connection = QuicConnection;
    type Listener = QuicListener;
    type Error = Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        socket_of(addr).is_some()
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        socket_of(addr).is_some()
    }

    async fn dial(&self, addr: &Multiaddr, expected: Option<PeerId>) -> Result<(PeerId, QuicConnection), Error> {
        let remote = socket_of(addr).ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let endpoint = self.dialing_endpoint(remote)?;
        // libp2p sends no server name; quinn wants one for its API.
        let mismatch = Mismatch::default();
        let connecting = endpoint.connect_with(self.client_config(expected, Arc::clone(&mismatch))?, remote, "l")?;
        established(connecting, &self.shared.config, expected, &mismatch).await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<QuicListener, Error> {
        let socket = socket_of(addr).ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let (endpoint, handle) = bind(socket, Some(self.server_config()?))?;
        let bound = endpoint.local_addr().map_err(|source| Error::Bind { addr: addr.clone(), source })?;
        tracing::debug!(%bound, "quic: listening");
        self.shared.endpoints.lock().unwrap_or_else(PoisonError::into_inner).push(endpoint.clone());
        self.shared.punchers.add(bound, handle);
        Ok(QuicListener { endpoint, bound, shared: Arc::clone(&self.shared) })
    }

    /// Sends UDP packets of 64 to 200 random bytes to `addr`, every 10 to
    /// 200 ms, from the socket of a listener of its family, until a
    /// connection from `addr` arrives at a listener or the hole punch
    /// duration passes ([`Config::with_hole_punch_duration`]); `Ok` either
    /// way. Fails with [`Error::NotListening`] when no listener of `addr`'s
    /// family is there to punch from.
    async fn hole_punch(&self, addr: &Multiaddr) -> Result<(), Error> {
        let remote = socket_of(addr).ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let punchers = &self.shared.punchers;
        let socket = punchers.socket_for(remote).ok_or_else(|| Error::NotListening(addr.clone()))?;
        let waiting = punchers.wait_for(remote);
        let duration = self.shared.config.hole_punch_duration;
        tracing::debug!(%remote, from = ?socket.local_addr().ok(), ?duration, "quic: hole punching");
        let arrived = hole_punch::punch(&socket, remote, &waiting, duration).await;
        tracing::debug!(%remote, arrived, "quic: hole punch done");
        Ok(())
    }
}

/// A bound QUIC listener. Dropping it stops accepting connections (its
/// socket stays open while connections or dials use it).
pub struct QuicListener {
    endpoint: quinn::Endpoint,
    bound: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for QuicListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicListener").field("bound", &self.bound).finish_non_exhaustive()
    }
}

impl Drop for QuicListener {
    fn drop(&mut self) {
        self.endpoint.set_server_config(None);
        self.shared.punchers.remove(self.bound);
    }
}

/// The handshake of one accepted connection.
pub type Upgrade = Pin<Box<dyn Future<Output = Result<(PeerId, QuicConnection), Error>> + Send>>;

impl ConnectionListener for QuicListener {
    type Connection = QuicConnection;
    type Error = Error;
    type Upgrade = Upgrade;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        addr::reachable_addrs(self.bound)
    }

    async fn accept(&mut self) -> Result<(Multiaddr, Upgrade), Error> {
        let incoming = self.endpoint.accept().await.ok_or(Error::Closed)?;
        self.shared.punchers.arrived(incoming.remote_address());
        let remote = addr::socket_addr_to_multiaddr(incoming.remote_address());
        let config = self.shared.config.clone();
        let upgrade = Box::pin(async move {
            let connecting = incoming.accept()?;
            established(connecting, &config, None, &Mismatch::default()).await
        });
        Ok((remote, upgrade))
    }
}
