//! The muxer layer of the recording: frames inside the encryption, and the
//! streams they carry.
//!
//! yamux (`libp2p-yamux.md`, the yamux spec's "Framing"): a 12-byte header
//! `version | type | flags | stream id | length`, then `length` bytes for
//! a Data frame. Odd stream ids are the dialer's, even ones the
//! listener's, 0 is the session. mplex (`libp2p-mplex.md`): a varint
//! `stream id << 3 | flag`, a varint length, the data; each side numbers
//! its own streams, the flag says whose a stream is.
//!
//! Both directions are decoded with the crates' own decoders
//! (`strata::yamux::Decoder`, `strata::mplex::frame::decode`), then put
//! back in the order they crossed; each stream's data becomes two flows
//! (opener's, responder's) for the stream's own reader.

use std::{collections::BTreeMap, fmt::Write as _};

use bytes::BytesMut;
use strata::{mplex, yamux};

use crate::{
    scenario::{Muxer, Side},
    wire::{Flow, arrow, hex, other, short},
};

/// A stream: who opened it, and its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StreamKey {
    /// The node that opened it.
    pub(crate) opener: Side,
    /// Its id (yamux) or number (mplex).
    pub(crate) id: u64,
}

/// One decoded frame.
struct MuxFrame {
    order: usize,
    from: Side,
    stream: Option<StreamKey>,
    line: String,
    data: Vec<u8>,
}

/// One stream: its frames and its data each way.
pub(crate) struct MuxStream {
    /// Which stream.
    pub(crate) key: StreamKey,
    /// Its frames, shown.
    pub(crate) frames: Vec<String>,
    /// What its opener sent.
    pub(crate) opener: Flow,
    /// What the other node sent.
    pub(crate) responder: Flow,
}

/// The whole muxer layer: every frame in order, and the streams.
pub(crate) struct Frames {
    /// Every frame, shown, in order.
    pub(crate) lines: Vec<String>,
    /// The streams, in the order they opened.
    pub(crate) streams: Vec<MuxStream>,
}

/// Decodes both directions from the given offsets (after the muxer's
/// multistream-select negotiation).
pub(crate) fn decode(muxer: Muxer, dialer: (&Flow, usize), listener: (&Flow, usize), raw: bool) -> Frames {
    let mut frames = Vec::new();
    for (flow, offset, from) in [(dialer.0, dialer.1, Side::Dialer), (listener.0, listener.1, Side::Listener)] {
        match muxer {
            Muxer::Yamux => yamux_frames(flow, offset, from, raw, &mut frames),
            Muxer::Mplex => mplex_frames(flow, offset, from, raw, &mut frames),
        }
    }
    frames.sort_by_key(|frame| frame.order);
    let mut streams: Vec<MuxStream> = Vec::new();
    let mut index: BTreeMap<StreamKey, usize> = BTreeMap::new();
    for frame in &frames {
        let Some(key) = frame.stream else { continue };
        let at = *index.entry(key).or_insert_with(|| {
            streams.push(MuxStream { key, frames: Vec::new(), opener: Flow::default(), responder: Flow::default() });
            streams.len() - 1
        });
        let stream = &mut streams[at];
        stream.frames.push(frame.line.clone());
        if !frame.data.is_empty() {
            let flow = if frame.from == key.opener { &mut stream.opener } else { &mut stream.responder };
            flow.push(&frame.data, frame.order);
        }
    }
    Frames { lines: frames.into_iter().map(|frame| frame.line).collect(), streams }
}

fn yamux_frames(flow: &Flow, offset: usize, from: Side, raw: bool, out: &mut Vec<MuxFrame>) {
    let decoder = yamux::Decoder::new(16 << 20);
    let mut buf = BytesMut::from(&flow.bytes[offset.min(flow.bytes.len())..]);
    let mut at = offset;
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        let header = frame.header;
        let len = yamux::frame::HEADER_LEN + frame.payload.len();
        at += len;
        let flags = [
            (yamux::Flags::SYN, "SYN"),
            (yamux::Flags::ACK, "ACK"),
            (yamux::Flags::FIN, "FIN"),
            (yamux::Flags::RST, "RST"),
        ]
        .iter()
        .filter(|(flag, _)| header.flags.contains(*flag))
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join("|");
        let flags = if flags.is_empty() { "-".to_owned() } else { flags };
        let what = match header.kind {
            yamux::Type::Data => {
                format!("Data         stream {} flags {flags} length {}", header.stream, header.length)
            }
            yamux::Type::WindowUpdate => {
                format!("WindowUpdate stream {} flags {flags} delta {}", header.stream, header.length)
            }
            yamux::Type::Ping => format!("Ping         flags {flags} opaque {}", header.length),
            yamux::Type::GoAway => format!("GoAway       code {} (0 = normal)", header.length),
        };
        let mut line = format!("{}  {}  {what}", arrow(from), hex(&header.to_bytes()));
        if !frame.payload.is_empty() {
            let _ = write!(line, "  data {}", short(&frame.payload, raw));
        }
        let stream = (header.stream != 0).then(|| StreamKey {
            opener: if header.stream % 2 == 1 { Side::Dialer } else { Side::Listener },
            id: u64::from(header.stream),
        });
        out.push(MuxFrame { order: flow.order_at(at), from, stream, line, data: frame.payload.to_vec() });
    }
}

fn mplex_frames(flow: &Flow, offset: usize, from: Side, raw: bool, out: &mut Vec<MuxFrame>) {
    let mut buf = BytesMut::from(&flow.bytes[offset.min(flow.bytes.len())..]);
    let mut at = offset;
    loop {
        let before = buf.len();
        let Ok(Some(frame)) = mplex::frame::decode(&mut buf, mplex::MAX_FRAME_LEN) else { break };
        let whole = &flow.bytes[at..at + (before - buf.len())];
        at += whole.len();
        let head = &whole[..whole.len() - frame.data.len()];
        // `ours` is the receiver's view: the receiver opened it.
        let opener = if frame.id.ours { other(from) } else { from };
        let flag = frame.flag();
        let what = match frame.kind {
            mplex::frame::Kind::Open => {
                format!("NewStream (flag 0) stream {} name {:?}", frame.id.num, String::from_utf8_lossy(&frame.data))
            }
            mplex::frame::Kind::Data => {
                format!("Message   (flag {flag}) stream {} length {}", frame.id.num, frame.data.len())
            }
            mplex::frame::Kind::Close => format!("Close     (flag {flag}) stream {}", frame.id.num),
            mplex::frame::Kind::Reset => format!("Reset     (flag {flag}) stream {}", frame.id.num),
        };
        let mut line = format!("{}  {}  {what}", arrow(from), hex(head));
        let data = if frame.kind == mplex::frame::Kind::Data { frame.data.to_vec() } else { Vec::new() };
        if !data.is_empty() {
            let _ = write!(line, "  data {}", short(&data, raw));
        }
        let stream = Some(StreamKey { opener, id: frame.id.num });
        out.push(MuxFrame { order: flow.order_at(at), from, stream, line, data });
    }
}
