//! The layers a host was built with, behind object-safe traits.
//!
//! A host is built from any transport, security upgrade and muxer (generic
//! types), but the [`crate::Host`] handle is one plain type: `Stack` holds
//! the generic `Layers` and hands out connections and streams as trait
//! objects. The cost is a boxed future per dial or stream open and a
//! virtual call per read or write, next to a system call and a cipher.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use futures::future::BoxFuture;
use strata_core::{ByteStream, Listener, Multiaddr, MuxedConnection, PeerId, SecurityUpgrade, StreamMuxer, Transport};

use crate::{Error, Result, upgrade};

/// A byte stream of any layer, boxed.
pub(crate) type BoxStream = Box<dyn ByteStreamObject>;

/// [`ByteStream`] as an object-safe trait.
pub(crate) trait ByteStreamObject: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
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
        Box::pin(async move { self.close().await.map_err(Error::muxer) })
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
pub(crate) trait StackListener: Send {
    fn local_addrs(&self) -> Vec<Multiaddr>;
    fn accept(&mut self) -> BoxFuture<'_, Result<PendingInbound>>;
}

/// The layers of a host, type-erased.
pub(crate) trait Stack: Send + Sync + 'static {
    fn can_dial(&self, addr: &Multiaddr) -> bool;
    fn dial(&self, addr: Multiaddr, expected: Option<PeerId>) -> BoxFuture<'static, Result<Upgraded>>;
    fn listen(&self, addr: Multiaddr) -> BoxFuture<'static, Result<Box<dyn StackListener>>>;
}

/// A transport, a security upgrade and a muxer.
pub(crate) struct Layers<T, Sec, Mux> {
    pub(crate) transport: Arc<T>,
    pub(crate) security: Sec,
    pub(crate) muxer: Mux,
    pub(crate) upgrade_timeout: Duration,
}

impl<T, Sec, Mux> Layers<T, Sec, Mux> {
    /// Bounds an upgrade by the configured timeout.
    fn bounded<F>(&self, upgrade: F) -> impl Future<Output = Result<Upgraded>> + Send + 'static
    where
        F: Future<Output = Result<Upgraded>> + Send + 'static,
    {
        let timeout = self.upgrade_timeout;
        async move {
            tokio::time::timeout(timeout, upgrade).await.map_err(|_| Error::Timeout("connection upgrade", timeout))?
        }
    }
}

impl<T, Sec, Mux> Stack for Layers<T, Sec, Mux>
where
    T: Transport,
    Sec: SecurityUpgrade,
    Mux: StreamMuxer,
{
    fn can_dial(&self, addr: &Multiaddr) -> bool {
        self.transport.can_dial(addr)
    }

    fn dial(&self, addr: Multiaddr, expected: Option<PeerId>) -> BoxFuture<'static, Result<Upgraded>> {
        let (transport, security, muxer) = (Arc::clone(&self.transport), self.security.clone(), self.muxer.clone());
        Box::pin(self.bounded(async move {
            let raw = transport.dial(&addr).await.map_err(Error::transport)?;
            let (peer, connection) = upgrade::outbound(raw, &security, &muxer, expected).await?;
            Ok(Upgraded { peer, connection: Arc::new(connection) })
        }))
    }

    fn listen(&self, addr: Multiaddr) -> BoxFuture<'static, Result<Box<dyn StackListener>>> {
        let transport = Arc::clone(&self.transport);
        let (security, muxer, timeout) = (self.security.clone(), self.muxer.clone(), self.upgrade_timeout);
        Box::pin(async move {
            let listener = transport.listen(&addr).await.map_err(Error::transport)?;
            Ok(Box::new(LayersListener { listener, security, muxer, timeout }) as Box<dyn StackListener>)
        })
    }
}

struct LayersListener<L, Sec, Mux> {
    listener: L,
    security: Sec,
    muxer: Mux,
    timeout: Duration,
}

impl<L, Sec, Mux> StackListener for LayersListener<L, Sec, Mux>
where
    L: Listener,
    Sec: SecurityUpgrade,
    Mux: StreamMuxer,
{
    fn local_addrs(&self) -> Vec<Multiaddr> {
        self.listener.local_addrs()
    }

    fn accept(&mut self) -> BoxFuture<'_, Result<PendingInbound>> {
        Box::pin(async move {
            let (raw, remote_addr) = self.listener.accept().await.map_err(Error::transport)?;
            let (security, muxer, timeout) = (self.security.clone(), self.muxer.clone(), self.timeout);
            let upgrade = async move {
                let upgrade = upgrade::inbound(raw, &security, &muxer);
                let (peer, connection) = tokio::time::timeout(timeout, upgrade)
                    .await
                    .map_err(|_| Error::Timeout("connection upgrade", timeout))??;
                Ok(Upgraded { peer, connection: Arc::new(connection) as Arc<dyn Muxed> })
            };
            Ok(PendingInbound { remote_addr, upgrade: Box::pin(upgrade) as Pin<Box<_>> })
        })
    }
}
