//! The memory transport: listen, dial, bytes both ways, refusals, and a
//! freed number.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use strata_core::{
    Multiaddr,
    transport::{Listener as _, Transport as _},
};
use strata_memory::MemoryTransport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_dialer_and_a_listener_talk_through_a_pipe() {
    let transport = MemoryTransport::default();
    let mut listener = transport.listen(&"/memory/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs()[0].clone();
    assert!(addr.to_string().starts_with("/memory/"), "{addr}");
    let (dialed, accepted) = tokio::join!(transport.dial(&addr), listener.accept());
    let (mut dialed, (mut accepted, from)) = (dialed.unwrap(), accepted.unwrap());
    assert!(from.to_string().starts_with("/memory/") && from != addr);
    dialed.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    accepted.write_all(b"pong").await.unwrap();
    dialed.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
}

#[tokio::test]
async fn unknown_numbers_are_refused_and_a_dropped_listener_frees_its_number() {
    let transport = MemoryTransport::default();
    let addr: Multiaddr = "/memory/424242".parse().unwrap();
    assert!(transport.dial(&addr).await.is_err(), "nobody listens");
    let listener = transport.listen(&addr).await.unwrap();
    assert!(transport.listen(&addr).await.is_err(), "taken");
    drop(listener);
    assert!(transport.dial(&addr).await.is_err(), "freed");
    assert!(transport.listen(&addr).await.is_ok(), "free again");
    assert!(!transport.can_dial(&"/ip4/127.0.0.1/tcp/1".parse().unwrap()));
}
