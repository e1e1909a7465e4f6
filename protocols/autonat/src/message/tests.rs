#![allow(clippy::unwrap_used)]

use super::*;

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

/// `/ip4/1.2.3.4/tcp/4001` in binary: ip4 (04) 1.2.3.4, tcp (06) 4001 = 0x0fa1.
const ADDR: [u8; 8] = [0x04, 1, 2, 3, 4, 0x06, 0x0f, 0xa1];

#[test]
fn dial_request_bytes() {
    let request = Message::DialRequest(DialRequest { addrs: vec![addr("/ip4/1.2.3.4/tcp/4001")], nonce: 1 });
    // Message.dialRequest (field 1, len 19) {
    //   addrs (field 1, len 8) ADDR, nonce (field 2, fixed64) 1 little-endian }
    let mut want = vec![0x0a, 19, 0x0a, 8];
    want.extend_from_slice(&ADDR);
    want.extend_from_slice(&[0x11, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(request.encode(), want);
    assert_eq!(Message::decode(&want).unwrap(), request);
}

#[test]
fn dial_response_bytes() {
    let response = Message::DialResponse(DialResponse {
        status: ResponseStatus::Ok,
        addr_idx: 1,
        dial_status: DialStatus::DialError,
    });
    // Message.dialResponse (field 2) { status 200 (varint c8 01), addrIdx 1, dialStatus 100 }
    let want = [0x12, 7, 0x08, 0xc8, 0x01, 0x10, 0x01, 0x18, 100];
    assert_eq!(response.encode(), want);
    assert_eq!(Message::decode(&want).unwrap(), response);
}

#[test]
fn zero_values_are_left_out() {
    // E_INTERNAL_ERROR, index 0, UNUSED: an empty DialResponse.
    let refusal = Message::DialResponse(DialResponse::refusal(ResponseStatus::InternalError));
    assert_eq!(refusal.encode(), [0x12, 0]);
    assert_eq!(Message::decode(&[0x12, 0]).unwrap(), refusal);
    // The dial-back answer is zero bytes: its frame is the single byte 00.
    assert!(DialBackResponse.encode().is_empty());
    assert_eq!(DialBackResponse::decode(&[]).unwrap(), DialBackResponse);
    assert_eq!(DialBack { nonce: 0 }.encode(), Vec::<u8>::new());
}

#[test]
fn dial_data_bytes() {
    let request = Message::DialDataRequest(DialDataRequest { addr_idx: 2, num_bytes: 30_000 });
    // 30000 = varint b0 ea 01
    let want = [0x1a, 6, 0x08, 2, 0x10, 0xb0, 0xea, 0x01];
    assert_eq!(request.encode(), want);
    assert_eq!(Message::decode(&want).unwrap(), request);

    let data = Message::DialDataResponse(DialDataResponse { data: vec![0; 4096] });
    let bytes = data.encode();
    // field 4 len (4099 = 83 20), data field 1 len (4096 = 80 20): 4102 bytes,
    // within rust-libp2p's bound (libp2p-autonat 0.16: REQUEST_MAX_SIZE, 4104).
    assert_eq!(&bytes[..6], [0x22, 0x83, 0x20, 0x0a, 0x80, 0x20]);
    assert_eq!(bytes.len(), 4102);
    assert_eq!(Message::decode(&bytes).unwrap(), data);
}

#[test]
fn dial_back_bytes() {
    let dial_back = DialBack { nonce: 0x0102_0304_0506_0708 };
    let want = [0x09, 8, 7, 6, 5, 4, 3, 2, 1];
    assert_eq!(dial_back.encode(), want);
    assert_eq!(DialBack::decode(&want).unwrap(), dial_back);
}

#[test]
fn every_status_round_trips() {
    for status in [
        ResponseStatus::InternalError,
        ResponseStatus::RequestRejected,
        ResponseStatus::DialRefused,
        ResponseStatus::Ok,
    ] {
        assert_eq!(ResponseStatus::from_code(status.code()), Some(status));
    }
    for status in [DialStatus::Unused, DialStatus::DialError, DialStatus::DialBackError, DialStatus::Ok] {
        assert_eq!(DialStatus::from_code(status.code()), Some(status));
    }
}

#[test]
fn unknown_status_codes_are_refused() {
    // status 201
    assert!(matches!(Message::decode(&[0x12, 3, 0x08, 0xc9, 0x01]), Err(DecodeError::ResponseStatus(201))));
    // dialStatus 1
    assert!(matches!(Message::decode(&[0x12, 5, 0x08, 0xc8, 0x01, 0x18, 1]), Err(DecodeError::DialStatus(1))));
    // DialBackResponse status 1
    assert!(matches!(DialBackResponse::decode(&[0x08, 1]), Err(DecodeError::DialBackStatus(1))));
    // A negative status: a ten-byte varint.
    let mut negative = vec![0x12, 11, 0x08];
    negative.extend_from_slice(&[0xff; 9]);
    negative.push(0x01);
    assert!(matches!(Message::decode(&negative), Err(DecodeError::ResponseStatus(-1))));
}

#[test]
fn an_empty_message_is_refused_and_unknown_fields_are_skipped() {
    assert!(matches!(Message::decode(&[]), Err(DecodeError::Empty)));
    assert!(matches!(Message::decode(&[0x28, 0x01]), Err(DecodeError::Empty))); // only field 5
    let mut bytes = Message::DialDataRequest(DialDataRequest { addr_idx: 1, num_bytes: 5 }).encode();
    bytes.extend_from_slice(&[0x28, 0x07]);
    assert_eq!(
        Message::decode(&bytes).unwrap(),
        Message::DialDataRequest(DialDataRequest { addr_idx: 1, num_bytes: 5 })
    );
}

#[test]
fn an_undecodable_address_keeps_its_index() {
    // addrs: [code 0x7f (unknown), ADDR], nonce 0
    let mut inner = vec![0x0a, 2, 0x7f, 0x00, 0x0a, 8];
    inner.extend_from_slice(&ADDR);
    let mut bytes = vec![0x0a, u8::try_from(inner.len()).unwrap()];
    bytes.extend_from_slice(&inner);
    let Message::DialRequest(request) = Message::decode(&bytes).unwrap() else { panic!("not a request") };
    assert_eq!(request.addrs, [Multiaddr::empty(), addr("/ip4/1.2.3.4/tcp/4001")]);
}

#[test]
fn truncated_and_malformed_messages_are_refused() {
    let full = Message::DialRequest(DialRequest { addrs: vec![addr("/ip4/1.2.3.4/tcp/4001")], nonce: 7 }).encode();
    for cut in 1..full.len() {
        assert!(Message::decode(&full[..cut]).is_err(), "cut at {cut}");
    }
    for bad in [&[0xff][..], &[0x0a, 0x05, 0x01], &[0x0b, 0x0c]] {
        assert!(Message::decode(bad).is_err(), "{bad:?}");
    }
    assert!(DialBack::decode(&[0x09, 1, 2]).is_err());
}

#[tokio::test]
async fn framing_bounds_what_is_read() {
    use crate::codec;

    // A frame announcing more than the bound is refused before reading it.
    let mut oversized = Vec::new();
    strata_core::varint::encode(codec::MAX_MESSAGE_SIZE as u64 + 1, &mut oversized);
    let mut reader = &oversized[..];
    assert!(matches!(
        codec::read_message(&mut reader).await,
        Err(crate::Error::Frame(strata_core::Error::MessageTooLarge { .. }))
    ));
    let mut reader: &[u8] = &[0x20, 0x09];
    assert!(codec::read_dial_back(&mut reader).await.is_err()); // truncated
    // A round trip through the codec.
    let mut wire = Vec::new();
    codec::write_dial_back(&mut wire, DialBack { nonce: 9 }).await.unwrap();
    codec::write_dial_back_response(&mut wire).await.unwrap();
    assert_eq!(wire[wire.len() - 1], 0x00);
    let mut reader = &wire[..];
    assert_eq!(codec::read_dial_back(&mut reader).await.unwrap(), DialBack { nonce: 9 });
    assert_eq!(codec::read_dial_back_response(&mut reader).await.unwrap(), DialBackResponse);
}
