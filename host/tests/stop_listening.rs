//! Stopping a listener: its addresses leave the host's listen addresses at
//! once and are reported expired; it accepts no more connections; other
//! listeners and established connections stay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::Keypair;
use strata_host::{Event, Host};
use strata_memory::MemoryTransport;

async fn host() -> Host {
    let keypair = Keypair::generate_ed25519();
    Host::builder(&keypair, MemoryTransport::default(), strata_noise::Config::new, strata_mplex::Config::default())
        .build()
        .await
        .unwrap()
}

/// Every wait of this test is bounded.
async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future).await.expect("timed out")
}

#[tokio::test]
async fn a_stopped_listener_takes_its_addresses_with_it() {
    let (listener, dialer) = (host().await, host().await);
    let first = within(listener.listen("/memory/0".parse().unwrap())).await.unwrap();
    let second = within(listener.listen("/memory/0".parse().unwrap())).await.unwrap();
    let connected = first[0].clone().with_p2p(listener.peer_id()).unwrap();
    within(dialer.dial(connected)).await.unwrap();
    let mut events = listener.events();

    assert!(listener.stop_listening(&first[0]));
    assert_eq!(listener.listen_addrs(), second);
    assert!(!listener.stop_listening(&first[0]), "stopped once");
    match within(events.recv()).await.unwrap() {
        Event::ListenAddrExpired { addr } => assert_eq!(addr, first[0]),
        other => panic!("unexpected {other:?}"),
    }
    // The connection it accepted stays; a new one to it is refused, one
    // to the other listener is not.
    assert!(dialer.is_connected(listener.peer_id()));
    // (The accept loop ends at its next turn: until then a dial may
    // still reach the stopped listener's queue.)
    let other = host().await;
    within(async {
        while other.dial(first[0].clone()).await.is_ok() {
            other.disconnect(listener.peer_id()).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(within(other.dial(second[0].clone())).await.unwrap(), listener.peer_id());
}
