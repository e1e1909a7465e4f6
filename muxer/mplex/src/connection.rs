//! `MplexConnection` and its driver: the one task that owns the socket.
//!
//! The driver loops over three jobs until the connection ends:
//!
//! 1. **write**: take everything the streams queued (one swap under the
//!    lock), write it out, flush when the queue is empty, so frames from
//!    many streams leave in one batch;
//! 2. **read**: read what the socket has, decode every complete frame and
//!    apply it to the state (unless a full stream under
//!    [`Overflow::Block`](crate::Overflow::Block) holds reading back);
//! 3. **close**: once closing, flush what is queued and shut the socket
//!    down, within the close timeout.
//!
//! It sleeps when none of them can move, woken by the socket or by a
//! handle that gave it work.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
};

use bytes::BytesMut;
use strata_core::{
    ByteStream, MuxedConnection,
    muxer_io::{BatchWriter, poll_read_chunk},
};
use tokio::{task::JoinHandle, time::Sleep};

use crate::{
    Config, Error, MplexStream, Result,
    frame::{self, MAX_FRAME_LEN},
    shared::{Shared, Status},
};

/// How much room the driver makes before each socket read.
const READ_CHUNK: usize = 64 * 1024;

/// How often a driver held back by the node's memory budget looks again.
const BUDGET_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// A live mplex connection: opens and accepts streams. Dropping it closes
/// the connection and every stream on it.
pub struct MplexConnection {
    shared: Arc<Shared>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl MplexConnection {
    /// Starts the driver task over `io` (on the current tokio runtime).
    pub(crate) fn spawn<S: ByteStream>(io: S, config: Config) -> Self {
        let close_timeout = config.close_timeout;
        let shared = Arc::new(Shared::new(config));
        let driver = Driver {
            io,
            shared: Arc::clone(&shared),
            read_buf: BytesMut::new(),
            writer: BatchWriter::new(),
            close_deadline: None,
            close_timeout,
            budget_retry: None,
            stalled: None,
        };
        let handle = tokio::spawn(driver);
        Self { shared, driver: Mutex::new(Some(handle)) }
    }
}

impl MuxedConnection for MplexConnection {
    type Stream = MplexStream;
    type Error = Error;

    async fn open_stream(&self) -> Result<MplexStream> {
        let id = self.shared.lock().open()?;
        Ok(MplexStream::new(id, Arc::clone(&self.shared)))
    }

    async fn accept_stream(&self) -> Result<Option<MplexStream>> {
        let id = std::future::poll_fn(|cx| self.shared.lock().poll_accept(cx)).await?;
        Ok(id.map(|id| MplexStream::new(id, Arc::clone(&self.shared))))
    }

    async fn close(&self) -> Result<()> {
        self.shared.lock().start_close();
        let driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(driver) = driver {
            driver.await.map_err(|e| Error::Io(format!("the driver task failed: {e}")))?;
        }
        match &self.shared.lock().status {
            Status::Failed(error) => Err(error.clone()),
            _ => Ok(()),
        }
    }
}

impl Drop for MplexConnection {
    fn drop(&mut self) {
        self.shared.lock().start_close();
    }
}

impl std::fmt::Debug for MplexConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MplexConnection").field("status", &self.shared.lock().status).finish_non_exhaustive()
    }
}

/// The task that owns the socket. See the module documentation.
struct Driver<S> {
    io: S,
    shared: Arc<Shared>,
    read_buf: BytesMut,
    writer: BatchWriter,
    close_deadline: Option<Pin<Box<Sleep>>>,
    close_timeout: std::time::Duration,
    /// While the node's memory budget holds reading back: when to look
    /// again (other connections free it, with no way to wake this one).
    budget_retry: Option<Pin<Box<Sleep>>>,
    /// Since reading paused for frames the peer provoked and does not read.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S: ByteStream> Driver<S> {
    /// Writes what is queued; flushes when nothing more is. Returns whether
    /// anything moved.
    fn poll_write_side(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let shared = &self.shared;
        self.writer.poll_write(
            &mut self.io,
            cx,
            |buf| shared.lock().take_outbound(buf),
            |total| shared.lock().flushed(total),
        )
    }

    /// Applies every complete frame read so far, then reads more. Returns
    /// whether anything moved, or `None` at the socket's clean end.
    fn poll_read_side(&mut self, cx: &mut Context<'_>) -> Result<Option<bool>> {
        let mut progress = false;
        loop {
            {
                let mut state = self.shared.lock();
                let max_frame = state.session.config().max_frame_len.min(MAX_FRAME_LEN);
                while !state.session.reading_blocked() {
                    match frame::decode(&mut self.read_buf, max_frame)? {
                        Some(frame) => {
                            state.receive(frame)?;
                            progress = true;
                        }
                        None => break,
                    }
                }
                if state.session.reading_blocked() || !matches!(state.status, Status::Open) {
                    let node_over = state.session.node_over_budget();
                    let owing = state.session.owes_too_much();
                    let stall_timeout = state.session.config().stall_timeout;
                    drop(state);
                    if owing {
                        // A peer that provokes frames and reads none of
                        // them loses its connection once this has lasted.
                        let stall = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall_timeout)));
                        if stall.as_mut().poll(cx).is_ready() {
                            return Err(Error::Protocol(format!(
                                "the peer read none of the frames it made us owe for {stall_timeout:?}"
                            )));
                        }
                    } else {
                        self.stalled = None;
                    }
                    if node_over {
                        let retry = self.budget_retry.get_or_insert_with(|| Box::pin(tokio::time::sleep(BUDGET_RETRY)));
                        if retry.as_mut().poll(cx).is_ready() {
                            self.budget_retry = None;
                            progress = true; // run the loop again: the budget may have room now
                        }
                    }
                    return Ok(Some(progress));
                }
            }
            match poll_read_chunk(&mut self.io, cx, &mut self.read_buf, READ_CHUNK) {
                Poll::Ready(Ok(0)) => return Ok(None),
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(e)) => return Err(Error::Io(e.to_string())),
                Poll::Pending => return Ok(Some(progress)),
            }
        }
    }

    /// Once closing: true when everything queued is out and the socket is
    /// shut down.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let deadline = self.close_deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(self.close_timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Error::Io("closing timed out with frames unsent".into())));
        }
        if self.writer.in_flight() || self.shared.lock().has_outbound() {
            return Poll::Pending; // the write side is still at work, and will wake us
        }
        Pin::new(&mut self.io).poll_shutdown(cx).map_err(|e| Error::Io(e.to_string()))
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            let closing = {
                let mut state = self.shared.lock();
                state.set_driver_waker(cx.waker());
                matches!(state.status, Status::Closing)
            };
            let wrote = self.poll_write_side(cx).map_err(|e| Error::Io(e.to_string()))?;
            if closing {
                match self.poll_close(cx) {
                    Poll::Ready(result) => return Poll::Ready(result),
                    Poll::Pending if wrote => continue,
                    Poll::Pending => return Poll::Pending,
                }
            }
            let Some(read) = self.poll_read_side(cx)? else {
                return Poll::Ready(Ok(())); // the remote closed the connection
            };
            if !wrote && !read {
                return Poll::Pending;
            }
        }
    }
}

impl<S: ByteStream> Future for Driver<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let result = std::task::ready!(this.poll_run(cx));
        this.shared.lock().finish(result);
        Poll::Ready(())
    }
}
