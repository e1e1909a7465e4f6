//! Inbound stream handlers: how the host keeps what [`crate::Host::handle`]
//! is given.
//!
//! A protocol is served by a closure called, in a task of its own, for
//! every inbound stream on which a remote negotiated its id. The built-in
//! protocols are services with state and tasks of their own (ping keeps
//! peers alive, identify pushes updates): each hands the host such a
//! closure over its shared state; for one message each way, see
//! [`crate::Host::serve`].

use std::{future::Future, io, sync::Arc};

use futures::future::BoxFuture;

use crate::Stream;

/// A handler as the host stores it.
pub(crate) type Handler = Arc<dyn Fn(Stream) -> BoxFuture<'static, io::Result<()>> + Send + Sync>;

/// A handler from a closure.
pub(crate) fn handler_from_fn<F, Fut>(handler: F) -> Handler
where
    F: Fn(Stream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    Arc::new(move |stream| Box::pin(handler(stream)))
}
