//! When a connection stops reading its socket, and how much the remote
//! may make it hold: the connection's receive budget, the frames the
//! remote provoked and has not read (resets of streams it opened past the
//! limit or overflowed), and a stream full under
//! [`Overflow::Block`](crate::Overflow::Block). Part of the state machine
//! (no I/O); the driver asks between frames (and checks the node's
//! memory budget itself).

use super::Session;
use crate::frame::{Kind, StreamId};

impl Session {
    /// Queues a frame the remote's own action calls for (a reset it
    /// provoked): counted as owed until written, so that a remote that
    /// provokes them without reading gets its input paused.
    pub(super) fn queue_owed(&mut self, kind: Kind, id: StreamId) {
        let before = self.outbound.total();
        self.queue(kind, id, &[]);
        let len = usize::try_from(self.outbound.total() - before).unwrap_or(usize::MAX);
        self.control_marks.push_back((self.outbound.total(), len));
        self.control_owed += len;
    }

    /// The first `total` bytes ever queued are written: forget what was
    /// owed among them.
    pub(super) fn release_owed(&mut self, total: u64) {
        while let Some(&(end, len)) = self.control_marks.front() {
            if end > total {
                break;
            }
            self.control_marks.pop_front();
            self.control_owed -= len;
        }
    }

    /// Whether the driver must stop reading: the connection's unread
    /// bytes are over budget; or the frames the remote made us owe it
    /// (resets it provoked) pass the outbound queue's size unwritten, so a
    /// remote that provokes them without reading gets nothing more read
    /// either; or a stream's buffer is full under [`Overflow::Block`](crate::Overflow::Block).
    ///
    /// Only frames the remote provoked count: a full queue of our own data
    /// must not stop reading, or two peers writing to each other at once
    /// would each wait for the other to read.
    pub(crate) fn reading_blocked(&mut self) -> bool {
        if self.recv_total > self.config.max_connection_buffer || self.owes_too_much() {
            return true;
        }
        let Some(id) = self.blocked_on else { return false };
        let max = self.config.max_buffer;
        match self.streams.get(&id) {
            Some(stream)
                if stream.state != strata_core::StreamState::Reset && !stream.dropped && stream.recv.len() > max =>
            {
                true
            }
            _ => {
                self.blocked_on = None;
                false
            }
        }
    }

    /// Whether the frames the remote provoked and has not read pass the
    /// bound (reading is paused for them).
    pub(crate) fn owes_too_much(&self) -> bool {
        self.control_owed >= self.config.connection.max_outbound_queue
    }
}
