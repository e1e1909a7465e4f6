//! The hop service's limits between hosts over TCP on 127.0.0.1, with
//! small configured limits (the defaults are tested on the sans-IO
//! `HopState`): reservations, reservations per IP, circuits, and the byte
//! and time caps that end a circuit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

mod common;

use std::time::{Duration, Instant};

use common::{accept_and_echo, connect, reserve};
use strata_host::Stream;
use strata_relay::{Config, Relay, Status};
use strata_testkit::{eventually, host, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads until the circuit ends (EOF or reset); returns what came through.
async fn until_ended(circuit: &mut Stream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match within(circuit.read(&mut buffer)).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test]
async fn reservations_past_the_limit_are_refused_but_renewals_pass() {
    let relay_host = host().await;
    let relay = Relay::attach(&relay_host, Config::default().with_max_reservations(2)).unwrap();
    let (a, b, c) = (host().await, host().await, host().await);
    assert_eq!(reserve(&a, &relay_host).await, Status::Ok);
    assert_eq!(reserve(&b, &relay_host).await, Status::Ok);
    assert_eq!(reserve(&c, &relay_host).await, Status::ReservationRefused);
    assert_eq!(reserve(&a, &relay_host).await, Status::Ok); // a renewal
    assert_eq!(relay.reservation_count(), 2);
}

#[tokio::test]
async fn reservations_per_ip_are_bounded() {
    let relay_host = host().await;
    let config = Config::default().with_max_reservations_per_ip(1);
    let _relay = Relay::attach(&relay_host, config).unwrap();
    let (a, b) = (host().await, host().await);
    assert_eq!(reserve(&a, &relay_host).await, Status::Ok);
    // B comes from 127.0.0.1 too.
    assert_eq!(reserve(&b, &relay_host).await, Status::ReservationRefused);
}

#[tokio::test]
async fn circuits_past_the_limit_are_refused_until_one_ends() {
    let relay_host = host().await;
    let relay = Relay::attach(&relay_host, Config::default().with_max_circuits(2)).unwrap();
    let target = host().await;
    accept_and_echo(&target);
    assert_eq!(reserve(&target, &relay_host).await, Status::Ok);
    let (b1, b2, b3) = (host().await, host().await, host().await);
    let (first, status) = connect(&b1, &relay_host, target.peer_id()).await;
    assert_eq!(status, Status::Ok);
    let (_second, status) = connect(&b2, &relay_host, target.peer_id()).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(connect(&b3, &relay_host, target.peer_id()).await.1, Status::ResourceLimitExceeded);

    drop(first); // a reset: the relay ends that circuit
    eventually("a circuit slot is free", async || relay.circuit_count() == 1).await;
    assert_eq!(connect(&b3, &relay_host, target.peer_id()).await.1, Status::Ok);
}

#[tokio::test]
async fn the_byte_cap_ends_a_circuit() {
    let relay_host = host().await;
    let relay = Relay::attach(&relay_host, Config::default().with_circuit_bytes(1024)).unwrap();
    let (target, initiator) = (host().await, host().await);
    accept_and_echo(&target);
    assert_eq!(reserve(&target, &relay_host).await, Status::Ok);
    let (mut circuit, status) = connect(&initiator, &relay_host, target.peer_id()).await;
    assert_eq!(status, Status::Ok);

    // Exactly the cap passes, both ways.
    circuit.write_all(&[7; 1024]).await.unwrap();
    let mut echoed = vec![0u8; 1024];
    within(circuit.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(echoed, [7; 1024]);
    // One byte more ends the circuit: nothing more comes back.
    circuit.write_all(&[8]).await.unwrap();
    assert!(until_ended(&mut circuit).await.is_empty());
    eventually("the circuit is released", async || relay.circuit_count() == 0).await;
}

#[tokio::test]
async fn the_time_cap_ends_a_circuit() {
    let relay_host = host().await;
    let duration = Duration::from_millis(300);
    let relay = Relay::attach(&relay_host, Config::default().with_circuit_duration(duration)).unwrap();
    let (target, initiator) = (host().await, host().await);
    accept_and_echo(&target);
    assert_eq!(reserve(&target, &relay_host).await, Status::Ok);
    let (mut circuit, status) = connect(&initiator, &relay_host, target.peer_id()).await;
    let opened = Instant::now();
    assert_eq!(status, Status::Ok);
    circuit.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    within(circuit.read_exact(&mut echoed)).await.unwrap();

    // Nothing more is sent: the relay ends the circuit when its time is up.
    assert!(until_ended(&mut circuit).await.is_empty());
    // The relay's clock started a little before ours (it sent the OK).
    let lower = Duration::from_millis(250);
    assert!(opened.elapsed() >= lower, "ended after {:?}", opened.elapsed());
    eventually("the circuit is released", async || relay.circuit_count() == 0).await;
}
