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
//! step (agreeing on security) by a shorter one, both from the host's
//! [`crate::Config`]. Security outputs and muxer connections of different
//! types are boxed, so one upgrader offers any mix of them.
//!
//! An [`Upgrader`] is a recipe: its security upgrades are made from the
//! host's identity when the [`crate::Builder`] builds the host, so they
//! cannot hold another one.

use std::{future::Future, sync::Arc, time::Duration};

use futures::future::BoxFuture;
use strata_core::{
    ConnectionListener, ConnectionSource, Endpoint, Keypair, Listener, Multiaddr, PeerId, PeerIdMismatch,
    SecurityUpgrade, StreamMuxer, Transport, multistream,
};

use crate::{
    Error, Result,
    source::{self, BoxConnection, BoxStream, ErasedListener, Muxed, Source, SourceListener, Upgraded},
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

    /// Upgrades a stream in `role`: a stream we dialed is upgraded as the
    /// listener (the multistream listener, the Noise responder) in a hole
    /// punch (`libp2p-relay-DCUtR.md`: "`A` is assumed to be the client and
    /// `B` the server", though both dialed).
    async fn upgrade(
        self,
        raw: BoxStream,
        expected: Option<PeerId>,
        role: Endpoint,
    ) -> Result<(PeerId, BoxConnection)> {
        match role {
            Endpoint::Dialer => self.outbound(raw, expected).await,
            Endpoint::Listener => self.inbound(raw, expected).await,
        }
    }

    /// Upgrades a stream we accepted, or one we dialed as the listener;
    /// with `expected`, a remote that proves another identity fails the
    /// upgrade once the handshake names it (a responder learns who the
    /// remote is last).
    async fn inbound(self, mut raw: BoxStream, expected: Option<PeerId>) -> Result<(PeerId, BoxConnection)> {
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
        if let Some(expected) = expected.filter(|expected| *expected != peer) {
            return Err(Error::security(PeerIdMismatch { expected, actual: peer }));
        }
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

/// A security upgrade to be made from the host's identity.
type SecurityMaker = Box<dyn FnOnce(&Keypair) -> Arc<dyn Security> + Send>;

/// A transport whose connections are upgraded with security and muxer
/// negotiation: how a host gets connections from TCP (and from any
/// transport that gives raw byte streams). Give it to
/// [`crate::Builder::upgrader`].
///
/// ```
/// let upgrader = strata_host::Upgrader::new(strata_tcp::TcpTransport::default())
///     .security(strata_noise::Config::new) // made from the host's identity
///     .muxer(strata_mplex::Config::default());
/// # let _ = upgrader;
/// ```
pub struct Upgrader<T> {
    transport: T,
    securities: Vec<SecurityMaker>,
    muxers: Vec<Arc<dyn Muxer>>,
}

impl<T: Transport> Upgrader<T> {
    /// An upgrader of `transport` with no security or muxer yet (add at
    /// least one of each).
    pub fn new(transport: T) -> Self {
        Self { transport, securities: Vec::new(), muxers: Vec::new() }
    }

    /// Offers the security upgrade `make` returns from the host's identity
    /// (`strata_noise::Config::new`, or a closure that sets more), after
    /// those added before (a dialer proposes them in this order).
    #[must_use]
    pub fn security<S: SecurityUpgrade>(mut self, make: impl FnOnce(&Keypair) -> S + Send + 'static) -> Self {
        self.securities.push(Box::new(move |identity| Arc::new(make(identity)) as Arc<dyn Security>));
        self
    }

    /// Offers `muxer`, after those added before.
    #[must_use]
    pub fn muxer(mut self, muxer: impl StreamMuxer) -> Self {
        self.muxers.push(Arc::new(muxer));
        self
    }

    /// The connection source, with the host's identity and its upgrade
    /// timeouts (`timeout` for the whole upgrade, `first_step` for an
    /// inbound connection to agree on a security protocol).
    pub(crate) fn build(self, identity: &Keypair, timeout: Duration, first_step: Duration) -> UpgraderSource<T> {
        let securities = self.securities.into_iter().map(|make| make(identity)).collect();
        let choices = Choices { securities, muxers: self.muxers.into(), timeout, first_step };
        UpgraderSource { transport: Arc::new(self.transport), choices }
    }
}

/// An [`Upgrader`] with its security upgrades made: a
/// [`ConnectionSource`].
pub(crate) struct UpgraderSource<T> {
    transport: Arc<T>,
    choices: Choices,
}

impl<T: Transport> ConnectionSource for UpgraderSource<T> {
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
            match choices.clone().outbound(Box::new(raw), expected).await {
                // Two nodes that dial each other's listen ports at the same
                // moment (port reuse: both dial from their listen port) can
                // meet in one TCP connection, a simultaneous open, where
                // both act as dialers and the security handshake fails on
                // both sides. Once more, from a port of its own: that dial
                // cannot collide. Any other handshake failure costs one more
                // attempt, and is what the dial reports when that fails too.
                Err(Error::Security(error)) => {
                    tracing::debug!(%addr, %error, "handshake failed; dialing again from a new port");
                    let again = async {
                        let raw = self.transport.dial_from_new_port(addr).await.map_err(Error::transport)?;
                        choices.outbound(Box::new(raw), expected).await
                    };
                    again.await.map_err(|_| Error::Security(error))
                }
                outcome => outcome,
            }
        };
        self.choices.bounded(upgrade).await
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<UpgraderListener<T::Listener>> {
        let listener = self.transport.listen(addr).await.map_err(Error::transport)?;
        Ok(UpgraderListener { listener, choices: self.choices.clone() })
    }
}

impl<T: Transport> UpgraderSource<T> {
    /// A hole punch's dial: from the listen port, upgraded as `role`.
    async fn dial_as(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
        role: Endpoint,
    ) -> Result<(PeerId, BoxConnection)> {
        let choices = self.choices.clone();
        let upgrade = async move {
            let raw = self.transport.dial_from_listen_port(addr).await.map_err(Error::transport)?;
            tracing::debug!(%addr, ?role, "dialed for a hole punch; upgrading");
            choices.upgrade(Box::new(raw), expected, role).await
        };
        self.choices.bounded(upgrade).await
    }
}

/// The host's own source: a [`ConnectionSource`] that also dials in
/// either role.
impl<T: Transport> Source for UpgraderSource<T> {
    fn can_dial(&self, addr: &Multiaddr) -> bool {
        self.transport.can_dial(addr)
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        self.transport.can_listen(addr)
    }

    fn dial(&self, addr: Multiaddr, expected: Option<PeerId>) -> BoxFuture<'_, Result<Upgraded>> {
        Box::pin(async move { ConnectionSource::dial(self, &addr, expected).await.map(source::upgraded) })
    }

    fn dial_as(&self, addr: Multiaddr, expected: Option<PeerId>, role: Endpoint) -> BoxFuture<'_, Result<Upgraded>> {
        Box::pin(async move { UpgraderSource::dial_as(self, &addr, expected, role).await.map(source::upgraded) })
    }

    fn listen(&self, addr: Multiaddr) -> BoxFuture<'_, Result<Box<dyn SourceListener>>> {
        Box::pin(async move {
            let listener = ConnectionSource::listen(self, &addr).await?;
            Ok(Box::new(ErasedListener(listener)) as Box<dyn SourceListener>)
        })
    }

    /// Nothing to do: a TCP hole punch is a dial from both sides.
    fn hole_punch(&self, _addr: Multiaddr) -> BoxFuture<'_, Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A listener of an [`Upgrader`].
pub(crate) struct UpgraderListener<L> {
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
            let inbound = choices.clone().inbound(Box::new(raw), None);
            choices.bounded(inbound).await
        });
        Ok((remote_addr, upgrade))
    }
}
