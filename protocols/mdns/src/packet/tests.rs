#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use hickory_proto::{
    op::{Message, MessageType, OpCode},
    rr::{
        Name, RData, Record,
        rdata::{PTR, TXT},
    },
};
use strata_core::{Keypair, Multiaddr, PeerId};

use super::{
    Announcement, MAX_PACKET, Packet, PacketError, parse, query, random_peer_name, response, services_response,
};

fn peer() -> PeerId {
    Keypair::ed25519_from_secret([7; 32]).peer_id()
}

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

#[test]
fn the_query_is_one_ptr_question_for_the_service_name() {
    let bytes = query();
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0, 0, 0, 0, // id 0, flags: a standard query
        0, 1, 0, 0, 0, 0, 0, 0, // one question, no records
        4, b'_', b'p', b'2', b'p', 4, b'_', b'u', b'd', b'p', 5, b'l', b'o', b'c', b'a', b'l', 0,
        0, 12, // PTR
        0, 1, // IN
    ];
    assert_eq!(bytes, expected);
    assert_eq!(parse(&bytes, 16).unwrap(), Packet::Query { peers: true, services: false });
}

#[test]
fn a_response_announces_every_address_with_the_peer_id() {
    let addrs = [addr("/ip4/192.0.2.1/tcp/4001"), addr("/ip6/2001:db8::1/tcp/4001")];
    let packets = response("abcdefghijklmnopqrstuvwxyz012345", peer(), &addrs, Duration::from_mins(6));
    assert_eq!(packets.len(), 1);
    let message = Message::from_vec(&packets[0]).unwrap();
    assert_eq!(message.metadata.message_type, MessageType::Response);
    assert!(message.metadata.authoritative);
    assert_eq!(message.answers.len(), 1, "the PTR");
    assert_eq!(message.additionals.len(), 2, "a TXT record per address");
    let RData::TXT(txt) = &message.additionals[0].data else { panic!() };
    let string = String::from_utf8(txt.txt_data[0].to_vec()).unwrap();
    assert_eq!(string, format!("dnsaddr=/ip4/192.0.2.1/tcp/4001/p2p/{}", peer()));
    assert_eq!(
        message.additionals[0].name.to_ascii(),
        "abcdefghijklmnopqrstuvwxyz012345._p2p._udp.local.",
        "<peer-name>.<service-name>"
    );
    let expected = Announcement { peer: peer(), addrs: addrs.to_vec(), ttl: Duration::from_mins(6) };
    assert_eq!(parse(&packets[0], 16).unwrap(), Packet::Response(vec![expected]));
}

#[test]
fn many_addresses_are_spread_over_packets_under_the_mtu() {
    let addrs: Vec<Multiaddr> = (0..60).map(|n| addr(&format!("/ip4/10.0.{n}.1/tcp/4001"))).collect();
    let packets = response(&random_peer_name(), peer(), &addrs, Duration::from_mins(1));
    assert!(packets.len() > 1);
    let mut seen = Vec::new();
    for packet in &packets {
        assert!(packet.len() <= 1400, "{}", packet.len());
        let Packet::Response(announcements) = parse(packet, 100).unwrap() else { panic!() };
        seen.extend(announcements[0].addrs.clone());
    }
    assert_eq!(seen, addrs);
}

/// A response laid out as rust-libp2p's and go's differ: the PTR target
/// a bare label, the TXT records in the answers, several strings in one
/// record, a string that is not an address, and an address of someone else.
#[test]
fn responses_of_other_layouts_are_read() {
    let target = Name::from_ascii("xyz").unwrap();
    let mut message = Message::new(0, MessageType::Response, OpCode::Query);
    message.add_answer(Record::from_rdata(
        Name::from_ascii("_P2P._udp.local.").unwrap(),
        120,
        RData::PTR(PTR(target.clone())),
    ));
    let other = PeerId::random();
    let strings = vec![
        "version=1".to_owned(),
        format!("dnsaddr=/ip4/192.0.2.9/tcp/1/p2p/{}", peer()),
        format!("dnsaddr=/ip4/192.0.2.9/tcp/2/p2p/{other}"),
        "dnsaddr=not an address".to_owned(),
    ];
    message.add_answer(Record::from_rdata(target.clone(), 120, RData::TXT(TXT::new(strings))));
    let txt = format!("dnsaddr=/ip4/192.0.2.9/udp/3/quic-v1/p2p/{}", peer());
    message.add_additional(Record::from_rdata(target, 120, RData::TXT(TXT::new(vec![txt]))));
    let Packet::Response(announcements) = parse(&message.to_vec().unwrap(), 16).unwrap() else { panic!() };
    assert_eq!(
        announcements,
        [Announcement {
            peer: peer(),
            addrs: vec![addr("/ip4/192.0.2.9/tcp/1"), addr("/ip4/192.0.2.9/udp/3/quic-v1")],
            ttl: Duration::from_mins(2)
        }]
    );
}

#[test]
fn the_service_list_query_is_answered_with_the_service_name() {
    let mut message = Message::new(0, MessageType::Query, OpCode::Query);
    message.add_query(hickory_proto::op::Query::query(
        Name::from_ascii("_services._dns-sd._udp.local.").unwrap(),
        hickory_proto::rr::RecordType::PTR,
    ));
    assert_eq!(parse(&message.to_vec().unwrap(), 16).unwrap(), Packet::Query { peers: false, services: true });
    let answer = Message::from_vec(&services_response(Duration::from_mins(1))).unwrap();
    let RData::PTR(PTR(target)) = &answer.answers[0].data else { panic!() };
    assert_eq!(target.to_ascii(), "_p2p._udp.local.");
}

#[test]
fn oversized_and_malformed_packets_are_errors_not_panics() {
    assert!(matches!(parse(&vec![0; MAX_PACKET + 1], 16), Err(PacketError::TooLarge(_))));
    let good = response("name", peer(), &[addr("/ip4/192.0.2.1/tcp/1")], Duration::from_secs(1)).remove(0);
    for cut in 0..good.len() {
        let _ = parse(&good[..cut], 16);
    }
    let mut state = 0x9e37_79b9_u32;
    for len in 0..2000 {
        let bytes: Vec<u8> = (0..len % 600)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect();
        let _ = parse(&bytes, 16);
    }
}

#[test]
fn addresses_per_peer_are_bounded_and_names_are_random() {
    let addrs: Vec<Multiaddr> = (0..10).map(|n| addr(&format!("/ip4/10.0.0.{n}/tcp/1"))).collect();
    let packet = response("n", peer(), &addrs, Duration::from_secs(1)).remove(0);
    let Packet::Response(announcements) = parse(&packet, 3).unwrap() else { panic!() };
    assert_eq!(announcements[0].addrs.len(), 3);
    let (a, b) = (random_peer_name(), random_peer_name());
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_ne!(a, b);
}
