//! The recording as byte flows, and what every layer's reader shares:
//! hex, multistream-select messages.
//!
//! A [`Flow`] is one direction of one layer (say, the dialer's raw bytes)
//! as one byte string, remembering which record each byte came from, so
//! that a reader can put items from both directions back in the order
//! they crossed. multistream-select (`multistream-select.md`) is read the
//! same way at all three places it runs: before Noise, inside it for the
//! muxer, and at the start of every stream.

use strata::{
    core::varint,
    record::{Direction, Record, Tap},
};

use crate::scenario::Side;

/// One direction of one layer: its bytes, and where each record's bytes
/// end (`(end offset, record index)`, ascending).
#[derive(Default)]
pub(crate) struct Flow {
    /// The bytes, concatenated.
    pub(crate) bytes: Vec<u8>,
    ends: Vec<(usize, usize)>,
}

impl Flow {
    /// The bytes of connection 1 at `tap` going `direction`.
    pub(crate) fn recorded(records: &[Record], tap: Tap, direction: Direction) -> Self {
        let mut flow = Self::default();
        for (index, record) in records.iter().enumerate() {
            if let Record::Data(chunk) = record
                && chunk.connection == 1
                && chunk.tap == tap
                && chunk.direction == direction
            {
                flow.push(&chunk.bytes, index);
            }
        }
        flow
    }

    /// Appends bytes that arrived at position `order`.
    pub(crate) fn push(&mut self, bytes: &[u8], order: usize) {
        self.bytes.extend_from_slice(bytes);
        self.ends.push((self.bytes.len(), order));
    }

    /// When the byte before `end` arrived: the order of an item ending there.
    pub(crate) fn order_at(&self, end: usize) -> usize {
        let index = self.ends.partition_point(|(chunk_end, _)| *chunk_end < end);
        self.ends.get(index).map_or(usize::MAX, |(_, order)| *order)
    }
}

/// Which way bytes go, for humans.
pub(crate) fn arrow(from: Side) -> &'static str {
    match from {
        Side::Dialer => "dialer → listener",
        Side::Listener => "listener → dialer",
    }
}

/// The other node.
pub(crate) fn other(side: Side) -> Side {
    match side {
        Side::Dialer => Side::Listener,
        Side::Listener => Side::Dialer,
    }
}

/// Lower-case hex, no spaces.
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Hex, abbreviated past 24 bytes to the first 12 and the last 4 (unless
/// `raw`).
pub(crate) fn short(bytes: &[u8], raw: bool) -> String {
    if raw || bytes.len() <= 24 {
        hex(bytes)
    } else {
        format!("{}…{}", hex(&bytes[..12]), hex(&bytes[bytes.len() - 4..]))
    }
}

/// Text for humans: printable ASCII as is, the rest escaped.
pub(crate) fn quoted(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// One multistream-select message: a varint length, then a line ending
/// in `\n`.
pub(crate) struct Message {
    /// Where it starts in its flow.
    pub(crate) start: usize,
    /// Where it ends.
    pub(crate) end: usize,
    /// The line, without its `\n`.
    pub(crate) text: String,
}

/// Reads the message at `offset` of `bytes`, if a whole one is there.
fn message_at(bytes: &[u8], offset: usize) -> Option<Message> {
    let rest = bytes.get(offset..)?;
    let (len, after) = varint::decode_len(rest).ok()?;
    let body = after.get(..len)?;
    let text = String::from_utf8_lossy(body.strip_suffix(b"\n")?).into_owned();
    Some(Message { start: offset, end: offset + (rest.len() - after.len()) + len, text })
}

/// One multistream-select negotiation, read from both sides' bytes.
pub(crate) struct Negotiation {
    /// What the opener (dialer of the connection, or opener of the stream) sent.
    pub(crate) opener: Vec<Message>,
    /// What the responder sent.
    pub(crate) responder: Vec<Message>,
    /// The protocol agreed on, if they agreed.
    pub(crate) protocol: Option<String>,
}

impl Negotiation {
    /// Where the opener's negotiation ends in its flow.
    pub(crate) fn opener_end(&self) -> usize {
        self.opener.last().map_or(0, |message| message.end)
    }

    /// Where the responder's negotiation ends in its flow.
    pub(crate) fn responder_end(&self) -> usize {
        self.responder.last().map_or(0, |message| message.end)
    }
}

/// Reads a negotiation starting at `opener_from` and `responder_from`:
/// the responder's header, then `na` or the accepted protocol; the
/// opener's header, then proposals up to the accepted one.
pub(crate) fn negotiate(opener: &[u8], opener_from: usize, responder: &[u8], responder_from: usize) -> Negotiation {
    let mut responses = Vec::new();
    let mut protocol = None;
    let mut at = responder_from;
    while let Some(message) = message_at(responder, at) {
        at = message.end;
        let first = responses.is_empty();
        let accepted = !first && message.text != "na";
        if accepted {
            protocol = Some(message.text.clone());
        }
        responses.push(message);
        if accepted {
            break;
        }
    }
    let mut proposals = Vec::new();
    let mut at = opener_from;
    while let Some(message) = message_at(opener, at) {
        at = message.end;
        let done = !proposals.is_empty() && Some(&message.text) == protocol.as_ref();
        proposals.push(message);
        if done || (protocol.is_none() && proposals.len() > 8) {
            break;
        }
    }
    Negotiation { opener: proposals, responder: responses, protocol }
}

/// The lines showing a negotiation, in the order they crossed: each
/// message as its length varint, its bytes and its text, then its meaning.
pub(crate) fn negotiation_lines(
    negotiation: &Negotiation,
    opener: Side,
    opener_flow: &Flow,
    responder_flow: &Flow,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (messages, flow, from) in
        [(&negotiation.opener, opener_flow, opener), (&negotiation.responder, responder_flow, other(opener))]
    {
        for (index, message) in messages.iter().enumerate() {
            let bytes = &flow.bytes[message.start..message.end];
            let body_at = bytes.len() - message.text.len() - 1;
            let meaning = match (index, message.text.as_str(), from == opener) {
                (0, _, _) => "header: this side speaks multistream-select 1.0".to_owned(),
                (_, "na", _) => "na: not available, try another".to_owned(),
                (_, text, true) => format!("proposes {text}"),
                (_, text, false) => format!("accepts {text} by echoing it"),
            };
            let line = format!(
                "{}  {} {}  {}  {meaning}",
                arrow(from),
                hex(&bytes[..body_at]),
                hex(&bytes[body_at..]),
                quoted(&bytes[body_at..])
            );
            lines.push((flow.order_at(message.end), line));
        }
    }
    lines.sort_by_key(|(order, _)| *order);
    lines.into_iter().map(|(_, line)| line).collect()
}
