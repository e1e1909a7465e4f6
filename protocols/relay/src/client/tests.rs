//! Each client exchange against a scripted relay over an in-memory duplex.

#![allow(clippy::unwrap_used, clippy::panic)]

use strata_core::framing;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

fn pair() -> (DuplexStream, DuplexStream) {
    tokio::io::duplex(4096)
}

#[tokio::test]
async fn reserve_returns_the_reservation_and_limit() {
    let (mut client, mut relay) = pair();
    let reservation = Reservation { expire: 42, addrs: vec![], voucher: None };
    let limit = Some(Limit { duration: Some(120), data: Some(1024) });
    let answer = HopMessage::Status { status: Status::Ok, reservation: Some(reservation.clone()), limit };
    codec::write_hop(&mut relay, &answer).await.unwrap();
    assert_eq!(reserve(&mut client).await.unwrap(), (reservation, limit));
    assert_eq!(codec::read_hop(&mut relay).await.unwrap(), HopMessage::Reserve);
}

#[tokio::test]
async fn reserve_refusals_and_oddities_are_errors() {
    let (mut client, mut relay) = pair();
    let refusal = HopMessage::Status { status: Status::ResourceLimitExceeded, reservation: None, limit: None };
    codec::write_hop(&mut relay, &refusal).await.unwrap();
    assert!(matches!(reserve(&mut client).await, Err(Error::Refused(Status::ResourceLimitExceeded))));

    let (mut client, mut relay) = pair();
    let empty = HopMessage::Status { status: Status::Ok, reservation: None, limit: None };
    codec::write_hop(&mut relay, &empty).await.unwrap();
    assert!(matches!(reserve(&mut client).await, Err(Error::MissingReservation)));

    let (mut client, mut relay) = pair();
    codec::write_hop(&mut relay, &HopMessage::Reserve).await.unwrap();
    assert!(matches!(reserve(&mut client).await, Err(Error::Unexpected { wanted: "STATUS" })));

    // A frame above the bound is refused before it is read.
    let (mut client, mut relay) = pair();
    let mut prefix = Vec::new();
    strata_core::varint::encode(crate::MAX_MESSAGE_SIZE as u64 + 1, &mut prefix);
    relay.write_all(&prefix).await.unwrap();
    let error = reserve(&mut client).await.unwrap_err();
    assert!(matches!(error, Error::Frame(strata_core::Error::MessageTooLarge { .. })), "{error:?}");
}

#[tokio::test]
async fn connect_leaves_the_stream_as_the_circuit() {
    let (mut client, mut relay) = pair();
    let target = PeerId::random();
    let ok = HopMessage::Status { status: Status::Ok, reservation: None, limit: None };
    let mut script = Vec::new();
    framing::encode_length_prefixed(&ok.encode(), &mut script);
    script.extend_from_slice(b"relayed bytes"); // right behind the answer
    relay.write_all(&script).await.unwrap();
    assert_eq!(connect(&mut client, target).await.unwrap(), None);
    let mut rest = [0u8; 13];
    client.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"relayed bytes");
    let HopMessage::Connect { peer } = codec::read_hop(&mut relay).await.unwrap() else { panic!() };
    assert_eq!(peer.id, target);

    let (mut client, mut relay) = pair();
    let refusal = HopMessage::Status { status: Status::NoReservation, reservation: None, limit: None };
    codec::write_hop(&mut relay, &refusal).await.unwrap();
    assert!(matches!(connect(&mut client, target).await, Err(Error::Refused(Status::NoReservation))));
}

#[tokio::test]
async fn accept_stop_answers_ok_or_names_the_fault() {
    let (mut target, mut relay) = pair();
    let initiator = PeerId::random();
    let limit = Some(Limit { duration: Some(60), data: None });
    let connect = StopMessage::Connect { peer: Peer { id: initiator, addrs: vec![] }, limit };
    codec::write_stop(&mut relay, &connect).await.unwrap();
    assert_eq!(accept_stop(&mut target).await.unwrap(), (initiator, limit));
    assert_eq!(codec::read_stop(&mut relay).await.unwrap(), StopMessage::Status(Status::Ok));

    let (mut target, mut relay) = pair();
    codec::write_stop(&mut relay, &StopMessage::Status(Status::Ok)).await.unwrap();
    assert!(matches!(accept_stop(&mut target).await, Err(Error::Unexpected { wanted: "CONNECT" })));
    assert_eq!(codec::read_stop(&mut relay).await.unwrap(), StopMessage::Status(Status::UnexpectedMessage));

    let (mut target, mut relay) = pair();
    framing::write_length_prefixed(&mut relay, &[0x08, 0x00]).await.unwrap(); // CONNECT without a peer
    assert!(matches!(accept_stop(&mut target).await, Err(Error::Decode(_))));
    assert_eq!(codec::read_stop(&mut relay).await.unwrap(), StopMessage::Status(Status::MalformedMessage));
}
