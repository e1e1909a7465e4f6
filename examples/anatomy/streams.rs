//! One stream of the recording: its multistream-select negotiation, then
//! its protocol's messages decoded.
//!
//! | protocol | messages | spec |
//! |---|---|---|
//! | `/ipfs/id/1.0.0` | one length-prefixed `Identify` from the responder | `libp2p-identify.md` |
//! | `/ipfs/ping/1.0.0` | 32 bytes, echoed back | `libp2p-ping.md` |
//! | `/floodsub/1.0.0`, `/meshsub/*` | length-prefixed `RPC`s, each way | `libp2p-pubsub.md` |
//! | the example's hello protocol | a line each way | — |

use strata::{
    PeerId,
    core::{protobuf::Value, varint},
    pubsub::signing,
};

use crate::{
    muxer::MuxStream,
    protobuf::{self, IDENTIFY, RPC},
    scenario::{HELLO, Side},
    wire::{Flow, arrow, hex, negotiate, negotiation_lines, other, quoted, short},
};

/// The sections of one stream: (title suffix, layer, lines).
pub(crate) struct StreamSections {
    /// The protocol agreed on, if any.
    pub(crate) protocol: String,
    /// The negotiation's lines.
    pub(crate) negotiation: Vec<String>,
    /// The protocol's messages, decoded.
    pub(crate) messages: Vec<String>,
}

/// Reads one stream.
pub(crate) fn read(stream: &MuxStream, raw: bool) -> StreamSections {
    let negotiation = negotiate(&stream.opener.bytes, 0, &stream.responder.bytes, 0);
    let lines = negotiation_lines(&negotiation, stream.key.opener, &stream.opener, &stream.responder);
    let protocol = negotiation.protocol.clone().unwrap_or_else(|| "(none agreed)".to_owned());
    let opener = (&stream.opener, negotiation.opener_end(), stream.key.opener);
    let responder = (&stream.responder, negotiation.responder_end(), other(stream.key.opener));
    let messages = match protocol.as_str() {
        "/ipfs/id/1.0.0" | "/ipfs/id/push/1.0.0" => identify(opener, responder, raw),
        "/ipfs/ping/1.0.0" => ping(opener, responder),
        "/floodsub/1.0.0" | "/meshsub/1.0.0" | "/meshsub/1.1.0" | "/meshsub/1.2.0" => pubsub(opener, responder, raw),
        HELLO => [opener, responder]
            .iter()
            .filter(|(flow, from, _)| flow.bytes.len() > *from)
            .map(|(flow, from, side)| {
                format!("{}  {}  {}", arrow(*side), hex(&flow.bytes[*from..]), quoted(&flow.bytes[*from..]))
            })
            .collect(),
        _ => vec!["(a protocol this example does not decode)".to_owned()],
    };
    StreamSections { protocol, negotiation: lines, messages }
}

type Half<'a> = (&'a Flow, usize, Side);

/// Length-prefixed messages from `from` on.
fn length_prefixed(flow: &Flow, from: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = flow.bytes.get(from..).unwrap_or_default();
    while let Ok((len, after)) = varint::decode_len(rest) {
        let Some(body) = after.get(..len) else { break };
        out.push((rest[..rest.len() - after.len()].to_vec(), body.to_vec()));
        rest = &after[len..];
    }
    out
}

fn identify(opener: Half<'_>, responder: Half<'_>, raw: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if opener.0.bytes.len() > opener.1 {
        lines.push(format!("{}  {} unexpected bytes", arrow(opener.2), opener.0.bytes.len() - opener.1));
    } else {
        lines.push(format!("{}  (nothing: opening the stream is the question)", arrow(opener.2)));
    }
    for (prefix, message) in length_prefixed(responder.0, responder.1) {
        lines.push(format!("{}  {}  length {}, an Identify message:", arrow(responder.2), hex(&prefix), message.len()));
        lines.extend(protobuf::show(&message, IDENTIFY, 1, raw));
    }
    lines
}

fn ping(opener: Half<'_>, responder: Half<'_>) -> Vec<String> {
    let asked = opener.0.bytes.get(opener.1..).unwrap_or_default();
    let answered = responder.0.bytes.get(responder.1..).unwrap_or_default();
    let mut lines = Vec::new();
    for (index, payload) in asked.chunks(32).enumerate() {
        lines.push(format!("{}  {}  32 random bytes", arrow(opener.2), hex(payload)));
        if let Some(echo) = answered.chunks(32).nth(index) {
            let verdict = if echo == payload { "the same 32 bytes: echoed" } else { "NOT the bytes sent" };
            lines.push(format!("{}  {}  {verdict}", arrow(responder.2), hex(echo)));
        }
    }
    lines
}

fn pubsub(opener: Half<'_>, responder: Half<'_>, raw: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for (flow, from, side) in [opener, responder] {
        for (prefix, rpc) in length_prefixed(flow, from) {
            lines.push(format!("{}  {}  length {}, an RPC:", arrow(side), hex(&prefix), rpc.len()));
            lines.extend(protobuf::show(&rpc, RPC, 1, raw));
            for field in strata::core::protobuf::fields(&rpc).filter_map(Result::ok).filter(|field| field.number == 2) {
                if let Value::Bytes(message) = field.value {
                    lines.push(format!("  {}", signature_check(message, raw)));
                }
            }
        }
    }
    lines
}

/// Checks a published message's signature the way a receiver does.
fn signature_check(message: &[u8], raw: bool) -> String {
    let author = protobuf::field(message, 1).and_then(|from| PeerId::from_bytes(from).ok());
    let (Some(author), Some(signature)) = (author, protobuf::field(message, 5)) else {
        return "an unsigned message".to_owned();
    };
    let signed = strata::pubsub::rpc::without_fields(message, &[5, 6]).unwrap_or_default();
    let verdict = match signing::verify(message, signature, author, protobuf::field(message, 6)) {
        Ok(()) => "verifies",
        Err(_) => "DOES NOT VERIFY",
    };
    format!(
        "signature: Ed25519 over \"libp2p-pubsub:\" ‖ the message without fields 5 and 6 ({} bytes: {}): {verdict} with the key inlined in `from`",
        signed.len(),
        short(&signed, raw)
    )
}
