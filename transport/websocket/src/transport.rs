//! `WsTransport`: WebSocket over an inner transport (TCP), dial and
//! listen.
//!
//! Spec: `libp2p-websockets.md`. A dial of `…/tcp/<p>/ws` dials
//! `…/tcp/<p>` with the inner transport, runs TLS over it for `/tls/ws`
//! (`/wss`), then the HTTP upgrade (`GET /`, `Upgrade: websocket`), and
//! hands the [`WsStream`] to the upgrader, which negotiates Noise and
//! yamux over it exactly as over TCP:
//!
//! ```text
//! dial /ip4/1.2.3.4/tcp/443/tls/ws
//!   └─ inner.dial(/ip4/1.2.3.4/tcp/443)            TCP (port reuse is the inner transport's)
//!       └─ TLS (server name: /sni, the DNS name, or the IP; roots from Config)
//!           └─ GET / HTTP/1.1, Upgrade: websocket ─▶ 101 Switching Protocols
//!               └─ WsStream ─▶ upgrader: multistream "/noise" … "/yamux/1.0.0"
//!
//! listen /ip4/0.0.0.0/tcp/0/ws
//!   └─ inner.listen(/ip4/0.0.0.0/tcp/0) ─▶ local_addrs(): /ip4/<each interface>/tcp/<real port>/ws
//!   └─ accept(): (WsStream still in its handshake, /ip4/<remote>/tcp/<port>/ws)
//! ```
//!
//! The transport depends on `strata-core` only: the inner transport is
//! any [`Transport`] serving `/ip4|ip6|dns*/…/tcp/<port>` (the facade
//! gives it a clone of the host's TCP transport, so WebSocket dials leave
//! from the TCP listen port too, and a WebSocket listener on port 0 gets
//! its real port and interface addresses from TCP).

use std::sync::Arc;

use futures::FutureExt as _;
use rustls::pki_types::ServerName;
use strata_core::{Listener, Multiaddr, Transport};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::{
    Config, Error, Result,
    addr::{self, Ws},
    stream::{MaybeTls, WsStream, io_error},
};

/// The WebSocket transport over the inner transport `T` (TCP). Cheap to
/// clone when `T` is.
#[derive(Clone, Debug)]
pub struct WsTransport<T> {
    inner: T,
    config: Arc<Config>,
}

/// Which of the inner transport's dials to use.
#[derive(Clone, Copy, Debug)]
enum Dial {
    Plain,
    FromListenPort,
    FromNewPort,
}

impl<T: Transport> WsTransport<T> {
    /// WebSocket over `inner`, with `config`.
    pub fn new(inner: T, config: Config) -> Self {
        Self { inner, config: Arc::new(config) }
    }

    async fn dial_with(&self, addr: &Multiaddr, how: Dial) -> Result<WsStream<T::Stream>> {
        let (tcp, ws) = addr::split(addr).ok_or_else(|| Error::UnsupportedAddress(addr.clone()))?;
        let raw = match how {
            Dial::Plain => self.inner.dial(&tcp).await,
            Dial::FromListenPort => self.inner.dial_from_listen_port(&tcp).await,
            Dial::FromNewPort => self.inner.dial_from_new_port(&tcp).await,
        }
        .map_err(|source| Error::Inner { addr: addr.clone(), source: Box::new(source) })?;
        let timeout = self.config.handshake_timeout;
        let socket = tokio::time::timeout(timeout, self.client_handshake(addr, raw, &ws))
            .await
            .map_err(|source| Error::HandshakeTimeout { addr: addr.clone(), timeout, source })??;
        tracing::debug!(%addr, "websocket: connected");
        Ok(WsStream::open(socket, self.config.write_frame_size()))
    }

    /// TLS if the address asks for it, then the HTTP upgrade.
    async fn client_handshake(
        &self,
        addr: &Multiaddr,
        raw: T::Stream,
        ws: &Ws,
    ) -> Result<tokio_tungstenite::WebSocketStream<MaybeTls<T::Stream>>> {
        let stream = if ws.tls {
            let config = self.config.client_tls.clone().map_err(Error::Certificate)?;
            let name = ServerName::try_from(ws.server_name.clone())
                .map_err(|_| Error::ServerName { name: ws.server_name.clone() })?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, raw)
                .await
                .map_err(|source| Error::Tls { addr: addr.clone(), source })?;
            MaybeTls::Tls(Box::new(tls.into()))
        } else {
            MaybeTls::Plain(raw)
        };
        let scheme = if ws.tls { "wss" } else { "ws" };
        let request = format!("{scheme}://{}/", ws.host)
            .into_client_request()
            .map_err(|source| Error::Upgrade { addr: addr.clone(), source: Box::new(source) })?;
        let (socket, _response) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(self.config.websocket()))
                .await
                .map_err(|source| Error::Upgrade { addr: addr.clone(), source: Box::new(source) })?;
        Ok(socket)
    }
}

