//! One dial error enum over every transport: each `DialError` kind met for
//! real, over TCP and QUIC where both can meet it (the memory transport's
//! are in `host/tests/dial_errors.rs`, `DialError::Resolve` in `dns.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{sync::Arc, time::Duration};

use strata::{DialError, Host, Keypair, Multiaddr, PeerId, host, multistream, quic};
use strata_core::SecurityUpgrade as _;
use strata_testkit::within;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

const SHORT: Duration = Duration::from_millis(300);

/// A host of the facade's defaults (TCP and QUIC), listening on both.
async fn listener() -> Host {
    strata::builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .listen("/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap())
        .build()
        .await
        .unwrap()
}

/// A dialer whose upgrades (TCP) and handshakes (QUIC) time out soon.
async fn dialer() -> Host {
    let keypair = Keypair::generate_ed25519();
    let config = host::Config::default().with_upgrade_timeout(SHORT);
    let quic = move |identity: &Keypair| {
        quic::QuicTransport::new(identity, quic::Config::default().with_handshake_timeout(SHORT))
    };
    let upgrader = host::Upgrader::new(strata::tcp::TcpTransport::default())
        .security(strata::noise::Config::new)
        .muxer(strata::yamux::Config::default())
        .muxer(strata::mplex::Config::default());
    host::Builder::new(&keypair).upgrader(upgrader).source(quic).config(config).build().await.unwrap()
}

fn addr_of(host: &Host, transport: &str) -> Multiaddr {
    host.listen_addrs().into_iter().find(|addr| addr.to_string().contains(transport)).unwrap()
}

/// Dials `addr`, which must fail; returns the dial error, checked to name
/// `addr` and to be what the `DialFailed` event reported.
async fn failed(host: &Host, addr: Multiaddr) -> Arc<DialError> {
    let mut events = host.events();
    let error = within(host.dial(addr.clone())).await.unwrap_err();
    let host::Error::Dial(error) = error else { panic!("not a dial error: {error}") };
    assert_eq!(error.addr().clone().without_peer_id(), addr.without_peer_id(), "{error}");
    if !matches!(*error, DialError::UnsupportedAddress { .. }) {
        let Ok(strata::Event::DialFailed { error: reported, .. }) = within(events.recv()).await else { panic!() };
        assert!(Arc::ptr_eq(&reported, &error));
    }
    error
}

/// The error's source, as text (for messages).
fn kind(error: &DialError) -> String {
    format!("{error:?}")
}

#[tokio::test]
async fn a_wrong_peer_id_is_the_same_mismatch_over_tcp_and_quic() {
    let (server, client) = (listener().await, dialer().await);
    let impostor = PeerId::random();
    for transport in ["/tcp/", "/quic-v1"] {
        let addr = addr_of(&server, transport).with_p2p(impostor).unwrap();
        let error = failed(&client, addr).await;
        assert!(
            matches!(*error, DialError::PeerIdMismatch { expected, actual, .. } if expected == impostor && actual == server.peer_id()),
            "{transport}: {}",
            kind(&error)
        );
    }
    assert!(!client.is_connected(server.peer_id()));
}

#[tokio::test]
async fn nothing_listening_is_refused_over_tcp() {
    let client = dialer().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let error = failed(&client, format!("/ip4/127.0.0.1/tcp/{closed}").parse().unwrap()).await;
    assert!(matches!(*error, DialError::Refused { .. }), "{}", kind(&error));
}

#[tokio::test]
async fn a_silent_remote_times_out_over_tcp_and_quic() {
    let client = dialer().await;
    // TCP: accepts, then says nothing; the upgrade's deadline ends it.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move { silent.accept().await.map(|(socket, _)| socket) });
    let error = failed(&client, format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()).await;
    assert!(matches!(*error, DialError::Timeout { .. }), "{}", kind(&error));
    drop(hold);
    // QUIC: a UDP socket that never answers; the handshake's deadline ends it.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let error = failed(&client, format!("/ip4/127.0.0.1/udp/{port}/quic-v1").parse().unwrap()).await;
    assert!(matches!(*error, DialError::Timeout { .. }), "{}", kind(&error));
}

#[tokio::test]
async fn a_connection_closed_at_once_is_unreachable() {
    let client = dialer().await;
    let closing = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closing.local_addr().unwrap().port();
    tokio::spawn(async move { drop(closing.accept().await) });
    let error = failed(&client, format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()).await;
    assert!(matches!(*error, DialError::Unreachable { .. }), "{}", kind(&error));
}

#[tokio::test]
async fn a_handshake_of_junk_is_a_security_failure() {
    let client = dialer().await;
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = fake.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = fake.accept().await.unwrap();
        multistream::listener_select(&mut socket, &["/noise"]).await.unwrap();
        // A Noise frame of 48 bytes that is no message 2.
        socket.write_all(&[0, 48]).await.unwrap();
        socket.write_all(&[7; 48]).await.unwrap();
        // Held open until the dialer gives up and hangs up: the failure
        // is the junk, not a closed socket.
        drop(socket.read_to_end(&mut Vec::new()).await);
    });
    let error = failed(&client, format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()).await;
    assert!(matches!(*error, DialError::Security { .. }), "{}", kind(&error));
}

#[tokio::test]
async fn a_remote_without_our_muxers_fails_negotiation() {
    let client = dialer().await;
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = fake.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = fake.accept().await.unwrap();
        multistream::listener_select(&mut socket, &["/noise"]).await.unwrap();
        let noise = strata::noise::Config::new(&Keypair::generate_ed25519());
        let (_, mut secure) = noise.secure_inbound(socket).await.unwrap();
        // Offered yamux and mplex, it has neither.
        let _ = multistream::listener_select(&mut secure, &["/other-muxer/1.0.0"]).await;
        // Held open until the dialer gives up and hangs up.
        drop(secure.read_to_end(&mut Vec::new()).await);
    });
    let error = failed(&client, format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()).await;
    assert!(matches!(*error, DialError::Negotiation { .. }), "{}", kind(&error));
}

#[tokio::test]
async fn a_denied_peer_is_refused_by_our_limits_over_tcp_and_quic() {
    let (server, client) = (listener().await, dialer().await);
    client.deny_peer(server.peer_id()).await;
    for transport in ["/tcp/", "/quic-v1"] {
        let error = failed(&client, addr_of(&server, transport)).await;
        let DialError::Limit { source, .. } = &*error else { panic!("{transport}: {}", kind(&error)) };
        assert!(matches!(**source, host::Error::Denied(peer) if peer == server.peer_id()), "{source}");
    }
}

#[tokio::test]
async fn an_address_no_transport_serves_is_unsupported() {
    let client = dialer().await;
    let error = failed(&client, "/memory/1".parse().unwrap()).await;
    assert!(matches!(*error, DialError::UnsupportedAddress { .. }), "{}", kind(&error));
}
