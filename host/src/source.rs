//! Connection sources behind object-safe traits.
//!
//! A host holds any number of [`ConnectionSource`]s (the TCP upgrader,
//! QUIC, a memory transport), each a different type; the [`crate::Host`]
//! handle is one plain type. [`Source`] is `ConnectionSource` made
//! object-safe: connections, streams and listeners come out as trait
//! objects. The cost is a boxed future per dial, accept or stream open and
//! a virtual call per read or write, next to a system call and a cipher.

use std::{any::Any, sync::Arc};

use futures::future::BoxFuture;
use strata_core::{ByteStream, ConnectionListener, ConnectionSource, Endpoint, Multiaddr, MuxedConnection, PeerId};

use crate::{Error, Result};

/// A byte stream of any layer, boxed.
pub type BoxStream = Box<dyn ByteStreamObject>;

/// [`ByteStream`] as an object-safe trait.
pub trait ByteStreamObject: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: ByteStream> ByteStreamObject for T {}

/// An established multiplexed connection, type-erased.
pub(crate) trait Muxed: Send + Sync {
    fn open(&self) -> BoxFuture<'_, Result<BoxStream>>;
    fn accept(&self) -> BoxFuture<'_, Result<Option<BoxStream>>>;
    fn close(&self) -> BoxFuture<'_, Result<()>>;
}

impl<C: MuxedConnection> Muxed for C {
    fn open(&self) -> BoxFuture<'_, Result<BoxStream>> {
        Box::pin(async move { Ok(Box::new(self.open_stream().await.map_err(Error::muxer)?) as BoxStream) })
    }

    fn accept(&self) -> BoxFuture<'_, Result<Option<BoxStream>>> {
        Box::pin(async move {
            let stream = self.accept_stream().await.map_err(Error::muxer)?;
            Ok(stream.map(|s| Box::new(s) as BoxStream))
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { MuxedConnection::close(self).await.map_err(Error::muxer) })
    }
}

/// A multiplexed connection of any muxer, boxed: what the host's own
/// [`crate::Upgrader`] yields, whichever muxer was negotiated.
pub struct BoxConnection(pub(crate) Box<dyn Muxed>);

impl MuxedConnection for BoxConnection {
    type Stream = BoxStream;
    type Error = Error;

    async fn open_stream(&self) -> Result<BoxStream> {
        self.0.open().await
    }

    async fn accept_stream(&self) -> Result<Option<BoxStream>> {
        self.0.accept().await
    }

    async fn close(&self) -> Result<()> {
        self.0.close().await
    }
}

impl std::fmt::Debug for BoxConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxConnection")
    }
}

/// A source's connection as the host keeps it. The host's own
/// [`BoxConnection`] is unwrapped rather than boxed again, so its streams
/// carry one box, not two.
fn into_muxed<C: MuxedConnection>(connection: C) -> Arc<dyn Muxed> {
    let mut slot = Some(connection);
    if let Some(boxed) = (&mut slot as &mut dyn Any).downcast_mut::<Option<BoxConnection>>()
        && let Some(BoxConnection(inner)) = boxed.take()
    {
        return Arc::from(inner);
    }
    match slot {
        Some(connection) => Arc::new(connection),
        None => unreachable!("taken only when it was a BoxConnection"),
    }
}

/// An upgraded connection and who is on the other end.
pub(crate) struct Upgraded {
    pub(crate) peer: PeerId,
    pub(crate) connection: Arc<dyn Muxed>,
}

/// An inbound connection accepted by a listener, not yet upgraded.
pub(crate) struct PendingInbound {
    pub(crate) remote_addr: Multiaddr,
    pub(crate) upgrade: BoxFuture<'static, Result<Upgraded>>,
}

/// A bound listener, type-erased.
pub(crate) trait SourceListener: Send {
    fn local_addrs(&self) -> Vec<Multiaddr>;
    fn accept(&mut self) -> BoxFuture<'_, Result<PendingInbound>>;
}

/// A [`ConnectionSource`], type-erased: [`Erased`] for any source, or the
/// host's own [`crate::Upgrader`], which also dials in a chosen role.
pub(crate) trait Source: Send + Sync + 'static {
    fn can_dial(&self, addr: &Multiaddr) -> bool;
    fn can_listen(&self, addr: &Multiaddr) -> bool;
    fn dial(&self, addr: Multiaddr, expected: Option<PeerId>) -> BoxFuture<'_, Result<Upgraded>>;
    /// A hole punch's dial: a new connection from the listen port, whose
    /// upgrade runs as `role` (see [`crate::Host::dial_as`]).
    fn dial_as(&self, addr: Multiaddr, expected: Option<PeerId>, role: Endpoint) -> BoxFuture<'_, Result<Upgraded>>;
    fn listen(&self, addr: Multiaddr) -> BoxFuture<'_, Result<Box<dyn SourceListener>>>;
    /// [`ConnectionSource::hole_punch`].
    fn hole_punch(&self, addr: Multiaddr) -> BoxFuture<'_, Result<()>>;
}

/// Any [`ConnectionSource`] as a [`Source`]. It dials in one role only, the
/// dialer's: a source that upgrades by itself (QUIC) has no negotiation to
/// turn around, and its listener side of a hole punch is
/// [`ConnectionSource::hole_punch`].
pub(crate) struct Erased<S>(pub(crate) S);

impl<S: ConnectionSource> Source for Erased<S> {
    fn can_dial(&self, addr: &Multiaddr) -> bool {
        self.0.can_dial(addr)
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        self.0.can_listen(addr)
    }

    fn dial(&self, addr: Multiaddr, expected: Option<PeerId>) -> BoxFuture<'_, Result<Upgraded>> {
        Box::pin(async move { self.0.dial(&addr, expected).await.map(upgraded).map_err(Error::source) })
    }

    fn dial_as(&self, addr: Multiaddr, expected: Option<PeerId>, role: Endpoint) -> BoxFuture<'_, Result<Upgraded>> {
        match role {
            Endpoint::Dialer => self.dial(addr, expected),
            Endpoint::Listener => Box::pin(std::future::ready(Err(Error::UnsupportedAddress(addr)))),
        }
    }

    fn listen(&self, addr: Multiaddr) -> BoxFuture<'_, Result<Box<dyn SourceListener>>> {
        Box::pin(async move {
            let listener = self.0.listen(&addr).await.map_err(Error::source)?;
            Ok(Box::new(ErasedListener(listener)) as Box<dyn SourceListener>)
        })
    }

    fn hole_punch(&self, addr: Multiaddr) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.0.hole_punch(&addr).await.map_err(Error::source) })
    }
}

/// What a source's dial gives, as the host keeps it.
pub(crate) fn upgraded<C: MuxedConnection>((peer, connection): (PeerId, C)) -> Upgraded {
    Upgraded { peer, connection: into_muxed(connection) }
}

pub(crate) struct ErasedListener<L>(pub(crate) L);

impl<L: ConnectionListener> SourceListener for ErasedListener<L> {
    fn local_addrs(&self) -> Vec<Multiaddr> {
        self.0.local_addrs()
    }

    fn accept(&mut self) -> BoxFuture<'_, Result<PendingInbound>> {
        Box::pin(async move {
            let (remote_addr, upgrade) = self.0.accept().await.map_err(Error::source)?;
            let upgrade = async move {
                let (peer, connection) = upgrade.await.map_err(Error::source)?;
                Ok(Upgraded { peer, connection: into_muxed(connection) })
            };
            Ok(PendingInbound { remote_addr, upgrade: Box::pin(upgrade) })
        })
    }
}
