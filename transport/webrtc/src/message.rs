//! The framing of every data channel: length-prefixed protobuf `Message`s.
//!
//! Spec: `libp2p-webrtc.md` / the WebRTC README, "Multiplexing". A data
//! channel is one libp2p stream; what travels on it is a sequence of
//!
//! ```text
//! <uvarint length><protobuf Message>
//!
//! message Message {
//!   enum Flag { FIN = 0; STOP_SENDING = 1; RESET = 2; FIN_ACK = 3; }
//!   optional Flag  flag    = 1;
//!   optional bytes message = 2;
//! }
//! ```
//!
//! The whole frame (prefix included) is at most 16 KiB (the
//! `a=max-message-size:16384` both sides announce), so a payload is at most
//! [`MAX_PAYLOAD`] bytes. The [`Decoder`] treats a channel as a byte stream
//! (a sender may split or join frames across SCTP messages) and refuses a
//! frame whose announced length is over the limit *before* buffering it.
//!
//! Pure: bytes in, messages out; fuzzed by `fuzz_targets/webrtc_message.rs`.

use bytes::{Buf, Bytes, BytesMut};
use prost::Message as _;
use strata_core::varint;

/// The longest frame, length prefix included (`a=max-message-size:16384`).
pub const MAX_MESSAGE_SIZE: usize = 16 * 1024;

/// The most a frame's overhead can be: a 2-byte length prefix (16 KiB
/// needs two varint bytes), the flag field (2 bytes), the payload's tag
/// (1 byte) and its 2-byte length.
const MAX_OVERHEAD: usize = 2 + 2 + 1 + 2;

/// The longest payload one frame carries.
pub const MAX_PAYLOAD: usize = MAX_MESSAGE_SIZE - MAX_OVERHEAD;

/// A stream-level signal carried beside (or instead of) data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    /// The sender writes no more on this stream.
    Fin,
    /// The sender reads no more: data it receives is discarded.
    StopSending,
    /// The sender abruptly ends the stream; buffered data may be dropped.
    Reset,
    /// Acknowledges a received `Fin`.
    FinAck,
}

impl Flag {
    fn to_wire(self) -> i32 {
        match self {
            Self::Fin => 0,
            Self::StopSending => 1,
            Self::Reset => 2,
            Self::FinAck => 3,
        }
    }

