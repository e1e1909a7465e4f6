//! `TcpTransport` and `TcpListener`: core's [`Transport`] and [`Listener`]
//! over tokio's TCP sockets.
//!
//! A dial resolves the target (a DNS name with tokio's resolver, filtered
//! by the family `/dns4` or `/dns6` asks for), then tries each address in
//! turn; the whole of it is bounded by the connect timeout. Every stream,
//! dialed or accepted, gets `TCP_NODELAY`: the layers above batch their
//! own writes (Noise frames), and Nagle's delay would only add latency to
//! handshakes and small messages.
//!
//! **Port reuse** ([`Config::with_port_reuse`], on by default). Listening
//! sockets get `SO_REUSEADDR` and `SO_REUSEPORT` before they bind, and the
//! transport remembers where they are bound (and `ports` keeps two listeners of
//! this process off one port). A
//! dial then binds its socket to a listener's port (and its IP, or the
//! wildcard) with the same options before connecting, so the remote, and
//! every NAT on the way, sees the node's listen port as the source port:
//!
//! ```text
//! listen 0.0.0.0:4001 (reuse) ─▶ ports: [0.0.0.0:4001]
//! dial 198.51.100.7:4001 ─▶ socket (reuse) bind 0.0.0.0:4001 ─▶ connect ─▶ peer sees us at <our ip>:4001
//! ```
//!
//! This is what identify's observed address and a hole punch
//! (`libp2p-relay-DCUtR.md`, "Simultaneous Connect") build on: two nodes
//! dialing each other's listen ports at once meet in one TCP connection
//! (a simultaneous open) when their SYNs cross. A plain dial whose socket
//! pair is taken falls back to an ephemeral port;
//! [`Transport::dial_from_listen_port`], the hole punch's dial, does not.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
};

use strata_core::{Listener, Multiaddr, Transport, transport::reachable_socket_addrs};
use tokio::net::{TcpSocket, TcpStream};

use crate::{
    Config, Error, Result,
    addr::{self, DialTarget},
    ports::{self, Claim},
};

/// The TCP transport. Cheap to clone; clones share their listeners' ports.
#[derive(Clone, Debug, Default)]
pub struct TcpTransport {
    config: Config,
    /// Where this transport's live listeners are bound: the ports dials
    /// leave from.
    listening: Arc<Mutex<Vec<SocketAddr>>>,
}

/// Which port a dial leaves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortUse {
    /// A listener's if there is one, else (or if that socket pair is
    /// taken) an ephemeral one.
    Prefer,
    /// A listener's, or the dial fails: a hole punch.
    Require,
    /// Never a listener's: the retry after a simultaneous open collision.
    Avoid,
}

impl TcpTransport {
    /// A transport with the given configuration.
    pub fn new(config: Config) -> Self {
        Self { config, listening: Arc::default() }
    }

    /// The local address a dial to `remote` binds before connecting: a
    /// listener's of the same family, or `None` for an ephemeral port. A
    /// wildcard listener serves every remote (the kernel picks the source
    /// IP by its routes); one on a specific IP only the remotes the kernel
    /// routes from that IP (a `127.0.0.2` listener does not serve a dial to
    /// `127.0.0.1`, whose source the kernel makes `127.0.0.1`), as
    /// go-libp2p's reuseport dialer does. A dial to the listen address
    /// itself is left alone: from its own port it would connect to itself.
    fn local_for(&self, remote: SocketAddr) -> Option<SocketAddr> {
        if !self.config.port_reuse || !cfg!(unix) {
            return None;
        }
        let candidates: Vec<SocketAddr> = {
            let listening = self.listening.lock().unwrap_or_else(PoisonError::into_inner);
            let usable = |listen: &&SocketAddr| {
                listen.is_ipv4() == remote.is_ipv4()
                    && !(listen.port() == remote.port() && reachable_socket_addrs(**listen).contains(&remote))
            };
            listening.iter().filter(usable).copied().collect()
        };
        if let Some(wildcard) = candidates.iter().find(|listen| listen.ip().is_unspecified()) {
            return Some(*wildcard);
        }
        if candidates.is_empty() {
            return None;
        }
        let source = route_source(remote)?;
        candidates.into_iter().find(|listen| listen.ip() == source)
    }

