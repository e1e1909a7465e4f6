//! The Noise layer of the recording: the XX handshake and the transport
//! messages after it (`libp2p-noise.md`, "Wire Format", "Handshake
//! Pattern", "The libp2p Handshake Payload").
//!
//! Every Noise message is a 2-byte big-endian length and a body. The
//! handshake's three bodies are laid out by the XX pattern: `e` (32 bytes
//! in the clear), `s` (32 bytes + a 16-byte tag once a key exists), then
//! the payload (+ a tag). The recording sees only ciphertext; the
//! plaintext comes from the two nodes' Noise observers
//! (`noise::Config::with_handshake_observer`).

use std::fmt::Write as _;

use strata::noise::HandshakeMessage;

use crate::{
    protobuf::{self, NOISE_PAYLOAD},
    scenario::{Capture, Side},
    wire::{Flow, arrow, hex, other, short},
};

const TAG: usize = 16;
const KEY: usize = 32;
/// What each side signs with its identity key (`libp2p-noise.md`).
const STATIC_KEY_DOMAIN: &[u8] = b"noise-libp2p-static-key:";

/// A Noise message: where it is in its flow.
pub(crate) struct NoiseMessage {
    pub(crate) from: Side,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// The Noise messages of one direction from `offset` on.
pub(crate) fn messages(flow: &Flow, offset: usize, from: Side) -> Vec<NoiseMessage> {
    let mut out = Vec::new();
    let mut at = offset;
    while let Some(len) = flow.bytes.get(at..at + 2).map(|len| usize::from(u16::from_be_bytes([len[0], len[1]]))) {
        if at + 2 + len > flow.bytes.len() {
            break;
        }
        out.push(NoiseMessage { from, start: at, end: at + 2 + len });
        at += 2 + len;
    }
    out
}

/// The handshake section: messages 1 (dialer), 2 (listener), 3 (dialer).
pub(crate) fn handshake(
    capture: &Capture,
    dialer: (&Flow, &[NoiseMessage]),
    listener: (&Flow, &[NoiseMessage]),
    raw: bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let steps = [(1, dialer, 0, "-> e"), (2, listener, 0, "<- e, ee, s, es"), (3, dialer, 1, "-> s, se")];
    for (number, (flow, messages), index, tokens) in steps {
        let Some(message) = messages.get(index) else {
            lines.push(format!("message {number}: missing from the recording"));
            continue;
        };
        let bytes = &flow.bytes[message.start..message.end];
        let body = &bytes[2..];
        lines.push(format!("message {number}  {tokens}  {}, {} bytes", arrow(message.from), bytes.len()));
        lines.push(format!("  {}  length: {}", hex(&bytes[..2]), body.len()));
        let mut rest = body;
        if number < 3 {
            let (e, after) = rest.split_at(KEY.min(rest.len()));
            lines.push(format!(
                "  e        {}  the {} ephemeral public key, in the clear",
                short(e, raw),
                whose(message.from)
            ));
            rest = after;
        }
        let received = observed(capture, other(message.from), u8::try_from(number).unwrap_or(0));
        let sent = observed(capture, message.from, u8::try_from(number).unwrap_or(0));
        if number > 1 {
            let (s, after) = rest.split_at((KEY + TAG).min(rest.len()));
            lines.push(format!(
                "  s        {}  the {} static key, encrypted (32 bytes + 16-byte tag)",
                short(s, raw),
                whose(message.from)
            ));
            let known = received.and_then(|message| message.remote_static.clone());
            let expected = if message.from == Side::Dialer { &capture.statics.0 } else { &capture.statics.1 };
            if let Some(key) = known {
                let check = if &key == expected { "its static key" } else { "NOT its static key" };
                lines.push(format!("           decrypted: {}  ({check})", hex(&key)));
            }
            rest = after;
        }
        if rest.is_empty() {
            lines.push("  payload  (none)".to_owned());
        } else {
            let payload = sent.map(|message| message.payload.clone()).unwrap_or_default();
            lines.push(format!(
                "  payload  {}  encrypted: {} bytes + 16-byte tag",
                short(rest, raw),
                rest.len().saturating_sub(TAG)
            ));
            lines.push("           decrypted, a NoiseHandshakePayload:".to_owned());
            lines.extend(protobuf::show(&payload, NOISE_PAYLOAD, 6, raw));
            lines.push(format!("           {}", signature_check(capture, message.from, &payload)));
        }
    }
    lines
}

/// Checks the payload's signature over the sender's static key.
fn signature_check(capture: &Capture, from: Side, payload: &[u8]) -> String {
    let (identity, static_key) = match from {
        Side::Dialer => (capture.dialer.public(), &capture.statics.0),
        Side::Listener => (capture.listener.public(), &capture.statics.1),
    };
    let signature = protobuf::field(payload, 2).unwrap_or_default();
    let signed = [STATIC_KEY_DOMAIN, static_key].concat();
    let verdict = if identity.verify(&signed, signature) { "verifies" } else { "DOES NOT VERIFY" };
    format!("identity_sig over \"noise-libp2p-static-key:\" ‖ static key: {verdict} with identity_key")
}

/// The transport section: every message after the handshake, in order.
pub(crate) fn transport(
    dialer: (&Flow, &[NoiseMessage]),
    listener: (&Flow, &[NoiseMessage]),
    raw: bool,
) -> Vec<String> {
    let mut all: Vec<(usize, String)> = Vec::new();
    for (flow, messages) in
        [(dialer.0, &dialer.1[2.min(dialer.1.len())..]), (listener.0, &listener.1[1.min(listener.1.len())..])]
    {
        for message in messages {
            let len = message.end - message.start - 2;
            let mut line = format!(
                "{}  {}  {len} bytes: {} of plaintext + 16-byte tag",
                arrow(message.from),
                hex(&flow.bytes[message.start..message.start + 2]),
                len.saturating_sub(TAG)
            );
            if raw {
                let _ = write!(line, "  {}", hex(&flow.bytes[message.start + 2..message.end]));
            }
            all.push((flow.order_at(message.end), line));
        }
    }
    all.sort_by_key(|(order, _)| *order);
    all.into_iter().map(|(_, line)| line).collect()
}

fn observed(capture: &Capture, side: Side, number: u8) -> Option<&HandshakeMessage> {
    capture.handshake.iter().find(|(who, message)| *who == side && message.number == number).map(|(_, message)| message)
}

fn whose(side: Side) -> &'static str {
    match side {
        Side::Dialer => "dialer's",
        Side::Listener => "listener's",
    }
}
