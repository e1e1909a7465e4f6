//! One stream's side of a session: its half-close state, its two windows
//! and what arrived but was not read yet.
//!
//! The receive window grows with the bandwidth-delay product: when the
//! reader consumed half its window within two round trips of the previous
//! update, the window limits the sender, so it doubles (up to the per
//! stream maximum and while the session's total allows). Two round trips
//! are never taken as less than [`GROWTH_FLOOR`]: on loopback or a LAN the
//! measured round trip is mostly scheduling noise, and a stream that moves
//! half a window per millisecond is fast by any measure.

use std::time::{Duration, Instant};

use strata_core::{StreamState, muxer::RecvBuffer};

use crate::{INITIAL_WINDOW, frame::Flags};

/// The shortest time between window updates below which a window always
/// counts as limiting the sender.
pub(super) const GROWTH_FLOOR: Duration = Duration::from_millis(1);

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) state: StreamState,
    /// A SYN (ours) or ACK (theirs) that goes with the next frame.
    pub(super) open_flags: Flags,
    /// We opened it and the remote has not acknowledged it yet.
    pub(super) awaiting_ack: bool,
    /// The handle is gone: what arrives is dropped.
    pub(super) dropped: bool,
    /// What we may still send.
    pub(super) send_window: u32,
    /// What the remote may still send.
    pub(super) recv_window: u32,
    /// The receive window we grant in full (grows with the BDP).
    pub(super) window: u32,
    /// Bytes read since the last window update.
    pub(super) consumed: u32,
    /// When the last window update went out (or the stream opened).
    pub(super) last_update: Instant,
    pub(super) recv: RecvBuffer,
}

impl Stream {
    pub(super) fn new(ours: bool, now: Instant) -> Self {
        Self {
            state: StreamState::Open,
            open_flags: if ours { Flags::SYN } else { Flags::ACK },
            awaiting_ack: ours,
            dropped: false,
            send_window: INITIAL_WINDOW,
            recv_window: INITIAL_WINDOW,
            window: INITIAL_WINDOW,
            consumed: 0,
            last_update: now,
            recv: RecvBuffer::default(),
        }
    }

    /// The flags the next outgoing frame carries (SYN or ACK, once).
    pub(super) fn take_open_flags(&mut self) -> Flags {
        std::mem::replace(&mut self.open_flags, Flags::NONE)
    }

    /// Hands up to `max` buffered bytes to `put`, in order; returns how many.
    pub(super) fn read_into(&mut self, max: usize, put: impl FnMut(&[u8])) -> usize {
        let n = self.recv.read_into(max, put);
        self.consumed = self.consumed.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        n
    }

    /// Drops what was buffered; returns how many bytes that freed.
    pub(super) fn discard(&mut self) -> usize {
        self.recv.clear()
    }

    /// The window update due after a read, if half the window was
    /// consumed: the bytes to grant. `room` is how much the session lets
    /// this window grow; `rtt` the measured round trip, if any.
    pub(super) fn window_update(&mut self, now: Instant, rtt: Option<Duration>, max: u32, room: u32) -> Option<u32> {
        if self.consumed < self.window / 2 || !self.state.can_receive() {
            return None;
        }
        let mut delta = std::mem::take(&mut self.consumed);
        let horizon = rtt.map_or(GROWTH_FLOOR, |rtt| (rtt * 2).max(GROWTH_FLOOR));
        let quick = now.saturating_duration_since(self.last_update) < horizon;
        if quick {
            let growth = self.window.min(max.saturating_sub(self.window)).min(room);
            self.window += growth;
            delta += growth;
        }
        self.last_update = now;
        self.recv_window = self.recv_window.saturating_add(delta);
        Some(delta)
    }

    /// Whether the stream can be forgotten: its handle is gone and it is
    /// over both ways (closed or reset).
    pub(super) fn finished(&self) -> bool {
        self.dropped && self.state.is_over()
    }
}
