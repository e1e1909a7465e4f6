//! One libp2p stream = one data channel: its state (a [`Slot`], owned by
//! the connection) and its handle ([`WebRtcStream`], `AsyncRead +
//! AsyncWrite`).
//!
//! Spec: WebRTC README, "Multiplexing" (the framing is `message.rs`).
//! Each direction closes on its own:
//!
//! ```text
//! write ──▶ Message{data} frames of ≤ 16 KiB ──▶ SCTP
//! shutdown ──▶ Message{FIN}          remote FIN ──▶ read returns EOF (we answer FIN_ACK)
//! drop before shutdown ──▶ RESET     remote RESET ──▶ read and write fail
//! drop after shutdown, before the remote's FIN ──▶ STOP_SENDING
//! remote STOP_SENDING ──▶ write fails
//! ```
//!
//! A dropped handle also closes the data channel (an SCTP stream reset),
//! so its stream id can be used again.
//!
//! Bounds: a slot holds at most `max_buffered` received, unread bytes; a
//! remote that sends past it has the stream reset. A writer waits while
//! the channel has `max_buffered` bytes queued in SCTP.

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use str0m::channel::ChannelId;
use strata_core::StreamState;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{
    connection::Shared,
    handle::Guard,
    message::{self, Decoder, Flag},
};

/// The state of one stream, owned by the connection.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// The channel is open (`ChannelOpen` seen): writes may go.
    pub(crate) open: bool,
    decoder: Decoder,
    recv: VecDeque<Bytes>,
    recv_len: usize,
    /// FIN sent, FIN received, or reset (by either side).
    state: StreamState,
    /// The remote reads no more.
    stopped: bool,
    /// The data channel is gone (closed by either side, or the connection).
    pub(crate) closed: bool,
    read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
}

/// What the connection must do after a slot took data.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Nothing.
    None,
    /// Send this flag on the channel.
    Flag(Flag),
    /// Reset the stream (send RESET, close the channel): the peer broke
    /// the framing or flooded us.
    Reset,
}

impl Slot {
    pub(crate) fn new(open: bool) -> Self {
        Self { open, ..Self::default() }
    }

    /// Takes bytes the channel received.
    pub(crate) fn on_data(&mut self, data: &[u8], max_buffered: usize) -> Reply {
        self.decoder.extend(data);
        let mut reply = Reply::None;
        loop {
            let message = match self.decoder.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "webrtc: stream framing broken; resetting");
                    return self.reset_locally();
                }
            };
            if !message.data.is_empty() && self.state.can_receive() {
                self.recv_len += message.data.len();
                self.recv.push_back(message.data);
                if self.recv_len > max_buffered {
                    tracing::debug!(max_buffered, "webrtc: stream receive buffer full; resetting");
                    return self.reset_locally();
                }
            }
            match message.flag {
                Some(Flag::Fin) => {
                    if self.state.close_remote() {
                        reply = Reply::Flag(Flag::FinAck);
                    }
                }
                Some(Flag::StopSending) => self.stopped = true,
                Some(Flag::Reset) => {
                    self.state = StreamState::Reset;
                    self.recv.clear();
                    self.recv_len = 0;
                }
                Some(Flag::FinAck) | None => {}
            }
        }
        self.wake();
        reply
    }

    fn reset_locally(&mut self) -> Reply {
        self.state = StreamState::Reset;
        self.recv.clear();
        self.recv_len = 0;
        self.wake();
        Reply::Reset
    }

    /// Wakes the reader and the writer.
    pub(crate) fn wake(&mut self) {
        if let Some(waker) = self.read_waker.take() {
            waker.wake();
        }
        if let Some(waker) = self.write_waker.take() {
            waker.wake();
        }
    }

    /// What a dropped handle sends: `RESET` before our `FIN`,
    /// `STOP_SENDING` after it while the remote still writes, nothing once
    /// both are done.
    pub(crate) fn farewell(&self) -> Option<Flag> {
        if self.state == StreamState::Reset || self.closed {
            None
        } else if self.state.can_write() {
            Some(Flag::Reset)
        } else if self.state.can_receive() {
            Some(Flag::StopSending)
        } else {
            None
        }
    }

    /// Our `FIN` went out.
    pub(crate) fn close_local(&mut self) {
        self.state.close_local();
    }

    /// Whether a `FIN` may still go out.
    pub(crate) fn can_finish(&self) -> bool {
        self.state.can_write() && !self.closed
    }

    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        connection_over: bool,
    ) -> Poll<io::Result<()>> {
        if self.state == StreamState::Reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let mut progressed = false;
        while buf.remaining() > 0 {
            let Some(front) = self.recv.front_mut() else { break };
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front.split_to(n));
            self.recv_len -= n;
            progressed = true;
            if front.is_empty() {
                self.recv.pop_front();
            }
        }
        let remote_fin = matches!(self.state, StreamState::RemoteClosed | StreamState::Closed);
        if progressed || remote_fin {
            return Poll::Ready(Ok(()));
        }
        if self.closed || connection_over {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        self.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn write_error(&self, connection_over: bool) -> Option<io::Error> {
        if self.state == StreamState::Reset || self.closed || connection_over {
            Some(io::ErrorKind::ConnectionReset.into())
        } else if self.stopped || !self.state.can_write() {
            Some(io::ErrorKind::BrokenPipe.into())
        } else {
            None
        }
    }
}

