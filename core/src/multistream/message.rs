//! The messages of multistream-select, as bytes: encode and decode, no I/O.
//!
//! Spec: `multistream-select.md`, "Protocol" and "Listing". Every message
//! is `<uvarint length><text>\n`, the newline counted in the length:
//!
//! ```text
//! 13 "/multistream/1.0.0\n"   the header, first from each side
//! 10 "/ipfs/ping/1.0.0\n"     a proposal, or its echo (= accepted)
//! 03 "na\n"                   not available
//! 03 "ls\n"                   list your protocols
//! ```
//!
//! The answer to `ls` is one message whose text is itself a run of such
//! messages, one per protocol, and a final `\n`:
//! `<len>( <len1>"/a\n" <len2>"/b\n" … )"\n"`.

use crate::{Error, Result, framing};

/// The multistream-select 1.0 header, which both sides send first.
pub const HEADER: &str = "/multistream/1.0.0";

/// The longest protocol name accepted, in bytes.
pub const MAX_PROTOCOL_NAME_LEN: usize = 512;

/// The longest message (a name and its newline).
pub(crate) const MAX_MESSAGE_LEN: usize = MAX_PROTOCOL_NAME_LEN + 1;

/// The longest `ls` answer we read.
pub const MAX_LS_RESPONSE_LEN: usize = 64 * 1024;

/// One multistream-select message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// `/multistream/1.0.0`.
    Header,
    /// A protocol name: a proposal from the dialer, an acceptance (echo)
    /// from the listener.
    Protocol(String),
    /// `na`: the proposal is not available.
    Na,
    /// `ls`: a request for the listener's protocols.
    Ls,
}

/// Checks a protocol name we are to propose or serve: not empty, starting
/// with `/`, at most [`MAX_PROTOCOL_NAME_LEN`] bytes, no newline.
pub fn validate_protocol_name(name: &str) -> Result<()> {
    if name.starts_with('/') && name.len() <= MAX_PROTOCOL_NAME_LEN && !name.contains('\n') {
        Ok(())
    } else {
        Err(Error::InvalidProtocolName(name.chars().take(64).collect()))
    }
}

/// The text of one message: UTF-8 ending in its single `\n`.
fn line(payload: &[u8]) -> Result<&str> {
    let text =
        payload.strip_suffix(b"\n").ok_or_else(|| Error::Multistream("message does not end in a newline".into()))?;
    let text = std::str::from_utf8(text).map_err(|_| Error::Multistream("message is not UTF-8".into()))?;
    if text.contains('\n') {
        return Err(Error::Multistream("message holds more than one line".into()));
    }
    Ok(text)
}

impl Message {
    fn text(&self) -> &str {
        match self {
            Self::Header => HEADER,
            Self::Protocol(name) => name,
            Self::Na => "na",
            Self::Ls => "ls",
        }
    }

    /// Appends the length-prefixed message to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        encode_line(self.text(), out);
    }

    /// Decodes one message from its payload (the bytes after the length).
    pub(crate) fn decode(payload: &[u8]) -> Result<Self> {
        Ok(match line(payload)? {
            HEADER => Self::Header,
            "na" => Self::Na,
            "ls" => Self::Ls,
            other => Self::Protocol(other.to_owned()),
        })
    }
}

fn encode_line(text: &str, out: &mut Vec<u8>) {
    let mut payload = Vec::with_capacity(text.len() + 1);
    payload.extend_from_slice(text.as_bytes());
    payload.push(b'\n');
    framing::encode_length_prefixed(&payload, out);
}

/// Appends the answer to `ls` listing `protocols` to `out`.
pub(crate) fn encode_protocol_list<P: AsRef<str>>(protocols: &[P], out: &mut Vec<u8>) {
    let mut inner = Vec::new();
    for protocol in protocols {
        encode_line(protocol.as_ref(), &mut inner);
    }
    inner.push(b'\n');
    framing::encode_length_prefixed(&inner, out);
}

/// Decodes the payload of an answer to `ls`.
pub(crate) fn decode_protocol_list(payload: &[u8]) -> Result<Vec<String>> {
    let mut rest = payload
        .strip_suffix(b"\n")
        .ok_or_else(|| Error::Multistream("protocol list does not end in a newline".into()))?;
    let mut protocols = Vec::new();
    while !rest.is_empty() {
        let (len, after) = crate::varint::decode_len(rest)?;
        if len > after.len() || len > MAX_MESSAGE_LEN {
            return Err(Error::Multistream("protocol list entry overruns the list".into()));
        }
        let (entry, after) = after.split_at(len);
        protocols.push(line(entry)?.to_owned());
        rest = after;
    }
    Ok(protocols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_bytes() {
        // "na\n in hex (note the varint prefix = 3) 0x036e610a"
        let mut out = Vec::new();
        Message::Na.encode(&mut out);
        assert_eq!(out, [0x03, 0x6e, 0x61, 0x0a]);
        // "ls\n ... 0x036c730a"
        out.clear();
        Message::Ls.encode(&mut out);
        assert_eq!(out, [0x03, 0x6c, 0x73, 0x0a]);
        out.clear();
        Message::Header.encode(&mut out);
        assert_eq!(out[0], 19);
        assert_eq!(&out[1..], b"/multistream/1.0.0\n");
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(Message::decode(b"na").is_err(), "no newline");
        assert!(Message::decode(b"a\nb\n").is_err(), "two lines");
        assert!(Message::decode(b"\xff\n").is_err(), "not UTF-8");
        assert_eq!(Message::decode(b"/a\n").unwrap(), Message::Protocol("/a".into()));
    }

    #[test]
    fn protocol_list_round_trip() {
        let mut out = Vec::new();
        encode_protocol_list(&["/ipfs/kad/0.2.3", "/ipfs/kad/1.0.0"], &mut out);
        let (len, payload) = crate::varint::decode_len(&out).unwrap();
        assert_eq!(len, payload.len());
        assert!(payload.ends_with(b"\n\n"), "spec: the answer ends with \\n\\n");
        assert_eq!(decode_protocol_list(payload).unwrap(), ["/ipfs/kad/0.2.3", "/ipfs/kad/1.0.0"]);
        assert!(decode_protocol_list(b"\x05/a\n\n").is_err(), "entry longer than the list");
    }

    #[test]
    fn protocol_names() {
        assert!(validate_protocol_name("/noise").is_ok());
        for bad in ["", "noise", "/a\nb"] {
            assert!(validate_protocol_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_protocol_name(&format!("/{}", "x".repeat(MAX_PROTOCOL_NAME_LEN))).is_err());
    }
}
