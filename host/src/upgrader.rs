//! The upgrader: a transport plus security upgrades and muxers, as one
//! [`ConnectionSource`].
//!
//! Spec: `libp2p-connections.md`, "Upgrading connections". Each step is
//! negotiated with multistream-select, from an ordered list: the dialer
//! proposes its choices in order of preference until the listener accepts
//! one; the listener accepts the first proposal it supports.
//!
//! ```text
//! raw stream ── multistream [/noise, …] ──▶ security handshake ──▶ (PeerId, encrypted stream)
//!   encrypted ── multistream [/yamux/1.0.0, /mplex/6.7.0, …] ──▶ muxer ──▶ BoxConnection
//! ```
//!
//! The whole upgrade is bounded by one timeout, and an inbound one's first
//! step (agreeing on security) by a shorter one. Security outputs and muxer
//! connections of different types are boxed, so one upgrader offers any
//! mix of them.

use std::{future::Future, sync::Arc, time::Duration};

use futures::future::BoxFuture;
use strata_core::{
    ConnectionListener, ConnectionSource, Endpoint, Listener, Multiaddr, PeerId, SecurityUpgrade, StreamMuxer,
    Transport, multistream,
};

use crate::{
    Error, Result,
    source::{BoxConnection, BoxStream, Muxed},
};

/// A security upgrade, type-erased.
trait Security: Send + Sync {
    fn name(&self) -> &'static str;
    fn outbound(&self, raw: BoxStream, expected: Option<PeerId>) -> BoxFuture<'static, Result<(PeerId, BoxStream)>>;
    fn inbound(&self, raw: BoxStream) -> BoxFuture<'static, Result<(PeerId, BoxStream)>>;
}

impl<S: SecurityUpgrade> Security for S {
    fn name(&self) -> &'static str {
        S::PROTOCOL_NAME
    }

    fn outbound(&self, raw: BoxStream, expected: Option<PeerId>) -> BoxFuture<'static, Result<(PeerId, BoxStream)>> {
        let security = self.clone();
        Box::pin(async move {
            let (peer, secure) = security.secure_outbound(raw, expected).await.map_err(Error::security)?;
            Ok((peer, Box::new(secure) as BoxStream))
        })
    }

    fn inbound(&self, raw: BoxStream) -> BoxFuture<'static, Result<(PeerId, BoxStream)>> {
        let security = self.clone();
        Box::pin(async move {
            let (peer, secure) = security.secure_inbound(raw).await.map_err(Error::security)?;
            Ok((peer, Box::new(secure) as BoxStream))
        })
    }
}

/// A muxer, type-erased.
trait Muxer: Send + Sync {
    fn name(&self) -> &'static str;
    fn upgrade(&self, secure: BoxStream, endpoint: Endpoint) -> BoxFuture<'static, Result<Box<dyn Muxed>>>;
}

impl<M: StreamMuxer> Muxer for M {
    fn name(&self) -> &'static str {
        M::PROTOCOL_NAME
    }

    fn upgrade(&self, secure: BoxStream, endpoint: Endpoint) -> BoxFuture<'static, Result<Box<dyn Muxed>>> {
        let muxer = self.clone();
        Box::pin(async move {
            let connection = muxer.upgrade(secure, endpoint).await.map_err(Error::muxer)?;
            Ok(Box::new(connection) as Box<dyn Muxed>)
        })
    }
}

/// What an upgrade negotiates from, shared by the dialer and listeners.
#[derive(Clone)]
struct Choices {
    securities: Arc<[Arc<dyn Security>]>,
    muxers: Arc<[Arc<dyn Muxer>]>,
    timeout: Duration,
    first_step: Duration,
}

impl Choices {
    fn security_names(&self) -> Vec<&'static str> {
        self.securities.iter().map(|s| s.name()).collect()
    }

    fn muxer_names(&self) -> Vec<&'static str> {
        self.muxers.iter().map(|m| m.name()).collect()
    }

    /// The choice multistream-select agreed on (it is one of ours).
    fn pick<C: ?Sized>(list: &[Arc<C>], names: &[&'static str], agreed: &str) -> Result<Arc<C>> {
        let index = names.iter().position(|name| *name == agreed);
        let found = index.and_then(|index| list.get(index)).cloned();
        found.ok_or_else(|| {
            Error::Negotiation(strata_core::Error::Multistream(format!("agreed on {agreed:?}, never offered")))
        })
    }

    /// Upgrades a stream we dialed.
    ///
    /// A step with one choice is negotiated lazily (its first message
    /// travels with the proposal: a round trip saved per step); a step
    /// with several waits for the answer, to fall back on a refusal. As
    /// with rust-libp2p's dialer, a listener that refuses the one muxer
    /// proposed is noticed at the first read, after the dial returned: the
    /// connection then fails.
    async fn outbound(self, raw: BoxStream, expected: Option<PeerId>) -> Result<(PeerId, BoxConnection)> {
        let names = self.security_names();
        let (agreed, raw) = Self::select(raw, &names).await?;
        let (peer, secure) = Self::pick(&self.securities, &names, agreed)?.outbound(raw, expected).await?;
        let names = self.muxer_names();
        let (agreed, secure) = Self::select(secure, &names).await?;
        let connection = Self::pick(&self.muxers, &names, agreed)?.upgrade(secure, Endpoint::Dialer).await?;
        Ok((peer, BoxConnection(connection)))
    }

    /// One dialer step: lazily for a single choice, eagerly for several.
    async fn select(mut io: BoxStream, names: &[&'static str]) -> Result<(&'static str, BoxStream)> {
        if let [only] = names {
            let negotiated = multistream::dialer_select_lazy(io, only).await.map_err(Error::negotiation)?;
            return Ok((only, Box::new(negotiated)));
        }
        let agreed = multistream::dialer_select(&mut io, names.iter().copied()).await.map_err(Error::negotiation)?;
        Ok((agreed, io))
    }

    /// Upgrades a stream we accepted.
    async fn inbound(self, mut raw: BoxStream) -> Result<(PeerId, BoxConnection)> {
        let names = self.security_names();
        // The first step has a deadline of its own: a silent or dribbling
        // socket gives its handshake slot back in seconds, not at the end
        // of the whole upgrade timeout.
        let first = tokio::time::timeout(self.first_step, multistream::listener_select(&mut raw, &names));
        let agreed = *first
            .await
            .map_err(|_| Error::Timeout("security negotiation", self.first_step))?
            .map_err(Error::negotiation)?;
        let (peer, mut secure) = Self::pick(&self.securities, &names, agreed)?.inbound(raw).await?;
        let names = self.muxer_names();
        let agreed = *multistream::listener_select(&mut secure, &names).await.map_err(Error::negotiation)?;
        let connection = Self::pick(&self.muxers, &names, agreed)?.upgrade(secure, Endpoint::Listener).await?;
        Ok((peer, BoxConnection(connection)))
    }

    async fn bounded<T>(&self, upgrade: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.timeout, upgrade)
            .await
            .map_err(|_| Error::Timeout("connection upgrade", self.timeout))?
    }
}

