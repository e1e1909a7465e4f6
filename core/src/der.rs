//! The little DER that libp2p's key formats need: one tag-length-value
//! element at a time.
//!
//! Keys of three of libp2p's four types travel as ASN.1 DER (X.690): RSA
//! and ECDSA public keys as `SubjectPublicKeyInfo`, ECDSA private keys as
//! SEC1 `ECPrivateKey`, RSA private keys as PKCS#1 (or PKCS#8 around it);
//! the QUIC certificate's libp2p extension is DER too. Every one of them is
//! a few nested SEQUENCEs of INTEGERs, OCTET STRINGs, BIT STRINGs and
//! OBJECT IDENTIFIERs, so this module speaks only that much:
//!
//! ```text
//! tag (one byte) ‖ length (short form < 0x80, or 0x81/0x82 + big-endian) ‖ value
//! ```
//!
//! It reads strictly, as DER demands and as a peer id (a hash of the exact
//! bytes) needs: definite, minimal lengths; at most two length bytes (no
//! key or extension strata takes is 64 KiB long); never past the input.
//! Everything it reads comes from strangers, so it returns errors, never
//! panics.

use crate::{Error, Result};

/// `SEQUENCE` (constructed).
pub const SEQUENCE: u8 = 0x30;
/// `INTEGER`.
pub const INTEGER: u8 = 0x02;
/// `BIT STRING`.
pub const BIT_STRING: u8 = 0x03;
/// `OCTET STRING`.
pub const OCTET_STRING: u8 = 0x04;
/// `NULL`.
pub const NULL: u8 = 0x05;
/// `OBJECT IDENTIFIER`.
pub const OBJECT_IDENTIFIER: u8 = 0x06;

/// Appends tag, minimal DER length and value to `out`.
pub fn write(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    match u8::try_from(value.len()) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes = value.len().to_be_bytes();
            let digits = &bytes[bytes.iter().take_while(|byte| **byte == 0).count()..];
            // At most 8 length bytes: 0x81 to 0x88.
            out.push(0x80 | u8::try_from(digits.len()).unwrap_or(8));
            out.extend_from_slice(digits);
        }
    }
    out.extend_from_slice(value);
}

/// One element, tag and value, as a new vector.
pub fn encode(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 4);
    write(tag, value, &mut out);
    out
}

/// Reads one element that must have tag `tag`; returns its value and what
/// follows it.
pub fn read(input: &[u8], tag: u8) -> Result<(&[u8], &[u8])> {
    let (found, value, rest) = read_any(input)?;
    if found != tag {
        return Err(Error::Der("unexpected tag"));
    }
    Ok((value, rest))
}

/// Reads one element that must have tag `tag` and be all of `input`.
pub fn read_all(input: &[u8], tag: u8) -> Result<&[u8]> {
    match read(input, tag)? {
        (value, []) => Ok(value),
        _ => Err(Error::Der("bytes after the element")),
    }
}

/// Reads the element at the start of `input`, whatever its tag: returns the
/// tag, the value and what follows.
pub fn read_any(input: &[u8]) -> Result<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first().ok_or(Error::Der("truncated"))?;
    let (&first, mut rest) = rest.split_first().ok_or(Error::Der("truncated length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 2 {
            // 0: indefinite (BER only); > 2: longer than anything we take.
            return Err(Error::Der("unsupported length form"));
        }
        let (digits, after) = rest.split_at_checked(count).ok_or(Error::Der("truncated length"))?;
        rest = after;
        let len = digits.iter().fold(0usize, |len, digit| (len << 8) | usize::from(*digit));
        if digits[0] == 0 || len < 0x80 {
            return Err(Error::Der("non-minimal length"));
        }
        len
    };
    let (value, rest) = rest.split_at_checked(len).ok_or(Error::Der("value longer than the input"))?;
    Ok((tag, value, rest))
}

/// Reads a non-negative DER `INTEGER`; returns its magnitude without the
/// sign byte DER puts before a high first bit, and what follows.
pub fn read_unsigned(input: &[u8]) -> Result<(&[u8], &[u8])> {
    let (value, rest) = read(input, INTEGER)?;
    match value {
        [] => Err(Error::Der("empty INTEGER")),
        [first, ..] if first & 0x80 != 0 => Err(Error::Der("negative INTEGER")),
        [0, second, ..] if second & 0x80 == 0 => Err(Error::Der("non-minimal INTEGER")),
        [0, magnitude @ ..] if !magnitude.is_empty() => Ok((magnitude, rest)),
        magnitude => Ok((magnitude, rest)),
    }
}

/// Reads a `BIT STRING` with no unused bits; returns its bytes and what
/// follows.
pub fn read_bit_string(input: &[u8]) -> Result<(&[u8], &[u8])> {
    match read(input, BIT_STRING)? {
        ([0, bits @ ..], rest) => Ok((bits, rest)),
        _ => Err(Error::Der("BIT STRING with unused bits")),
    }
}

/// The private key inside a PKCS#8 `PrivateKeyInfo`:
/// `SEQUENCE { version, AlgorithmIdentifier, OCTET STRING privateKey, … }`.
pub fn pkcs8_private_key(pkcs8: &[u8]) -> Result<&[u8]> {
    let body = read_all(pkcs8, SEQUENCE)?;
    let (version, rest) = read_unsigned(body)?;
    if version.len() != 1 || version[0] > 1 {
        return Err(Error::Der("PKCS#8 version is neither 0 nor 1"));
    }
    let (_algorithm, rest) = read(rest, SEQUENCE)?;
    let (private_key, _attributes_and_public_key) = read(rest, OCTET_STRING)?;
    Ok(private_key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn lengths_round_trip_in_short_and_long_form() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff] {
            let value = vec![7u8; len];
            let der = encode(OCTET_STRING, &value);
            assert_eq!(read_all(&der, OCTET_STRING).unwrap(), value.as_slice(), "length {len}");
        }
        assert_eq!(encode(OCTET_STRING, &[1; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(encode(OCTET_STRING, &[1; 0x100])[..4], [0x04, 0x82, 0x01, 0x00]);
    }

    #[test]
    fn malformed_elements_are_refused() {
        for (der, why) in [
            (&[][..], "empty"),
            (&[0x04][..], "no length"),
            (&[0x04, 0x80][..], "indefinite length"),
            (&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..], "long form for a short length"),
            (&[0x04, 0x82, 0x00, 0x81][..], "leading zero in the length"),
            (&[0x04, 0x83, 0x01, 0x00, 0x00][..], "three length bytes"),
            (&[0x04, 0x03, 1, 2][..], "value past the end"),
        ] {
            assert!(read(der, OCTET_STRING).is_err(), "{why}");
        }
        assert!(read(&[0x02, 0x01, 0x00], OCTET_STRING).is_err(), "wrong tag");
        assert!(read_all(&[0x04, 0x00, 0x00], OCTET_STRING).is_err(), "trailing bytes");
    }

    #[test]
    fn integers_are_read_as_minimal_magnitudes() {
        assert_eq!(read_unsigned(&[0x02, 0x01, 0x05]).unwrap().0, &[5]);
        assert_eq!(read_unsigned(&[0x02, 0x02, 0x00, 0x80]).unwrap().0, &[0x80]);
        assert_eq!(read_unsigned(&[0x02, 0x01, 0x00]).unwrap().0, &[0]);
        assert!(read_unsigned(&[0x02, 0x01, 0x80]).is_err(), "negative");
        assert!(read_unsigned(&[0x02, 0x02, 0x00, 0x01]).is_err(), "padded");
        assert!(read_unsigned(&[0x02, 0x00]).is_err(), "empty");
    }
}