    async fn connect(&self, addr: &Multiaddr, target: DialTarget<'_>, port_use: PortUse) -> Result<TcpStream> {
        let candidates: Vec<SocketAddr> = match target {
            DialTarget::Socket(socket) => vec![socket],
            DialTarget::Dns { name, port, family } => {
                let resolved = tokio::net::lookup_host((name.as_ref(), port))
                    .await
                    .map_err(|source| Error::Resolve { name: name.to_string(), source })?;
                let candidates: Vec<SocketAddr> = resolved.filter(|socket| family.admits(socket.ip())).collect();
                if candidates.is_empty() {
                    return Err(Error::NoAddress { name: name.to_string() });
                }
                candidates
            }
        };
        let mut last_error = None;
        for socket in candidates {
            match self.connect_one(socket, port_use).await {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(|source| Error::Connect { addr: addr.clone(), source })?;
                    tracing::debug!(%addr, %socket, local = ?stream.local_addr().ok(), "tcp: connected");
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

    /// Connects to one socket address, from a listener's port if there is
    /// one.
    async fn connect_one(&self, remote: SocketAddr, port_use: PortUse) -> io::Result<TcpStream> {
        let local = if port_use == PortUse::Avoid { None } else { self.local_for(remote) };
        let Some(local) = local else {
            if port_use == PortUse::Require {
                return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "no listen port to dial from"));
            }
            return TcpStream::connect(remote).await;
        };
        match connect_from(local, remote).await {
            // The socket pair exists already (a connection between the
            // same two ports, maybe one the remote dialed, or one in
            // TIME_WAIT): a plain dial takes another port.
            Err(error)
                if port_use == PortUse::Prefer
                    && matches!(error.kind(), io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable) =>
            {
                tracing::debug!(%local, %remote, %error, "tcp: listen port taken for this peer; dialing from an ephemeral port");
                TcpStream::connect(remote).await
            }
            outcome => outcome,
        }
    }

    async fn dial_with(&self, addr: &Multiaddr, port_use: PortUse) -> Result<TcpStream> {
        let target = addr::dial_target(addr).ok_or_else(|| Error::UnsupportedAddress(addr.clone()))?;
        let timeout = self.config.connect_timeout;
        tokio::time::timeout(timeout, self.connect(addr, target, port_use))
            .await
            .map_err(|source| Error::ConnectTimeout { addr: addr.clone(), timeout, source })?
    }
}

/// The source IP the kernel picks for a connection to `remote`: a UDP
/// socket "connected" there (no packet leaves) says. `None` when there is
/// no route.
fn route_source(remote: SocketAddr) -> Option<IpAddr> {
    let unspecified: IpAddr =
        if remote.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let probe = std::net::UdpSocket::bind(SocketAddr::new(unspecified, 0)).ok()?;
    probe.connect(remote).ok()?;
    Some(probe.local_addr().ok()?.ip())
}

/// A socket of `addr`'s family, with the port-sharing options when `reuse`.
fn socket_for(addr: SocketAddr, reuse: bool) -> io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))))]
    if reuse {
        socket.set_reuseport(true)?;
    }
    #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin")))))]
    let _ = reuse;
    Ok(socket)
}

/// Connects to `remote` from `local` (a listener's address, shared).
async fn connect_from(local: SocketAddr, remote: SocketAddr) -> io::Result<TcpStream> {
    let socket = socket_for(remote, true)?;
    socket.bind(local)?;
    socket.connect(remote).await
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
        self.dial_with(addr, PortUse::Prefer).await
    }

    /// From a listener's port, or not at all: fails with
    /// [`Error::Connect`] (`AddrNotAvailable`) when port reuse is off, no
    /// listener of the address's family exists, or a connection between
    /// the two ports exists already.
    async fn dial_from_listen_port(&self, addr: &Multiaddr) -> Result<TcpStream> {
        self.dial_with(addr, PortUse::Require).await
    }

    /// From an ephemeral port, whatever [`Config::with_port_reuse`] says.
    async fn dial_from_new_port(&self, addr: &Multiaddr) -> Result<TcpStream> {
        self.dial_with(addr, PortUse::Avoid).await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<TcpListener> {
        let socket_addr = addr::listen_target(addr).ok_or_else(|| Error::UnsupportedAddress(addr.clone()))?;
        let reuse = self.config.port_reuse;
        let bind = || -> std::io::Result<(tokio::net::TcpListener, Claim)> {
            // `SO_REUSEPORT` would let a second listener share a port this
            // process holds already; the claim refuses that, as the kernel
            // does without the option. A port 0 the kernel handed out
            // again (it may, to a socket that shares) is asked for anew.
            for _ in 0..ports::MAX_BIND_ATTEMPTS {
                let socket = socket_for(socket_addr, reuse)?;
                socket.bind(socket_addr)?;
                let bound = socket.local_addr()?;
                match ports::claim(bound) {
                    Some(claim) => return Ok((socket.listen(self.config.listen_backlog)?, claim)),
                    None if socket_addr.port() == 0 => {}
                    None => return Err(io::Error::new(io::ErrorKind::AddrInUse, "port in use by this process")),
                }
            }
            Err(io::Error::new(io::ErrorKind::AddrInUse, "no free port"))
        };
        let (inner, claim) = bind().map_err(|source| Error::Bind { addr: addr.clone(), source })?;
        let bound = claim.addr();
        tracing::debug!(%addr, %bound, reuse, "tcp: listening");
        self.listening.lock().unwrap_or_else(PoisonError::into_inner).push(bound);
        Ok(TcpListener { inner, bound, _claim: claim, listening: Arc::clone(&self.listening) })
    }
}

/// A bound TCP listener. Dropping it closes it, and dials stop leaving
/// from its port.
#[derive(Debug)]
pub struct TcpListener {
    inner: tokio::net::TcpListener,
    bound: SocketAddr,
    _claim: Claim,
    listening: Arc<Mutex<Vec<SocketAddr>>>,
}

impl TcpListener {
    /// The socket address actually bound (the real port of a `/tcp/0`).
    pub fn bound_addr(&self) -> SocketAddr {
        self.bound
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let mut listening = self.listening.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = listening.iter().position(|addr| *addr == self.bound) {
            listening.swap_remove(index);
        }
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
