//! The hop service between hosts over TCP on 127.0.0.1: a reservation, a
//! circuit that carries bytes, and each refusal with its status code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{accept_and_echo, connect, hop, reserve, status_of};
use strata_relay::{Config, HopMessage, Limit, Relay, Status};
use strata_testkit::{eventually, host, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_reserved_peer_is_reached_through_a_circuit() {
    let (relay_host, a, b) = (host().await, host().await, host().await);
    let relay = Relay::attach(&relay_host, Config::default()).unwrap();
    let mut initiators = accept_and_echo(&a);

    let (_, answer) = hop(&a, &relay_host, &HopMessage::Reserve).await;
    let HopMessage::Status { status: Status::Ok, reservation: Some(reservation), limit } = answer else {
        panic!("not granted: {answer:?}");
    };
    assert_eq!(limit, Some(Limit { duration: Some(120), data: Some(128 * 1024) }));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!((now + 3590..=now + 3610).contains(&reservation.expire), "expire {} vs now {now}", reservation.expire);
    assert!(!reservation.addrs.is_empty());
    assert!(reservation.addrs.iter().all(|addr| addr.peer_id() == Some(relay_host.peer_id())));
    assert_eq!(relay.reservation_count(), 1);

    let (mut circuit, status) = connect(&b, &relay_host, a.peer_id()).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(within(initiators.recv()).await, Some(b.peer_id()));
    assert_eq!(relay.circuit_count(), 1);
    circuit.write_all(b"through the relay").await.unwrap();
    let mut echoed = [0u8; 17];
    within(circuit.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(&echoed, b"through the relay");

    // B closes its side: the half-close travels to A, whose echo loop ends.
    circuit.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within(circuit.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    eventually("the circuit is released", async || relay.circuit_count() == 0).await;
}

#[tokio::test]
async fn connect_to_a_peer_without_reservation_is_no_reservation() {
    let (relay_host, a, b) = (host().await, host().await, host().await);
    let _relay = Relay::attach(&relay_host, Config::default()).unwrap();
    accept_and_echo(&a);
    // A is connected to the relay, but holds no reservation.
    within(a.dial(strata_testkit::address_of(&relay_host))).await.unwrap();
    assert_eq!(connect(&b, &relay_host, a.peer_id()).await.1, Status::NoReservation);
}

#[tokio::test]
async fn a_target_that_refuses_the_stop_protocol_is_connection_failed() {
    let (relay_host, a, b) = (host().await, host().await, host().await);
    let relay = Relay::attach(&relay_host, Config::default()).unwrap();
    assert_eq!(reserve(&a, &relay_host).await, Status::Ok); // but A serves no stop protocol
    assert_eq!(connect(&b, &relay_host, a.peer_id()).await.1, Status::ConnectionFailed);
    eventually("the circuit slot is released", async || relay.circuit_count() == 0).await;
}

#[tokio::test]
async fn the_reservation_ends_when_the_peer_disconnects() {
    let (relay_host, a, b) = (host().await, host().await, host().await);
    let relay = Relay::attach(&relay_host, Config::default()).unwrap();
    assert_eq!(reserve(&a, &relay_host).await, Status::Ok);
    a.disconnect(relay_host.peer_id()).await;
    eventually("the reservation is gone", async || relay.reservation_count() == 0).await;
    assert_eq!(connect(&b, &relay_host, a.peer_id()).await.1, Status::NoReservation);
}

#[tokio::test]
async fn malformed_and_unexpected_messages_get_their_status() {
    let (relay_host, client) = (host().await, host().await);
    let _relay = Relay::attach(&relay_host, Config::default()).unwrap();
    let status = HopMessage::Status { status: Status::Ok, reservation: None, limit: None };
    assert_eq!(status_of(&hop(&client, &relay_host, &status).await.1), Status::UnexpectedMessage);

    let mut stream = within(client.open_stream(relay_host.peer_id(), &[strata_relay::HOP_PROTOCOL])).await.unwrap();
    strata_core::framing::write_length_prefixed(&mut stream, &[0x08, 0x01]).await.unwrap(); // CONNECT, no peer
    let answer = within(strata_relay::codec::read_hop(&mut stream)).await.unwrap();
    assert_eq!(status_of(&answer), Status::MalformedMessage);
}

#[tokio::test]
async fn a_reservation_lists_what_the_relay_tells_that_peer_and_no_circuit() {
    let (relay_host, a) = (host().await, host().await);
    let _relay = Relay::attach(&relay_host, Config::default()).unwrap();
    let public: strata_core::Multiaddr = "/ip4/198.18.0.9/tcp/4001".parse().unwrap();
    let relayed: strata_core::Multiaddr =
        format!("/ip4/198.18.0.10/tcp/4001/p2p/{}/p2p-circuit", a.peer_id()).parse().unwrap();
    relay_host.add_external_addr(public.clone());
    relay_host.add_external_addr(relayed);

    let (_, answer) = hop(&a, &relay_host, &HopMessage::Reserve).await;
    let HopMessage::Status { status: Status::Ok, reservation: Some(reservation), .. } = answer else {
        panic!("not granted: {answer:?}");
    };
    let relay = relay_host.peer_id();
    // A confirmed external address is told (the listen addresses alone
    // left it out); a peer on the loopback hears the loopback address too.
    assert!(reservation.addrs.contains(&public.clone().with_p2p(relay).unwrap()), "{:?}", reservation.addrs);
    let listening = strata_testkit::address_of(&relay_host);
    assert!(reservation.addrs.iter().any(|addr| addr.ip() == listening.ip()), "{:?}", reservation.addrs);
    assert!(reservation.addrs.iter().all(|addr| !strata_host::is_relayed(addr)), "{:?}", reservation.addrs);
}
