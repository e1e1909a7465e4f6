//! The two buffers of a session, sans-IO.
//!
//! - [`Outbound`]: encoded frames waiting for the socket, and how many
//!   bytes were ever queued (flushes wait on that count). The driver swaps
//!   the whole buffer out at once ([`Outbound::take`]), so frames of every
//!   stream leave in one write; once nothing more waits, the memory goes
//!   ([`Outbound::release_if_idle`]).
//! - [`RecvBuffer`]: what arrived on one stream and was not read, kept as
//!   the received chunks themselves (no copy until the application reads).

use std::collections::VecDeque;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Encoded frames waiting to be taken. See the module documentation.
#[derive(Debug, Default)]
pub struct Outbound {
    buf: BytesMut,
    total: u64,
}

impl Outbound {
    /// Makes room for `additional` bytes at once (one frame run, one
    /// reservation).
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Queues `bytes`.
    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.put_slice(bytes);
        self.total += bytes.len() as u64;
    }

    /// Queues what `encode` appends to the buffer.
    pub fn encode(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        let before = self.buf.len();
        encode(&mut self.buf);
        self.total += (self.buf.len() - before) as u64;
    }

    /// How many bytes wait to be taken.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// How many bytes were ever queued.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Swaps everything queued into `into` (which should be empty);
    /// returns whether there was anything.
    pub fn take(&mut self, into: &mut BytesMut) -> bool {
        if self.buf.is_empty() {
            return false;
        }
        std::mem::swap(&mut self.buf, into);
        true
    }

    /// Lets the buffer's memory go if nothing waits (an idle connection
    /// holds no buffer).
    pub fn release_if_idle(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }

    /// The queued bytes themselves, to decode them again (tests and tools).
    pub fn queued_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }
}

/// What arrived on one stream and was not read yet. See the module
/// documentation.
#[derive(Debug, Default)]
pub struct RecvBuffer {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl RecvBuffer {
    /// Keeps `data` (empty data is dropped).
    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    /// How many bytes wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hands up to `max` bytes to `put`, in order; returns how many.
    pub fn read_into(&mut self, max: usize, mut put: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < max {
            let Some(front) = self.chunks.front_mut() else { break };
            let take = front.len().min(max - n);
            put(&front[..take]);
            front.advance(take);
            n += take;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        self.len -= n;
        n
    }

    /// Drops everything (and the queue's memory); returns how many bytes
    /// that freed.
    pub fn clear(&mut self) -> usize {
        self.chunks = VecDeque::new();
        std::mem::take(&mut self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_spans_chunks_and_stops_at_its_maximum() {
        let mut buffer = RecvBuffer::default();
        buffer.push(Bytes::from_static(b"hel"));
        buffer.push(Bytes::new());
        buffer.push(Bytes::from_static(b"lo!"));
        let mut got = Vec::new();
        assert_eq!(buffer.read_into(5, |chunk| got.extend_from_slice(chunk)), 5);
        assert_eq!((got.as_slice(), buffer.len()), (&b"hello"[..], 1));
        assert_eq!(buffer.clear(), 1);
        assert!(buffer.is_empty());
    }

    #[test]
    fn the_outbound_total_counts_every_byte_ever_queued() {
        let mut outbound = Outbound::default();
        outbound.put(b"abc");
        outbound.encode(|buf| buf.extend_from_slice(b"de"));
        let mut taken = BytesMut::new();
        assert!(outbound.take(&mut taken));
        assert!(!outbound.take(&mut BytesMut::new()), "nothing more");
        assert_eq!((&taken[..], outbound.total(), outbound.len()), (&b"abcde"[..], 5, 0));
    }
}
