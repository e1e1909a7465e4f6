//! Unsigned varints, the length and code prefix of every multiformat.
//!
//! Spec: multiformats `unsigned-varint` (cited by `multiaddr.md`,
//! "Specification"): little-endian groups of 7 bits, the high bit of each
//! byte set while more bytes follow. This crate accepts at most 9 bytes
//! (63 bits, the spec's practical maximum) and only the minimal encoding, so
//! each number has exactly one encoding.
//!
//! Two decoders serve two kinds of caller: [`decode`] for a complete buffer
//! (a multiaddr, a CID), where running out of bytes is an error, and
//! [`decode_partial`] for incremental parsers (a frame codec reading a
//! socket), where it means "wait for more".

use crate::{Error, Result};

/// The longest varint this crate accepts, in bytes.
pub const MAX_LEN: usize = 9;

/// Appends the varint encoding of `value` to `out`.
pub fn encode(value: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 10];
    out.extend_from_slice(encode_to_slice(value, &mut buf));
}

/// Encodes `value` into `buf` (on the stack, say) and returns the bytes
/// used: for hot paths that must not allocate.
pub fn encode_to_slice(value: u64, buf: &mut [u8; 10]) -> &[u8] {
    unsigned_varint::encode::u64(value, buf)
}

/// The number of bytes [`encode`] writes for `value`.
pub fn encoded_len(value: u64) -> usize {
    let mut buf = unsigned_varint::encode::u64_buffer();
    unsigned_varint::encode::u64(value, &mut buf).len()
}

/// Decodes a varint at the start of `bytes`, returning it and the rest.
///
/// Running out of bytes is an error here; see [`decode_partial`] for
/// streams.
pub fn decode(bytes: &[u8]) -> Result<(u64, &[u8])> {
    match decode_partial(bytes)? {
        Some((value, used)) => Ok((value, bytes.get(used..).unwrap_or_default())),
        None => Err(Error::InvalidVarint("truncated")),
    }
}

/// Decodes a varint at the start of `bytes`, returning it and how many bytes
/// it took, or `None` when `bytes` ends before the varint does.
pub fn decode_partial(bytes: &[u8]) -> Result<Option<(u64, usize)>> {
    let window = bytes.get(..MAX_LEN).unwrap_or(bytes);
    match unsigned_varint::decode::u64(window) {
        Ok((value, rest)) => Ok(Some((value, window.len() - rest.len()))),
        Err(unsigned_varint::decode::Error::Insufficient) if window.len() < MAX_LEN => Ok(None),
        Err(unsigned_varint::decode::Error::Insufficient | unsigned_varint::decode::Error::Overflow) => {
            Err(Error::InvalidVarint("longer than 9 bytes"))
        }
        Err(unsigned_varint::decode::Error::NotMinimal) => Err(Error::InvalidVarint("not minimally encoded")),
        Err(_) => Err(Error::InvalidVarint("malformed")),
    }
}

/// Decodes a varint that must fit a `usize` (a length).
pub fn decode_len(bytes: &[u8]) -> Result<(usize, &[u8])> {
    let (value, rest) = decode(bytes)?;
    let len = usize::try_from(value).map_err(|_| Error::InvalidVarint("length does not fit in usize"))?;
    Ok((len, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        // The examples of the unsigned-varint spec.
        for (value, bytes) in [
            (1u64, &[0x01][..]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (255, &[0xff, 0x01]),
            (300, &[0xac, 0x02]),
            (16384, &[0x80, 0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            encode(value, &mut out);
            assert_eq!(out, bytes);
            assert_eq!(encoded_len(value), bytes.len());
            assert_eq!(decode(bytes).unwrap(), (value, &[][..]));
        }
    }

    #[test]
    fn largest_nine_byte_value_round_trips() {
        let max = (1u64 << 63) - 1;
        let mut out = Vec::new();
        encode(max, &mut out);
        assert_eq!(out.len(), MAX_LEN);
        assert_eq!(decode(&out).unwrap().0, max);
    }

    #[test]
    fn rejects_long_truncated_and_non_minimal() {
        assert!(matches!(decode(&[0x80; 12]), Err(Error::InvalidVarint(_))));
        assert!(matches!(decode(&[0x80, 0x80]), Err(Error::InvalidVarint("truncated"))));
        assert!(matches!(decode(&[0x81, 0x00]), Err(Error::InvalidVarint("not minimally encoded"))));
        assert_eq!(decode_partial(&[0x80, 0x80]).unwrap(), None);
        assert_eq!(decode_partial(&[]).unwrap(), None);
        assert!(decode_partial(&[0xff; 9]).is_err());
    }
}
