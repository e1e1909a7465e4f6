//! `TcpTransport` and `TcpListener`: core's [`Transport`] and [`Listener`]
//! over tokio's TCP sockets.
//!
//! A dial resolves the target (a DNS name with tokio's resolver, filtered
//! by the family `/dns4` or `/dns6` asks for), then tries each address in
//! turn; the whole of it is bounded by the connect timeout. Every stream,
//! dialed or accepted, gets `TCP_NODELAY`: the layers above batch their
//! own writes (Noise frames), and Nagle's delay would only add latency to
//! handshakes and small messages.

use std::net::SocketAddr;

use strata_core::{Listener, Multiaddr, Transport};
use tokio::net::{TcpSocket, TcpStream};

use crate::{
    Config, Error, Result,
    addr::{self, DialTarget},
};

/// The TCP transport. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TcpTransport {
    config: Config,
}

impl TcpTransport {
    /// A transport with the given configuration.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    async fn connect(addr: &Multiaddr, target: DialTarget<'_>) -> Result<TcpStream> {
        let candidates: Vec<SocketAddr> = match target {
            DialTarget::Socket(socket) => vec![socket],
            DialTarget::Dns { name, port, family } => {
                let resolved = tokio::net::lookup_host((name.as_ref(), port))
                    .await
                    .map_err(|e| Error::Resolve { name: name.to_string(), reason: e.to_string() })?;
                let candidates: Vec<SocketAddr> = resolved.filter(|socket| family.admits(socket.ip())).collect();
                if candidates.is_empty() {
                    let reason = format!("no address of the family {family:?}");
                    return Err(Error::Resolve { name: name.to_string(), reason });
                }
                candidates
            }
        };
        let mut last_error = None;
        for socket in candidates {
            match TcpStream::connect(socket).await {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(|source| Error::Connect { addr: addr.clone(), source })?;
                    tracing::debug!(%addr, %socket, "tcp: connected");
                    return Ok(stream);
                }
                Err(source) => {
                    tracing::debug!(%addr, %socket, error = %source, "tcp: connect failed");
                    last_error = Some(source);
                }
            }
        }
        let source = last_error.unwrap_or_else(|| std::io::Error::other("no address to connect to"));
        Err(Error::Connect { addr: addr.clone(), source })
    }
}

impl Transport for TcpTransport {
    type Stream = TcpStream;
    type Listener = TcpListener;
    type Error = Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        addr::dial_target(addr).is_some()
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        addr::listen_target(addr).is_some()
    }

    async fn dial(&self, addr: &Multiaddr) -> Result<TcpStream> {
        let target = addr::dial_target(addr).ok_or_else(|| Error::UnsupportedAddress(addr.clone()))?;
        let timeout = self.config.connect_timeout;
        tokio::time::timeout(timeout, Self::connect(addr, target))
            .await
            .map_err(|_| Error::ConnectTimeout { addr: addr.clone(), timeout })?
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<TcpListener> {
        let socket_addr = addr::listen_target(addr).ok_or_else(|| Error::UnsupportedAddress(addr.clone()))?;
        let bind = || -> std::io::Result<tokio::net::TcpListener> {
            let socket = if socket_addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            socket.bind(socket_addr)?;
            socket.listen(self.config.listen_backlog)
        };
        let inner = bind().map_err(|source| Error::Bind { addr: addr.clone(), source })?;
        let bound = inner.local_addr().map_err(|source| Error::Bind { addr: addr.clone(), source })?;
        tracing::debug!(%addr, %bound, "tcp: listening");
        Ok(TcpListener { inner, bound })
    }
}

/// A bound TCP listener.
#[derive(Debug)]
pub struct TcpListener {
    inner: tokio::net::TcpListener,
    bound: SocketAddr,
}

impl TcpListener {
    /// The socket address actually bound (the real port of a `/tcp/0`).
    pub fn bound_addr(&self) -> SocketAddr {
        self.bound
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    type Error = Error;

    /// The bound address; for a wildcard bind, one address per interface of
    /// the same family, read afresh on each call.
    fn local_addrs(&self) -> Vec<Multiaddr> {
        addr::reachable_addrs(self.bound)
    }

    async fn accept(&mut self) -> Result<(TcpStream, Multiaddr)> {
        let (stream, remote) = self.inner.accept().await.map_err(Error::Accept)?;
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%remote, %error, "tcp: cannot set TCP_NODELAY");
        }
        tracing::debug!(%remote, "tcp: accepted");
        Ok((stream, addr::socket_addr_to_multiaddr(remote)))
    }
}