/// A transport whose connections are upgraded with security and muxer
/// negotiation: the [`ConnectionSource`] of TCP (and of any transport that
/// gives raw byte streams).
///
/// ```
/// # fn demo(keypair: &strata_core::Keypair) {
/// let source = strata_host::Upgrader::new(strata_tcp::TcpTransport::default())
///     .security(strata_noise::Config::new(keypair))
///     .muxer(strata_mplex::Config::default());
/// # let _ = source;
/// # }
/// ```
pub struct Upgrader<T> {
    transport: Arc<T>,
    choices: Choices,
}

impl<T: Transport> Upgrader<T> {
    /// An upgrader of `transport` with no security or muxer yet (add at
    /// least one of each), and a 10 s upgrade timeout.
    pub fn new(transport: T) -> Self {
        let choices = Choices {
            securities: Arc::new([]),
            muxers: Arc::new([]),
            timeout: Duration::from_secs(10),
            first_step: Duration::from_secs(3),
        };
        Self { transport: Arc::new(transport), choices }
    }

    /// Offers `security`, after those added before (a dialer proposes them
    /// in this order).
    #[must_use]
    pub fn security(mut self, security: impl SecurityUpgrade) -> Self {
        let mut list: Vec<Arc<dyn Security>> = self.choices.securities.to_vec();
        list.push(Arc::new(security));
        self.choices.securities = list.into();
        self
    }

    /// Offers `muxer`, after those added before.
    #[must_use]
    pub fn muxer(mut self, muxer: impl StreamMuxer) -> Self {
        let mut list: Vec<Arc<dyn Muxer>> = self.choices.muxers.to_vec();
        list.push(Arc::new(muxer));
        self.choices.muxers = list.into();
        self
    }

    /// How long a connection may take from its first byte to multiplexed
    /// and authenticated. Default: 10 s; past it the connection is dropped.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.choices.timeout = timeout;
        self
    }

    /// How long an inbound connection may take to agree on a security
    /// protocol (its first few dozen bytes). Default: 3 s; past it the
    /// connection is dropped, so silent and slow sockets free their
    /// handshake slot early.
    #[must_use]
    pub fn first_step_timeout(mut self, timeout: Duration) -> Self {
        self.choices.first_step = timeout;
        self
    }
}

impl<T: Transport> ConnectionSource for Upgrader<T> {
    type Connection = BoxConnection;
    type Listener = UpgraderListener<T::Listener>;
    type Error = Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        self.transport.can_dial(addr)
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        self.transport.can_listen(addr)
    }

    async fn dial(&self, addr: &Multiaddr, expected: Option<PeerId>) -> Result<(PeerId, BoxConnection)> {
        let choices = self.choices.clone();
        let upgrade = async move {
            let raw = self.transport.dial(addr).await.map_err(Error::transport)?;
            choices.outbound(Box::new(raw), expected).await
        };
        self.choices.bounded(upgrade).await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<UpgraderListener<T::Listener>> {
        let listener = self.transport.listen(addr).await.map_err(Error::transport)?;
        Ok(UpgraderListener { listener, choices: self.choices.clone() })
    }
}

/// A listener of an [`Upgrader`].
pub struct UpgraderListener<L> {
    listener: L,
    choices: Choices,
}

impl<L: Listener> ConnectionListener for UpgraderListener<L> {
    type Connection = BoxConnection;
    type Error = Error;
    type Upgrade = BoxFuture<'static, Result<(PeerId, BoxConnection)>>;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        self.listener.local_addrs()
    }

    async fn accept(&mut self) -> Result<(Multiaddr, Self::Upgrade)> {
        let (raw, remote_addr) = self.listener.accept().await.map_err(Error::transport)?;
        let choices = self.choices.clone();
        let upgrade: Self::Upgrade = Box::pin(async move {
            let inbound = choices.clone().inbound(Box::new(raw));
            choices.bounded(inbound).await
        });
        Ok((remote_addr, upgrade))
    }
}