    fn from_wire(value: i32) -> Option<Self> {
        Some(match value {
            0 => Self::Fin,
            1 => Self::StopSending,
            2 => Self::Reset,
            3 => Self::FinAck,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The flag, if any.
    pub flag: Option<Flag>,
    /// The payload (empty when the frame carries none).
    pub data: Bytes,
}

/// The protobuf form.
#[derive(Clone, PartialEq, prost::Message)]
struct Wire {
    #[prost(int32, optional, tag = "1")]
    flag: Option<i32>,
    #[prost(bytes = "bytes", optional, tag = "2")]
    message: Option<Bytes>,
}

/// What a peer can get wrong in a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The announced frame length is over [`MAX_MESSAGE_SIZE`].
    #[error("webrtc message of {len} bytes is over the {max}-byte limit")]
    TooLong {
        /// The announced length (prefix excluded).
        len: usize,
        /// The limit (prefix excluded).
        max: usize,
    },
    /// The length prefix is not a valid varint.
    #[error("invalid length prefix")]
    BadLength,
    /// The frame is not a protobuf `Message`.
    #[error("not a protobuf Message")]
    BadProtobuf,
    /// The flag is not one the spec defines.
    #[error("unknown flag {0}")]
    UnknownFlag(i32),
}

/// Encodes one frame into `out`. A payload over [`MAX_PAYLOAD`] is the
/// caller's bug: it is cut to the limit (callers chunk their writes).
pub fn encode(flag: Option<Flag>, data: &[u8], out: &mut Vec<u8>) {
    let data = &data[..data.len().min(MAX_PAYLOAD)];
    let wire =
        Wire { flag: flag.map(Flag::to_wire), message: (!data.is_empty()).then(|| Bytes::copy_from_slice(data)) };
    let len = wire.encoded_len();
    out.reserve(varint::encoded_len(len as u64) + len);
    varint::encode(len as u64, out);
    // Encoding into a Vec cannot run out of room.
    let _ = wire.encode(out);
}

/// Decodes one frame body (without its length prefix).
pub fn decode_body(body: &[u8]) -> Result<Message, FrameError> {
    let wire = Wire::decode(body).map_err(|_| FrameError::BadProtobuf)?;
    let flag = match wire.flag {
        None => None,
        Some(value) => Some(Flag::from_wire(value).ok_or(FrameError::UnknownFlag(value))?),
    };
    Ok(Message { flag, data: wire.message.unwrap_or_default() })
}

/// Splits a byte stream into frames, holding at most one partial frame.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes wait for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed. After
    /// an error the stream is unusable (framing is lost).
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        let max = MAX_MESSAGE_SIZE - 2;
        let Some((len, prefix)) = varint::decode_partial(&self.buf).map_err(|_| FrameError::BadLength)? else {
            if self.buf.len() > 3 {
                return Err(FrameError::BadLength); // 16 KiB never needs more than 3 bytes
            }
            return Ok(None);
        };
        let len = usize::try_from(len).map_err(|_| FrameError::BadLength)?;
        if len > max {
            return Err(FrameError::TooLong { len, max });
        }
        if self.buf.len() < prefix + len {
            return Ok(None);
        }
        self.buf.advance(prefix);
        let body = self.buf.split_to(len);
        if self.buf.is_empty() {
            self.buf = BytesMut::new(); // idle: let the memory go
        }
        decode_body(&body).map(Some)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn frame(flag: Option<Flag>, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(flag, data, &mut out);
        out
    }

    #[test]
    fn frames_round_trip_split_and_joined() {
        let messages = [
            (None, b"hello".to_vec()),
            (Some(Flag::Fin), Vec::new()),
            (Some(Flag::StopSending), Vec::new()),
            (Some(Flag::Reset), Vec::new()),
            (Some(Flag::FinAck), Vec::new()),
            (Some(Flag::Fin), b"last words".to_vec()),
            (None, vec![7; MAX_PAYLOAD]),
        ];
        let stream: Vec<u8> = messages.iter().flat_map(|(flag, data)| frame(*flag, data)).collect();
        // Byte by byte: any split of the stream decodes the same.
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for byte in &stream {
            decoder.extend(std::slice::from_ref(byte));
            while let Some(message) = decoder.next_message().unwrap() {
                out.push((message.flag, message.data.to_vec()));
            }
        }
        assert_eq!(out, messages);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn the_largest_frame_fits_the_limit() {
        let largest = frame(Some(Flag::Fin), &vec![1; MAX_PAYLOAD]);
        assert!(largest.len() <= MAX_MESSAGE_SIZE, "{}", largest.len());
        // Longer payloads are cut, never sent over the limit.
        assert_eq!(frame(None, &vec![1; MAX_PAYLOAD + 100]).len(), frame(None, &vec![1; MAX_PAYLOAD]).len());
    }

    #[test]
    fn pinned_bytes() {
        // FIN alone: length 2, field 1 varint 0.
        assert_eq!(frame(Some(Flag::Fin), &[]), [0x02, 0x08, 0x00]);
        // "hi": length 4, field 2 length-delimited.
        assert_eq!(frame(None, b"hi"), [0x04, 0x12, 0x02, b'h', b'i']);
        // An empty frame is a valid Message with neither field.
        let mut decoder = Decoder::new();
        decoder.extend(&[0x00]);
        assert_eq!(decoder.next_message().unwrap(), Some(Message::default()));
    }

    #[test]
    fn oversized_frames_are_refused_before_they_are_buffered() {
        let mut decoder = Decoder::new();
        let mut prefix = Vec::new();
        varint::encode(MAX_MESSAGE_SIZE as u64, &mut prefix);
        decoder.extend(&prefix);
        let error = decoder.next_message().unwrap_err();
        assert_eq!(error, FrameError::TooLong { len: MAX_MESSAGE_SIZE, max: MAX_MESSAGE_SIZE - 2 });
        assert!(error.to_string().contains("over the"), "{error}");
        // A varint that never ends.
        let mut decoder = Decoder::new();
        decoder.extend(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decoder.next_message().unwrap_err(), FrameError::BadLength);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        // Field 1 with an unknown flag value.
        assert_eq!(decode_body(&[0x08, 0x09]), Err(FrameError::UnknownFlag(9)));
        // A truncated length-delimited field.
        assert_eq!(decode_body(&[0x12, 0x05, 1]), Err(FrameError::BadProtobuf));
        // Garbage.
        assert_eq!(decode_body(&[0xff]), Err(FrameError::BadProtobuf));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for round in 0..3000 {
            let mut decoder = Decoder::new();
            let bytes: Vec<u8> = (0..round % 64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            decoder.extend(&bytes);
            while let Ok(Some(_)) = decoder.next_message() {}
        }
    }
}