/// One libp2p stream over a data channel. Dropping it without
/// `shutdown` resets the stream.
pub struct WebRtcStream {
    shared: Arc<Shared>,
    id: ChannelId,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for WebRtcStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcStream").field("id", &self.id).finish_non_exhaustive()
    }
}

impl WebRtcStream {
    pub(crate) fn new(shared: Arc<Shared>, id: ChannelId, guard: Arc<Guard>) -> Self {
        Self { shared, id, _guard: guard }
    }
}

impl Drop for WebRtcStream {
    fn drop(&mut self) {
        self.shared.release(self.id);
    }
}

impl AsyncRead for WebRtcStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let id = self.id;
        self.shared.with(|inner| {
            let over = inner.is_over();
            match inner.slot(id) {
                Some(slot) => slot.poll_read(cx, buf, over),
                None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            }
        })
    }
}

impl AsyncWrite for WebRtcStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let id = self.id;
        let poll = self.shared.with(|inner| {
            let over = inner.is_over();
            let max_buffered = inner.max_buffered();
            let Some(slot) = inner.slot(id) else { return Poll::Ready(Err(io::ErrorKind::NotConnected.into())) };
            if let Some(error) = slot.write_error(over) {
                return Poll::Ready(Err(error));
            }
            if !slot.open {
                slot.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = buf.len().min(message::MAX_PAYLOAD);
            match inner.send(id, None, &buf[..n], max_buffered) {
                Ok(true) => Poll::Ready(Ok(n)),
                Ok(false) => {
                    inner.wait_for_room(id, cx.waker());
                    Poll::Pending
                }
                Err(error) => Poll::Ready(Err(io::Error::other(error))),
            }
        });
        if poll.is_ready() {
            self.shared.wake_driver();
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Frames go to SCTP as they are written; the driver sends them.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let id = self.id;
        let poll = self.shared.with(|inner| {
            let Some(slot) = inner.slot(id) else { return Poll::Ready(Ok(())) };
            if !slot.can_finish() {
                return Poll::Ready(Ok(()));
            }
            if !slot.open {
                slot.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            // A FIN must not be lost to a full buffer: it waits for room
            // like data (no limit on a frame this small, so it always fits).
            match inner.send(id, Some(Flag::Fin), &[], usize::MAX) {
                Ok(true) => {
                    if let Some(slot) = inner.slot(id) {
                        slot.close_local();
                    }
                    Poll::Ready(Ok(()))
                }
                Ok(false) => {
                    inner.wait_for_room(id, cx.waker());
                    Poll::Pending
                }
                Err(error) => Poll::Ready(Err(io::Error::other(error))),
            }
        });
        if poll.is_ready() {
            self.shared.wake_driver();
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::task::Waker;

    use super::*;

    fn frame(flag: Option<Flag>, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        message::encode(flag, data, &mut out);
        out
    }

    fn read_all(slot: &mut Slot) -> Poll<io::Result<Vec<u8>>> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut storage = [0u8; 64];
        let mut buf = ReadBuf::new(&mut storage);
        slot.poll_read(&mut cx, &mut buf, false).map_ok(|()| buf.filled().to_vec())
    }

    #[test]
    fn data_then_fin_reads_to_the_end_and_acks() {
        let mut slot = Slot::new(true);
        assert_eq!(slot.on_data(&frame(None, b"hello"), 1024), Reply::None);
        assert_eq!(slot.on_data(&frame(Some(Flag::Fin), b"!"), 1024), Reply::Flag(Flag::FinAck));
        assert!(matches!(read_all(&mut slot), Poll::Ready(Ok(data)) if data == b"hello!"));
        assert!(matches!(read_all(&mut slot), Poll::Ready(Ok(data)) if data.is_empty()), "EOF");
        // Data after the FIN is dropped; a second FIN is not acked again.
        assert_eq!(slot.on_data(&frame(Some(Flag::Fin), b"late"), 1024), Reply::None);
        assert!(matches!(read_all(&mut slot), Poll::Ready(Ok(data)) if data.is_empty()));
        // We may still write, and our farewell after our own FIN is nothing.
        assert!(slot.write_error(false).is_none());
        slot.close_local();
        assert_eq!(slot.farewell(), None);
    }

    #[test]
    fn an_open_stream_waits_for_data() {
        let mut slot = Slot::new(true);
        assert!(read_all(&mut slot).is_pending());
        assert_eq!(slot.farewell(), Some(Flag::Reset), "dropped before our FIN: reset");
        slot.close_local();
        assert_eq!(slot.farewell(), Some(Flag::StopSending), "after our FIN, the remote still writes");
        assert_eq!(slot.write_error(false).unwrap().kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_remote_reset_fails_reads_and_writes() {
        let mut slot = Slot::new(true);
        slot.on_data(&frame(None, b"dropped"), 1024);
        slot.on_data(&frame(Some(Flag::Reset), &[]), 1024);
        assert!(matches!(read_all(&mut slot), Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset));
        assert_eq!(slot.write_error(false).unwrap().kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(slot.farewell(), None);
    }

    #[test]
    fn stop_sending_fails_writes_only() {
        let mut slot = Slot::new(true);
        slot.on_data(&frame(Some(Flag::StopSending), &[]), 1024);
        assert_eq!(slot.write_error(false).unwrap().kind(), io::ErrorKind::BrokenPipe);
        slot.on_data(&frame(None, b"still readable"), 1024);
        assert!(matches!(read_all(&mut slot), Poll::Ready(Ok(data)) if data == b"still readable"));
    }

    #[test]
    fn a_flood_past_the_buffer_resets_the_stream() {
        let mut slot = Slot::new(true);
        assert_eq!(slot.on_data(&frame(None, &[1; 600]), 1000), Reply::None);
        assert_eq!(slot.on_data(&frame(None, &[2; 600]), 1000), Reply::Reset);
        assert!(matches!(read_all(&mut slot), Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset));
    }

    #[test]
    fn an_oversized_or_malformed_frame_resets_the_stream() {
        let mut oversized = Vec::new();
        strata_core::varint::encode(message::MAX_MESSAGE_SIZE as u64, &mut oversized);
        let mut slot = Slot::new(true);
        assert_eq!(slot.on_data(&oversized, usize::MAX), Reply::Reset);
        let mut slot = Slot::new(true);
        assert_eq!(slot.on_data(&[0x02, 0x08, 0x09], usize::MAX), Reply::Reset, "unknown flag");
    }

    #[test]
    fn a_closed_channel_ends_reads_with_an_error_unless_finished() {
        let mut slot = Slot::new(true);
        slot.closed = true;
        assert!(matches!(read_all(&mut slot), Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset));
        let mut slot = Slot::new(true);
        slot.on_data(&frame(Some(Flag::Fin), b"done"), 1024);
        slot.closed = true;
        assert!(matches!(read_all(&mut slot), Poll::Ready(Ok(data)) if data == b"done"));
    }
}
