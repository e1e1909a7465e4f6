//! mplex frames as bytes: encode and decode, no I/O.
//!
//! Spec: `libp2p-mplex.md`, "Message format" and "Flag Values". A frame is
//!
//! ```text
//! | header: uvarint (stream id << 3 | flag) | length: uvarint | data |
//! ```
//!
//! with the flag saying what the frame does and *who opened the stream*,
//! seen from the sender: both sides number their own streams from 0, so
//! stream 5 opened by us and stream 5 opened by the remote are different
//! streams, told apart by the flag.
//!
//! | flag | meaning | sender opened the stream? |
//! |---|---|---|
//! | 0 | `NewStream` (data = a name) | yes |
//! | 1 / 2 | Message (Receiver / Initiator) | no / yes |
//! | 3 / 4 | Close (Receiver / Initiator) | no / yes |
//! | 5 / 6 | Reset (Receiver / Initiator) | no / yes |
//!
//! [`StreamId`] holds the number and, from *our* side, whether we opened
//! the stream; encoding and decoding translate between the two views.
//!
//! [`decode`] is public for tools that read recorded mplex traffic (the
//! anatomy example); the connection is the only encoder.

use bytes::{Buf, Bytes, BytesMut};
use strata_core::varint;

/// The largest data segment the spec allows ("up to 1MiB per message").
pub const MAX_FRAME_LEN: usize = 1 << 20;

/// A stream on this connection, as we see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// The number its opener gave it.
    pub num: u64,
    /// Whether we (the receiver of the frame) opened it.
    pub ours: bool,
}

/// What a frame does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Opens a stream (always sent by its opener).
    Open,
    /// Carries data.
    Data,
    /// Half-closes: the sender writes no more.
    Close,
    /// Aborts the stream in both directions.
    Reset,
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// What it does.
    pub kind: Kind,
    /// Its stream, seen from the receiver.
    pub id: StreamId,
    /// The data segment (a stream name for `Open`).
    pub data: Bytes,
}

impl Frame {
    /// The flag (0 to 6) its sender put in the header.
    pub fn flag(&self) -> u64 {
        header(self.kind, StreamId { num: self.id.num, ours: !self.id.ours }) & 0b111
    }
}

/// Why bytes from the remote are not an mplex frame. Any of these ends the
/// connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header or length varint is malformed (too long, not minimal).
    #[error("malformed varint in a frame header")]
    Varint,
    /// The flag is 7, which mplex does not define.
    #[error("unknown frame flag {0}")]
    UnknownFlag(u64),
    /// The data segment is longer than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The announced length.
        len: u64,
        /// The limit.
        max: usize,
    },
}

/// The header varint of a frame we send.
fn header(kind: Kind, id: StreamId) -> u64 {
    let flag = match (kind, id.ours) {
        (Kind::Open, _) => 0,
        (Kind::Data, false) => 1,
        (Kind::Data, true) => 2,
        (Kind::Close, false) => 3,
        (Kind::Close, true) => 4,
        (Kind::Reset, false) => 5,
        (Kind::Reset, true) => 6,
    };
    (id.num << 3) | flag
}

/// Appends a frame we send to `out`. No allocation but `out`'s own growth:
/// this runs for every frame.
pub(crate) fn encode(kind: Kind, id: StreamId, data: &[u8], out: &mut BytesMut) {
    let (mut header_buf, mut len_buf) = ([0u8; 10], [0u8; 10]);
    let header = varint::encode_to_slice(header(kind, id), &mut header_buf);
    let len = varint::encode_to_slice(data.len() as u64, &mut len_buf);
    out.reserve(header.len() + len.len() + data.len());
    out.extend_from_slice(header);
    out.extend_from_slice(len);
    out.extend_from_slice(data);
}

