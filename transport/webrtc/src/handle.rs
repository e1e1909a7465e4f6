//! [`WebRtcConnection`]: the host's handle on a connection, core's
//! `MuxedConnection`. Opening a stream creates a data channel (in-band,
//! DCEP) and waits until it is open; accepting takes the next channel the
//! remote opened. The connection closes on [`close`](MuxedConnection::close),
//! or once the last handle and the last stream are gone.

use std::{future::poll_fn, sync::Arc};

use str0m::channel::ChannelId;
use strata_core::MuxedConnection;

use crate::{Error, Result, WebRtcStream, connection::Shared};

/// Closes the connection when the last handle (connection or stream) goes.
pub(crate) struct Guard(Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.request_close();
    }
}

/// An established WebRTC-direct connection: each stream a data channel.
/// Cheap to clone; the connection closes when the last clone and the last
/// stream are dropped.
#[derive(Clone)]
pub struct WebRtcConnection {
    shared: Arc<Shared>,
    guard: Arc<Guard>,
}

impl std::fmt::Debug for WebRtcConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcConnection").finish_non_exhaustive()
    }
}

impl WebRtcConnection {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let guard = Arc::new(Guard(Arc::clone(&shared)));
        Self { shared, guard }
    }

    fn stream(&self, id: ChannelId) -> WebRtcStream {
        WebRtcStream::new(Arc::clone(&self.shared), id, Arc::clone(&self.guard))
    }
}

impl MuxedConnection for WebRtcConnection {
    type Stream = WebRtcStream;
    type Error = Error;

    async fn open_stream(&self) -> Result<WebRtcStream> {
        let id = self.shared.with(crate::connection::Inner::open_channel)?;
        self.shared.wake_driver();
        // The handle exists from here: a failed open still closes the channel.
        let stream = self.stream(id);
        poll_fn(|cx| self.shared.with(|inner| inner.poll_opened(id, cx))).await?;
        Ok(stream)
    }

    async fn accept_stream(&self) -> Result<Option<WebRtcStream>> {
        let id = poll_fn(|cx| self.shared.with(|inner| inner.poll_accept(cx))).await;
        Ok(id.map(|id| self.stream(id)))
    }

    async fn close(&self) -> Result<()> {
        self.shared.request_close();
        self.shared.finished().await;
        Ok(())
    }
}
