//! The memory transport fails a dial with the same `DialError` kinds as
//! TCP and QUIC (the facade's `tests/dial_errors.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_core::{Keypair, PeerId};
use strata_host::{Builder, DialError, Error, Host};
use strata_memory::MemoryTransport;

async fn node(listen: bool) -> Host {
    let keypair = Keypair::generate_ed25519();
    let builder =
        Host::builder(&keypair, MemoryTransport::default(), strata_noise::Config::new, strata_mplex::Config::default());
    let builder: Builder = if listen { builder.listen("/memory/0".parse().unwrap()) } else { builder };
    builder.build().await.unwrap()
}

async fn failed(host: &Host, addr: strata_core::Multiaddr) -> std::sync::Arc<DialError> {
    let error = tokio::time::timeout(std::time::Duration::from_secs(10), host.dial(addr)).await.unwrap().unwrap_err();
    let Error::Dial(error) = error else { panic!("not a dial error: {error}") };
    error
}

#[tokio::test]
async fn a_wrong_peer_id_is_a_mismatch() {
    let (server, client) = (node(true).await, node(false).await);
    let impostor = PeerId::random();
    let error = failed(&client, server.listen_addrs()[0].clone().with_p2p(impostor).unwrap()).await;
    assert!(
        matches!(*error, DialError::PeerIdMismatch { expected, actual, .. } if expected == impostor && actual == server.peer_id()),
        "{error:?}"
    );
    assert!(!client.is_connected(server.peer_id()));
}

#[tokio::test]
async fn nothing_listening_is_refused() {
    let client = node(false).await;
    let addr: strata_core::Multiaddr = "/memory/4242424242".parse().unwrap();
    let error = failed(&client, addr.clone()).await;
    assert!(matches!(&*error, DialError::Refused { addr: tried, .. } if *tried == addr), "{error:?}");
}
