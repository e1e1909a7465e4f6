//! `Protocol`: how an application serves a protocol on inbound streams.
//!
//! One trait, one async entry point: for every inbound stream on which a
//! remote negotiated one of `IDS`, the host calls `handle` in a task of its
//! own (`stream.protocol()` says which id). A closure works as well
//! ([`crate::Host::handle`]); for one message each way, see
//! [`crate::Host::serve`].

use std::{future::Future, io, sync::Arc};

use futures::future::BoxFuture;

use crate::Stream;

/// A protocol served on inbound streams.
///
/// ```
/// use strata_host::{Protocol, Stream};
/// use tokio::io::AsyncWriteExt;
///
/// struct Hello;
///
/// impl Protocol for Hello {
///     const IDS: &'static [&'static str] = &["/hello/1.0.0"];
///
///     async fn handle(&self, mut stream: Stream) -> std::io::Result<()> {
///         stream.write_all(format!("hello, {}\n", stream.peer()).as_bytes()).await?;
///         stream.shutdown().await
///     }
/// }
/// ```
pub trait Protocol: Send + Sync + 'static {
    /// The protocol ids it serves, negotiated with multistream-select
    /// (several for a protocol with versions or companions).
    const IDS: &'static [&'static str];

    /// Serves one inbound stream. An error is logged, and the stream
    /// dropped (reset, if it was not shut down).
    fn handle(&self, stream: Stream) -> impl Future<Output = io::Result<()>> + Send;
}

/// A handler as the host stores it.
pub(crate) type Handler = Arc<dyn Fn(Stream) -> BoxFuture<'static, io::Result<()>> + Send + Sync>;

/// A handler from a [`Protocol`].
pub(crate) fn handler_of<P: Protocol>(protocol: Arc<P>) -> Handler {
    Arc::new(move |stream| {
        let protocol = Arc::clone(&protocol);
        Box::pin(async move { protocol.handle(stream).await })
    })
}

/// A handler from a closure.
pub(crate) fn handler_from_fn<F, Fut>(handler: F) -> Handler
where
    F: Fn(Stream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    Arc::new(move |stream| Box::pin(handler(stream)))
}
