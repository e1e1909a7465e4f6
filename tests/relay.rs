//! Circuit relay v2 through the whole stack, over TCP on 127.0.0.1: A
//! listens through relay R, B dials A through R, and the relayed
//! connection, upgraded end to end with Noise and a muxer, carries ping and
//! request/response and is marked limited on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata::{
    Host, Keypair, Multiaddr,
    host::{RequestConfig, Upgrader},
    noise, ping, relay, yamux,
};
use strata_testkit::{address_of, builder, eventually, host, within};

/// A host on 127.0.0.1 with TCP and the relay client's transport (Noise
/// and yamux above it, as above TCP).
async fn client_host() -> (Host, relay::Client) {
    client_host_with(relay::ClientConfig::default()).await
}

async fn client_host_with(config: relay::ClientConfig) -> (Host, relay::Client) {
    let (client, transport) = relay::Client::new(config);
    let circuits = Upgrader::new(transport).security(noise::Config::new).muxer(yamux::Config::default());
    let host = builder(&Keypair::generate_ed25519())
        .upgrader(circuits)
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    client.attach(&host).unwrap();
    (host, client)
}

#[tokio::test]
async fn a_peer_behind_a_relay_is_dialed_pinged_and_asked_through_it() {
    let relay_host = host().await;
    let relay = relay::Relay::attach(&relay_host, relay::Config::default()).unwrap();
    let ((a, _a_client), (b, _b_client)) = (client_host().await, client_host().await);

    // A listens through R: a reservation, and circuit addresses.
    let through_relay: Multiaddr = format!("{}/p2p-circuit", address_of(&relay_host)).parse().unwrap();
    let addrs = within(a.listen(through_relay.clone())).await.unwrap();
    assert_eq!(relay.reservation_count(), 1);
    assert!(addrs.iter().all(strata::host::is_relayed), "{addrs:?}");

    // B dials A through R.
    let (mut a_events, mut b_events) = (a.lifecycle(), b.lifecycle());
    let target: Multiaddr = format!("{through_relay}/p2p/{}", a.peer_id()).parse().unwrap();
    assert_eq!(within(b.dial(target)).await.unwrap(), a.peer_id()); // Noise proved A, end to end
    assert!(strata_testkit::established(&mut b_events, a.peer_id()).await.is_limited());
    assert!(strata_testkit::established(&mut a_events, b.peer_id()).await.is_limited());
    assert_eq!(relay.circuit_count(), 1);

    // Ping and request/response over the relayed connection.
    let (_a_ping, b_ping) = (
        ping::Ping::attach(&a, ping::Config::default()).unwrap(),
        ping::Ping::attach(&b, ping::Config::default()).unwrap(),
    );
    within(b_ping.ping(a.peer_id())).await.unwrap();
    a.serve("/strata/test/echo/1.0.0", RequestConfig::default(), |requester, request| async move {
        assert!(strata::host::is_relayed(&requester.remote_addr));
        Ok([b"echo: ".as_slice(), &request].concat())
    })
    .unwrap();
    let response =
        within(b.request(a.peer_id(), "/strata/test/echo/1.0.0", b"hello", &RequestConfig::default())).await.unwrap();
    assert_eq!(response, b"echo: hello");

    // Closing the relayed connection frees the circuit on the relay.
    b.disconnect(a.peer_id()).await;
    eventually("the relay released the circuit", async || relay.circuit_count() == 0).await;
}

#[tokio::test]
async fn dialing_a_peer_without_reservation_fails_and_listening_twice_is_refused() {
    let relay_host = host().await;
    let _relay = relay::Relay::attach(&relay_host, relay::Config::default()).unwrap();
    let ((a, _a_client), (b, _b_client)) = (client_host().await, client_host().await);
    let through_relay: Multiaddr = format!("{}/p2p-circuit", address_of(&relay_host)).parse().unwrap();
    let target: Multiaddr = format!("{through_relay}/p2p/{}", a.peer_id()).parse().unwrap();
    let error = within(b.dial(target)).await.unwrap_err();
    assert!(format!("{error:?}").contains("NoReservation"), "{error:?}");

    within(a.listen(through_relay.clone())).await.unwrap();
    assert!(within(a.listen(through_relay)).await.is_err());
}

#[tokio::test]
async fn a_reservation_is_renewed_before_it_expires() {
    let relay_host = host().await;
    let ttl = std::time::Duration::from_secs(2);
    let _relay = relay::Relay::attach(&relay_host, relay::Config::default().with_reservation_ttl(ttl)).unwrap();
    let config = relay::ClientConfig::default().with_min_renewal_delay(std::time::Duration::from_millis(100));
    let (a, a_client) = client_host_with(config).await;
    let mut events = a_client.events();
    let through_relay: Multiaddr = format!("{}/p2p-circuit", address_of(&relay_host)).parse().unwrap();
    within(a.listen(through_relay)).await.unwrap();

    let mut next = async || match within(events.recv()).await.unwrap() {
        relay::ClientEvent::Reserved { relay, expire, renewal } if relay == relay_host.peer_id() => (expire, renewal),
        other => panic!("unexpected {other:?}"),
    };
    let (first, renewal) = next().await;
    assert!(!renewal);
    // Renewed at three quarters of the 2 s left (whole seconds on the wire).
    let (renewed, renewal) = next().await;
    assert!(renewal);
    assert!(renewed >= first, "{renewed} < {first}");
}

#[tokio::test]
async fn the_client_lets_go_of_its_host_at_shutdown() {
    let (a, a_client) = client_host().await;
    assert!(a_client.is_attached());
    assert!(matches!(a_client.attach(&a), Err(relay::Error::AlreadyAttached)));
    a.shutdown().await;
    assert!(!a_client.is_attached());
}