impl<T: Transport> Transport for WsTransport<T> {
    type Stream = WsStream<T::Stream>;
    type Listener = WsListener<T::Listener>;
    type Error = Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        addr::split(addr).is_some_and(|(tcp, _)| self.inner.can_dial(&tcp))
    }

    /// Whether the inner transport can bind the TCP part: a `/tls/ws`
    /// without a certificate is accepted here and refused by
    /// [`listen`](Self::listen) with [`Error::NoCertificate`], which says
    /// what is missing.
    fn can_listen(&self, addr: &Multiaddr) -> bool {
        addr::split(addr).is_some_and(|(tcp, _)| self.inner.can_listen(&tcp))
    }

    async fn dial(&self, addr: &Multiaddr) -> Result<Self::Stream> {
        self.dial_with(addr, Dial::Plain).await
    }

    async fn dial_from_listen_port(&self, addr: &Multiaddr) -> Result<Self::Stream> {
        self.dial_with(addr, Dial::FromListenPort).await
    }

    async fn dial_from_new_port(&self, addr: &Multiaddr) -> Result<Self::Stream> {
        self.dial_with(addr, Dial::FromNewPort).await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<Self::Listener> {
        let (tcp, ws) = addr::split(addr).ok_or_else(|| Error::UnsupportedAddress(addr.clone()))?;
        let tls = match (&self.config.server_tls, ws.tls) {
            (_, false) => None,
            (Some(server), true) => Some(tokio_rustls::TlsAcceptor::from(Arc::clone(server))),
            (None, true) => return Err(Error::NoCertificate(addr.clone())),
        };
        let inner = self
            .inner
            .listen(&tcp)
            .await
            .map_err(|source| Error::Inner { addr: addr.clone(), source: Box::new(source) })?;
        tracing::debug!(%addr, tls = ws.tls, "websocket: listening");
        Ok(WsListener { inner, tls, config: Arc::clone(&self.config) })
    }
}

/// A bound WebSocket listener.
pub struct WsListener<L> {
    inner: L,
    /// For `/tls/ws`: the server's TLS configuration.
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: Arc<Config>,
}

impl<L> std::fmt::Debug for WsListener<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsListener").field("tls", &self.tls.is_some()).finish_non_exhaustive()
    }
}

impl<L: Listener> Listener for WsListener<L> {
    type Stream = WsStream<L::Stream>;
    type Error = Error;

    /// The inner listener's addresses (real port, one per interface for a
    /// wildcard) with `/ws` or `/tls/ws` appended.
    fn local_addrs(&self) -> Vec<Multiaddr> {
        let tls = self.tls.is_some();
        self.inner.local_addrs().into_iter().map(|tcp| addr::with_suffix(tcp, tls)).collect()
    }

    /// The next inbound connection, its handshake still to run: the
    /// stream's first read or write drives it (under the handshake
    /// timeout), so this never waits on a peer's handshake. Cancel-safe
    /// when the inner listener's `accept` is.
    async fn accept(&mut self) -> Result<(Self::Stream, Multiaddr)> {
        let (raw, remote) = self.inner.accept().await.map_err(|error| Error::Accept(Box::new(error)))?;
        let tls = self.tls.clone();
        let remote = addr::with_suffix(remote, tls.is_some());
        let websocket = self.config.websocket();
        let timeout = self.config.handshake_timeout;
        let peer = remote.clone();
        let handshake = async move {
            let stream = match tls {
                Some(acceptor) => MaybeTls::Tls(Box::new(acceptor.accept(raw).await?.into())),
                None => MaybeTls::Plain(raw),
            };
            tokio_tungstenite::accept_async_with_config(stream, Some(websocket)).await.map_err(io_error)
        };
        let bounded = async move {
            let outcome = tokio::time::timeout(timeout, handshake).await.unwrap_or_else(|_| {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "WebSocket handshake timed out"))
            });
            if let Err(error) = &outcome {
                tracing::debug!(%peer, %error, "websocket: inbound handshake failed; dropping the socket");
            }
            outcome
        };
        tracing::trace!(%remote, "websocket: accepted; handshake pending");
        Ok((WsStream::handshaking(bounded.boxed(), self.config.write_frame_size()), remote))
    }
}
