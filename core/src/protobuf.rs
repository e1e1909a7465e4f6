//! A protobuf message's top-level fields, one by one, without a schema.
//!
//! Protocol Buffers' wire format ("Encoding" in the protobuf docs): a
//! message is a sequence of fields, each a key varint
//! (`field number << 3 | wire type`) and a value:
//!
//! | wire type | value |
//! |---|---|
//! | 0 varint | a varint |
//! | 1 i64 | 8 bytes |
//! | 2 len | a varint length, then that many bytes (strings, bytes, nested messages) |
//! | 5 i32 | 4 bytes |
//!
//! prost decodes whole messages into structs; this reads the fields
//! themselves, with their exact bytes: what a signature check needs (the
//! message minus some fields, byte for byte) and what a reader of the
//! wire wants to see (the anatomy example). Groups (wire types 3 and 4)
//! are deprecated and refused.

use crate::varint;

/// A field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1, little-endian.
    Fixed64(u64),
    /// Wire type 2: the bytes after the length.
    Bytes(&'a [u8]),
    /// Wire type 5, little-endian.
    Fixed32(u32),
}

/// One field as it was on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field number.
    pub number: u64,
    /// The value.
    pub value: Value<'a>,
    /// The whole field: key, length if any, and value.
    pub raw: &'a [u8],
}

/// The bytes are not a well-formed protobuf message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf field at byte {offset}")]
pub struct MalformedField {
    /// Where the bad field starts.
    pub offset: usize,
}

/// An iterator over the top-level fields of `message`; after a malformed
/// field it yields the error and stops.
pub fn fields(message: &[u8]) -> Fields<'_> {
    Fields { message, offset: 0, failed: false }
}

/// See [`fields`].
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    message: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn field_at(&self, start: usize) -> Option<Field<'a>> {
        let rest = self.message.get(start..)?;
        let (key, after_key) = varint::decode(rest).ok()?;
        let (value, after_value) = match key & 0b111 {
            0 => {
                // Any varint protobuf accepts (up to 10 bytes, minimal or
                // not): a signature covers the bytes as they were sent.
                let len = after_key.iter().take(10).position(|byte| byte & 0x80 == 0)? + 1;
                let (bytes, after) = after_key.split_at(len);
                let value = bytes.iter().rev().fold(0u64, |value, byte| (value << 7) | u64::from(byte & 0x7f));
                (Value::Varint(value), after)
            }
            1 => {
                let (bytes, after) = after_key.split_first_chunk::<8>()?;
                (Value::Fixed64(u64::from_le_bytes(*bytes)), after)
            }
            2 => {
                let (len, after_len) = varint::decode_len(after_key).ok()?;
                let (bytes, after) = after_len.split_at_checked(len)?;
                (Value::Bytes(bytes), after)
            }
            5 => {
                let (bytes, after) = after_key.split_first_chunk::<4>()?;
                (Value::Fixed32(u32::from_le_bytes(*bytes)), after)
            }
            _ => return None,
        };
        let raw = rest.get(..rest.len() - after_value.len())?;
        Some(Field { number: key >> 3, value, raw })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, MalformedField>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.message.len() {
            return None;
        }
        let Some(field) = self.field_at(self.offset) else {
            self.failed = true;
            return Some(Err(MalformedField { offset: self.offset }));
        };
        self.offset += field.raw.len();
        Some(Ok(field))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_protobuf_docs_examples_decode() {
        // From the protobuf encoding guide: field 1 = 150 ("08 96 01") and
        // field 2 = "testing" ("12 07 74 65 73 74 69 6e 67").
        let message = [0x08, 0x96, 0x01, 0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g'];
        let all: Vec<_> = fields(&message).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].number, all[0].value, all[0].raw), (1, Value::Varint(150), &message[..3]));
        assert_eq!((all[1].number, all[1].value), (2, Value::Bytes(b"testing")));
        assert_eq!(all[1].raw, &message[3..]);
    }

    #[test]
    fn a_varint_value_need_not_be_minimal() {
        let message = [0x08, 0x81, 0x80, 0x00];
        let field = fields(&message).next().unwrap().unwrap();
        assert_eq!((field.value, field.raw.len()), (Value::Varint(1), 4));
    }

    #[test]
    fn fixed_width_fields_are_little_endian() {
        let message = [0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0x15, 2, 0, 0, 0];
        let all: Vec<_> = fields(&message).map(|field| field.unwrap().value).collect();
        assert_eq!(all, [Value::Fixed64(1), Value::Fixed32(2)]);
    }

    #[test]
    fn truncated_and_group_fields_are_malformed_and_end_the_walk() {
        for bad in [&[0x12, 0x05, b'a'][..], &[0x08], &[0x0b, 0x0c], &[0x09, 1, 2]] {
            let all: Vec<_> = fields(bad).collect();
            assert_eq!(all, [Err(MalformedField { offset: 0 })], "{bad:?}");
        }
        let after_good = [0x08, 0x01, 0x12, 0x09];
        let all: Vec<_> = fields(&after_good).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1], Err(MalformedField { offset: 2 }));
    }
}