/// Takes one complete frame from the front of `buf`, if there is one, as
/// its receiver sees it. `Ok(None)` means "more bytes needed"; nothing is
/// consumed then.
pub fn decode(buf: &mut BytesMut, max_len: usize) -> Result<Option<Frame>, FrameError> {
    let Some((header, header_len)) = varint::decode_partial(buf).map_err(|_| FrameError::Varint)? else {
        return Ok(None);
    };
    let rest = buf.get(header_len..).unwrap_or_default();
    let Some((len, len_len)) = varint::decode_partial(rest).map_err(|_| FrameError::Varint)? else {
        return Ok(None);
    };
    let len = match usize::try_from(len) {
        Ok(len) if len <= max_len => len,
        _ => return Err(FrameError::TooLarge { len, max: max_len }),
    };
    let (num, flag) = (header >> 3, header & 0b111);
    let (kind, ours) = match flag {
        0 => (Kind::Open, false),
        1 => (Kind::Data, true),
        2 => (Kind::Data, false),
        3 => (Kind::Close, true),
        4 => (Kind::Close, false),
        5 => (Kind::Reset, true),
        6 => (Kind::Reset, false),
        other => return Err(FrameError::UnknownFlag(other)),
    };
    if buf.len() < header_len + len_len + len {
        return Ok(None);
    }
    // The payload is copied out, not split off (as yamux does): a split-off
    // payload would pin `buf`'s whole allocation (64 KiB a socket read)
    // until the application reads it, so a peer trickling one-byte frames
    // over many streams could hold 64 KiB for each byte the budgets count.
    let start = header_len + len_len;
    let data = Bytes::copy_from_slice(&buf[start..start + len]);
    buf.advance(start + len);
    Ok(Some(Frame { kind, id: StreamId { num, ours }, data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(num: u64) -> StreamId {
        StreamId { num, ours: true }
    }

    #[test]
    fn spec_header_layout() {
        // header = id << 3 | flag: stream 17, MessageInitiator (2) from the opener.
        let mut out = BytesMut::new();
        encode(Kind::Data, ours(17), b"hi", &mut out);
        assert_eq!(&out[..], &[0x8a, 0x01, 0x02, b'h', b'i']);
        // NewStream of stream 0 named "0".
        out.clear();
        encode(Kind::Open, ours(0), b"0", &mut out);
        assert_eq!(&out[..], &[0x00, 0x01, b'0']);
    }

    #[test]
    fn the_receiver_sees_the_senders_flags_from_its_own_side() {
        let mut wire = BytesMut::new();
        encode(Kind::Open, ours(3), b"", &mut wire);
        encode(Kind::Data, ours(3), b"x", &mut wire);
        encode(Kind::Data, StreamId { num: 3, ours: false }, b"y", &mut wire);
        encode(Kind::Close, ours(3), b"", &mut wire);
        encode(Kind::Reset, StreamId { num: 4, ours: false }, b"", &mut wire);
        let theirs = StreamId { num: 3, ours: false };
        let mut got = Vec::new();
        while let Some(frame) = decode(&mut wire, MAX_FRAME_LEN).unwrap() {
            got.push((frame.kind, frame.id, frame.data));
        }
        assert_eq!(
            got,
            [
                (Kind::Open, theirs, Bytes::new()),
                (Kind::Data, theirs, Bytes::from_static(b"x")),
                (Kind::Data, ours(3), Bytes::from_static(b"y")),
                (Kind::Close, theirs, Bytes::new()),
                (Kind::Reset, ours(4), Bytes::new()),
            ]
        );
    }

    #[test]
    fn partial_frames_wait_and_bad_ones_fail() {
        let mut full = BytesMut::new();
        encode(Kind::Data, ours(1), &[7; 300], &mut full);
        for cut in 0..full.len() {
            let mut partial = BytesMut::from(&full[..cut]);
            assert_eq!(decode(&mut partial, MAX_FRAME_LEN).unwrap(), None);
            assert_eq!(partial.len(), cut, "nothing consumed");
        }
        assert!(matches!(
            decode(&mut BytesMut::from(&[0x07, 0x00][..]), MAX_FRAME_LEN),
            Err(FrameError::UnknownFlag(7))
        ));
        let mut huge = BytesMut::from(&[0x02, 0x80, 0x80, 0x80, 0x01][..]);
        assert!(matches!(decode(&mut huge, MAX_FRAME_LEN), Err(FrameError::TooLarge { .. })));
        assert!(matches!(decode(&mut BytesMut::from(&[0xff; 12][..]), MAX_FRAME_LEN), Err(FrameError::Varint)));
    }
}
