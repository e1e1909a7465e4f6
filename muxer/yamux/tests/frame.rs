//! yamux frames against the bytes of the spec (`libp2p-yamux.md`,
//! "Framing"): the header layout, every type and flag, the errors a header
//! can carry, partial input, and random round trips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use strata_yamux::{Decoder, Flags, Frame, FrameError, GoAway, Header, INITIAL_WINDOW, Type};

fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    out.to_vec()
}

fn decode_all(bytes: &[u8]) -> Result<Option<Frame>, FrameError> {
    Decoder::new(1 << 20).decode(&mut BytesMut::from(bytes))
}

#[test]
fn each_type_and_flag_as_the_spec_lays_it_out() {
    // version 0 | type | flags (u16) | stream id (u32) | length (u32), big endian
    let cases: [(Frame, &[u8]); 6] = [
        (
            Frame::data(Header::data(1, Flags::SYN, 0), Bytes::from_static(b"hello")),
            &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o'],
        ),
        (Frame::control(Header::window_update(2, Flags::ACK, INITIAL_WINDOW)), &[0, 1, 0, 2, 0, 0, 0, 2, 0, 4, 0, 0]),
        (Frame::control(Header::ping(false, 0x1234_5678)), &[0, 2, 0, 1, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]),
        (Frame::control(Header::ping(true, 0x1234_5678)), &[0, 2, 0, 2, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]),
        (Frame::control(Header::go_away(GoAway::ProtocolError)), &[0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        (
            Frame::control(Header::data(0x0102_0304, Flags::FIN | Flags::RST, 0)),
            &[0, 0, 0, 0x0c, 1, 2, 3, 4, 0, 0, 0, 0],
        ),
    ];
    for (frame, wire) in cases {
        assert_eq!(encode(&frame), wire, "{frame:?}");
        assert_eq!(decode_all(wire).unwrap(), Some(frame.clone()));
    }
    let flags = Flags::SYN | Flags::ACK;
    assert!(flags.contains(Flags::SYN) && flags.contains(Flags::ACK) && !flags.contains(Flags::FIN));
    assert_eq!(GoAway::from_code(2), Some(GoAway::InternalError));
    assert_eq!(GoAway::from_code(3), None);
}

#[test]
fn headers_that_break_the_protocol_are_refused() {
    assert_eq!(decode_all(&[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Err(FrameError::Version(1)));
    assert_eq!(decode_all(&[0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Err(FrameError::Type(4)));
    assert_eq!(
        decode_all(&[0, 2, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0]),
        Err(FrameError::SessionFrameOnStream(Type::Ping, 3)),
        "a ping belongs to the session"
    );
    assert_eq!(
        decode_all(&[0, 3, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0]),
        Err(FrameError::SessionFrameOnStream(Type::GoAway, 9))
    );
}

#[test]
fn an_oversized_data_frame_is_refused_from_its_header_alone() {
    let decoder = Decoder::new(1024);
    let mut buf = BytesMut::from(&[0u8, 0, 0, 0, 0, 0, 0, 1, 0, 0, 4, 1][..]); // 1025 bytes announced
    assert_eq!(decoder.decode(&mut buf), Err(FrameError::TooLarge { len: 1025, max: 1024 }));
    // A window update's length is a delta, not a payload: no limit applies.
    let mut buf = BytesMut::from(&[0u8, 1, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff][..]);
    assert_eq!(decoder.decode(&mut buf).unwrap().unwrap().header.length, u32::MAX);
}

#[test]
fn partial_input_waits_and_consumes_nothing() {
    let wire = encode(&Frame::data(Header::data(3, Flags::NONE, 0), Bytes::from(vec![7u8; 100])));
    let decoder = Decoder::new(1 << 20);
    let mut buf = BytesMut::new();
    for (n, byte) in wire.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        let got = decoder.decode(&mut buf).unwrap();
        if n + 1 < wire.len() {
            assert_eq!(got, None, "after {} bytes", n + 1);
            assert_eq!(buf.len(), n + 1, "nothing consumed");
        } else {
            assert_eq!(got.unwrap().payload.len(), 100);
            assert!(buf.is_empty());
        }
    }
}

#[test]
fn frames_back_to_back_decode_one_by_one() {
    let mut buf = BytesMut::new();
    Frame::data(Header::data(1, Flags::SYN, 0), Bytes::from_static(b"ab")).encode(&mut buf);
    Frame::control(Header::window_update(1, Flags::NONE, 10)).encode(&mut buf);
    Frame::control(Header::go_away(GoAway::Normal)).encode(&mut buf);
    let decoder = Decoder::new(1 << 20);
    let kinds: Vec<Type> = std::iter::from_fn(|| decoder.decode(&mut buf).unwrap()).map(|f| f.header.kind).collect();
    assert_eq!(kinds, [Type::Data, Type::WindowUpdate, Type::GoAway]);
}

fn any_type() -> impl Strategy<Value = Type> {
    prop_oneof![Just(Type::Data), Just(Type::WindowUpdate), Just(Type::Ping), Just(Type::GoAway)]
}

proptest! {
    #[test]
    fn every_frame_round_trips(kind in any_type(), flags in 0u16..16, stream in any::<u32>(), value in any::<u32>(), payload in proptest::collection::vec(any::<u8>(), 0..512)) {
        let stream = if matches!(kind, Type::Ping | Type::GoAway) { 0 } else { stream };
        let frame = if kind == Type::Data {
            Frame::data(Header { kind, flags: Flags::NONE, stream, length: 0 }, Bytes::from(payload))
        } else {
            Frame::control(Header { kind, flags: Flags::NONE, stream, length: value })
        };
        let mut frame = frame;
        // Any flag bits, as a remote may send them.
        let mut wire = encode(&frame);
        wire[2..4].copy_from_slice(&flags.to_be_bytes());
        frame.header = Header::from_bytes(wire[..12].try_into().unwrap()).unwrap();
        prop_assert_eq!(decode_all(&wire).unwrap(), Some(frame));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let decoder = Decoder::new(64);
        let mut buf = BytesMut::from(bytes.as_slice());
        while let Ok(Some(_)) = decoder.decode(&mut buf) {}
    }
}
