#![allow(clippy::unwrap_used)]

use super::*;
use crate::codec::{self, MAX_MESSAGE_SIZE};

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

#[test]
fn sync_is_type_300_and_nothing_else() {
    // field 1, varint 300 = 0xac 0x02; no ObsAddrs.
    assert_eq!(HolePunch::sync().encode(), [0x08, 0xac, 0x02]);
    assert_eq!(HolePunch::decode(&[0x08, 0xac, 0x02]).unwrap(), HolePunch::sync());
}

#[test]
fn connect_pins_its_bytes() {
    let message = HolePunch::connect(vec![addr("/ip4/1.2.3.4/tcp/1234")]);
    let bytes = message.encode();
    // type CONNECT (field 1 = 100), then ObsAddrs (field 2, 8 bytes of binary multiaddr).
    assert_eq!(bytes, [0x08, 0x64, 0x12, 0x08, 0x04, 1, 2, 3, 4, 0x06, 0x04, 0xd2]);
    assert_eq!(HolePunch::decode(&bytes).unwrap(), message);
}

#[test]
fn round_trips_many_addresses() {
    let message = HolePunch::connect(vec![
        addr("/ip4/203.0.113.7/tcp/4001"),
        addr("/ip6/2001:db8::1/udp/4001/quic-v1"),
        addr("/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWGzzEu6J4KyCZBcWEtm4YMGGtJTWr3Cz6iKHq6Tj6JyMU"),
    ]);
    assert_eq!(HolePunch::decode(&message.encode()).unwrap(), message);
    let empty = HolePunch::connect(Vec::new());
    assert_eq!(HolePunch::decode(&empty.encode()).unwrap(), empty);
}

#[test]
fn unknown_and_missing_types_are_refused() {
    assert!(matches!(HolePunch::decode(&[0x08, 0x65]), Err(DecodeError::UnknownType(101))));
    // No type at all: proto2 `required`, read as 0.
    assert!(matches!(HolePunch::decode(&[0x12, 0x00]), Err(DecodeError::UnknownType(0))));
    assert!(matches!(HolePunch::decode(&[]), Err(DecodeError::UnknownType(0))));
}

#[test]
fn truncated_and_garbage_protobufs_are_refused() {
    let bytes = HolePunch::connect(vec![addr("/ip4/1.2.3.4/tcp/1234")]).encode();
    for cut in 1..bytes.len() {
        if cut == 2 {
            continue; // `type` alone is a whole message
        }
        assert!(HolePunch::decode(&bytes[..cut]).is_err(), "accepted {cut} bytes");
    }
    assert!(matches!(HolePunch::decode(&[0xff, 0xff, 0xff]), Err(DecodeError::Protobuf(_))));
}

#[test]
fn garbage_addresses_are_skipped_not_fatal() {
    // CONNECT with [garbage, /ip4/1.2.3.4/tcp/1234, an unknown protocol code].
    let mut bytes = vec![0x08, 0x64, 0x12, 0x03, 0xff, 0xff, 0xff];
    bytes.extend_from_slice(&[0x12, 0x08, 0x04, 1, 2, 3, 4, 0x06, 0x04, 0xd2]);
    bytes.extend_from_slice(&[0x12, 0x02, 0x7f, 0x00]);
    let decoded = HolePunch::decode(&bytes).unwrap();
    assert_eq!(decoded, HolePunch::connect(vec![addr("/ip4/1.2.3.4/tcp/1234")]));
}

#[test]
fn unknown_fields_are_skipped() {
    let mut bytes = HolePunch::sync().encode();
    bytes.extend_from_slice(&[0x18, 0x01]); // field 3, varint 1
    assert_eq!(HolePunch::decode(&bytes).unwrap(), HolePunch::sync());
}

#[tokio::test]
async fn the_codec_bounds_frames_at_4_kib() {
    // A frame exactly at the bound is read (and refused by decode only if malformed).
    let big = HolePunch::connect(vec![addr("/ip4/1.2.3.4/tcp/1234"); 300]);
    assert!(big.encode().len() <= MAX_MESSAGE_SIZE);
    let mut wire = Vec::new();
    codec::write_message(&mut wire, &big).await.unwrap();
    assert_eq!(codec::read_message(&mut wire.as_slice()).await.unwrap(), big);

    // One byte over: refused from the prefix, before reading the payload.
    let mut oversized = Vec::new();
    strata_core::framing::encode_length_prefixed(&vec![0u8; MAX_MESSAGE_SIZE + 1], &mut oversized);
    assert!(codec::read_message(&mut oversized.as_slice()).await.is_err());

    // A frame cut short, and an empty stream.
    assert!(codec::read_message(&mut &wire[..wire.len() - 1]).await.is_err());
    assert!(codec::read_message(&mut &[][..]).await.is_err());
}
