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

use std::{
    future::Future,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket},
    pin::Pin,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use strata_core::{ConnectionListener, ConnectionSource, Keypair, Multiaddr, PeerId};

use crate::{
    Config, Error, QuicConnection,
    addr::{self, socket_of},
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
    tls: OnceLock<Result<Tls, String>>,
    /// Endpoints we can dial from: listeners', and one per family made for
    /// dialing alone.
    endpoints: Mutex<Vec<quinn::Endpoint>>,
}

impl std::fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicTransport").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl QuicTransport {
    /// The transport of a node with this identity.
    pub fn new(identity: &Keypair, config: Config) -> Self {
        let shared =
            Shared { identity: identity.clone(), config, tls: OnceLock::new(), endpoints: Mutex::new(Vec::new()) };
        Self { shared: Arc::new(shared) }
    }

    fn tls(&self) -> Result<&Tls, Error> {
        let tls = self.shared.tls.get_or_init(|| Tls::new(&self.shared.identity).map_err(|error| error.to_string()));
        tls.as_ref().map_err(|error| Error::Tls(error.clone()))
    }

    fn server_config(&self) -> Result<quinn::ServerConfig, Error> {
        let tls = self.tls()?.server().map_err(|error| Error::Tls(error.to_string()))?;
        let crypto =
            quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|error| Error::Tls(error.to_string()))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(self.shared.config.transport()));
        Ok(config)
    }

    fn client_config(&self, expected: Option<PeerId>) -> Result<quinn::ClientConfig, Error> {
        let tls = self.tls()?.client(expected).map_err(|error| Error::Tls(error.to_string()))?;
        let crypto =
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|error| Error::Tls(error.to_string()))?;
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
        let endpoint = bind(wildcard, None)?;
        endpoints.push(endpoint.clone());
        Ok(endpoint)
    }
}

/// A quinn endpoint on a new UDP socket.
fn bind(socket: SocketAddr, server: Option<quinn::ServerConfig>) -> Result<quinn::Endpoint, Error> {
    let addr = addr::socket_addr_to_multiaddr(socket);
    let udp = UdpSocket::bind(socket).map_err(|source| Error::Bind { addr: addr.clone(), source })?;
    let runtime = quinn::default_runtime().ok_or_else(|| Error::Tls("no async runtime".to_owned()))?;
    quinn::Endpoint::new(quinn::EndpointConfig::default(), server, udp, runtime)
        .map_err(|source| Error::Bind { addr, source })
}

/// Waits for a handshake, at most `config.handshake_timeout`, and checks
/// who answered.
async fn established(
    connecting: quinn::Connecting,
    config: &Config,
    expected: Option<PeerId>,
) -> Result<(PeerId, QuicConnection), Error> {
    let connection = tokio::time::timeout(config.handshake_timeout, connecting)
        .await
        .map_err(|_| Error::Timeout(config.handshake_timeout))??;
    let peer = tls::peer_of(connection.peer_identity())?;
    if let Some(expected) = expected.filter(|expected| *expected != peer) {
        connection.close(0u32.into(), b"unexpected peer");
        return Err(Error::PeerIdMismatch { expected, actual: peer });
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
        let connecting = endpoint.connect_with(self.client_config(expected)?, remote, "l")?;
        established(connecting, &self.shared.config, expected).await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<QuicListener, Error> {
        let socket = socket_of(addr).ok_or_else(|| Error::Unsupported(addr.clone()))?;
        let endpoint = bind(socket, Some(self.server_config()?))?;
        let bound = endpoint.local_addr().map_err(|source| Error::Bind { addr: addr.clone(), source })?;
        tracing::debug!(%bound, "quic: listening");
        self.shared.endpoints.lock().unwrap_or_else(PoisonError::into_inner).push(endpoint.clone());
        Ok(QuicListener { endpoint, bound, config: self.shared.config.clone() })
    }
}

/// A bound QUIC listener. Dropping it stops accepting connections (its
/// socket stays open while connections or dials use it).
#[derive(Debug)]
pub struct QuicListener {
    endpoint: quinn::Endpoint,
    bound: SocketAddr,
    config: Config,
}

impl Drop for QuicListener {
    fn drop(&mut self) {
        self.endpoint.set_server_config(None);
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
        let remote = addr::socket_addr_to_multiaddr(incoming.remote_address());
        let config = self.config.clone();
        let upgrade = Box::pin(async move {
            let connecting = incoming.accept()?;
            established(connecting, &config, None).await
        });
        Ok((remote, upgrade))
    }
}
