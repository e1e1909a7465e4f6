//! Field numbers pinned from the spec's protobuf, round trips, and what a
//! malformed message turns into.

#![allow(clippy::unwrap_used)]

use super::*;
use strata_core::Keypair;

fn peer() -> PeerId {
    Keypair::ed25519_from_secret([7; 32]).peer_id()
}

#[test]
fn reserve_is_type_zero_in_field_one() {
    // field 1, varint (0x08), value 0 (RESERVE).
    assert_eq!(HopMessage::Reserve.encode(), [0x08, 0x00]);
    assert_eq!(HopMessage::decode(&[0x08, 0x00]).unwrap(), HopMessage::Reserve);
}

#[test]
fn status_fields_follow_the_spec() {
    let message = HopMessage::Status {
        status: Status::ResourceLimitExceeded,
        reservation: None,
        limit: Some(Limit { duration: Some(120), data: Some(131_072) }),
    };
    // type=2 (field 1); limit (field 4, length-delimited 0x22) = {duration=120 (0x08), data=131072 (0x10)};
    // status=201 (field 5, 0x28) as a varint: 0xc9 0x01.
    let expected = [0x08, 0x02, 0x22, 0x06, 0x08, 0x78, 0x10, 0x80, 0x80, 0x08, 0x28, 0xc9, 0x01];
    assert_eq!(message.encode(), expected);
    assert_eq!(HopMessage::decode(&expected).unwrap(), message);
}

#[test]
fn connect_carries_the_peer_in_field_two() {
    let id = peer();
    let bytes = HopMessage::Connect { peer: Peer { id, addrs: vec![] } }.encode();
    let id_bytes = id.to_bytes();
    let mut expected = vec![0x08, 0x01, 0x12, u8::try_from(id_bytes.len() + 2).unwrap(), 0x0a];
    expected.push(u8::try_from(id_bytes.len()).unwrap());
    expected.extend_from_slice(&id_bytes);
    assert_eq!(bytes, expected);
}

#[test]
fn stop_messages_use_their_own_numbers() {
    // StopMessage: CONNECT = 0, STATUS = 1; limit in field 3, status in field 4.
    assert_eq!(StopMessage::Status(Status::Ok).encode(), [0x08, 0x01, 0x20, 0x64]);
    let connect = StopMessage::Connect { peer: Peer { id: peer(), addrs: vec![] }, limit: Some(Limit::default()) };
    let bytes = connect.encode();
    assert_eq!(&bytes[..2], [0x08, 0x00]);
    assert_eq!(&bytes[bytes.len() - 2..], [0x1a, 0x00]); // an empty Limit in field 3
    assert_eq!(StopMessage::decode(&bytes).unwrap(), connect);
}

#[test]
fn every_status_code_round_trips() {
    for (status, code) in Status::ALL {
        assert_eq!(status.code(), code);
        assert_eq!(Status::from_code(code), Some(status));
    }
    assert_eq!(Status::from_code(0), None); // UNUSED
}

#[test]
fn reservation_round_trips() {
    let addr: Multiaddr = format!("/ip4/1.2.3.4/tcp/4001/p2p/{}", peer()).parse().unwrap();
    let message = HopMessage::Status {
        status: Status::Ok,
        reservation: Some(Reservation { expire: 1_700_000_000, addrs: vec![addr], voucher: Some(vec![1, 2, 3]) }),
        limit: None,
    };
    assert_eq!(HopMessage::decode(&message.encode()).unwrap(), message);
}

#[test]
fn malformed_messages_are_refused() {
    // No type.
    assert!(matches!(HopMessage::decode(&[]), Err(DecodeError::Type(None))));
    // Unknown type.
    assert!(matches!(HopMessage::decode(&[0x08, 0x07]), Err(DecodeError::Type(Some(7)))));
    assert!(matches!(StopMessage::decode(&[0x08, 0x02]), Err(DecodeError::Type(Some(2)))));
    // CONNECT without a peer, or with an invalid peer id.
    assert!(matches!(HopMessage::decode(&[0x08, 0x01]), Err(DecodeError::Missing("peer"))));
    assert!(matches!(HopMessage::decode(&[0x08, 0x01, 0x12, 0x00]), Err(DecodeError::Missing("peer.id"))));
    let bad_id = [0x08, 0x01, 0x12, 0x03, 0x0a, 0x01, 0xff];
    assert!(matches!(HopMessage::decode(&bad_id), Err(DecodeError::PeerId(_))));
    // STATUS without a status, or with an unknown one.
    assert!(matches!(HopMessage::decode(&[0x08, 0x02]), Err(DecodeError::Missing("status"))));
    assert!(matches!(StopMessage::decode(&[0x08, 0x01, 0x20, 0x05]), Err(DecodeError::Status(5))));
    // Truncated protobuf.
    assert!(matches!(HopMessage::decode(&[0x08]), Err(DecodeError::Protobuf(_))));
}

#[test]
fn undecodable_addresses_are_skipped() {
    let id = peer().to_bytes();
    let mut peer_field = vec![0x0a, u8::try_from(id.len()).unwrap()];
    peer_field.extend_from_slice(&id);
    peer_field.extend_from_slice(&[0x12, 0x02, 0xff, 0xff]); // not a multiaddr
    let mut bytes = vec![0x08, 0x01, 0x12, u8::try_from(peer_field.len()).unwrap()];
    bytes.extend_from_slice(&peer_field);
    let HopMessage::Connect { peer: decoded } = HopMessage::decode(&bytes).unwrap() else { unreachable!() };
    assert!(decoded.addrs.is_empty());
}
