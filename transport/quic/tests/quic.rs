//! QUIC connections end to end on 127.0.0.1: the handshake authenticates
//! both peers, streams carry data both ways, a wrong peer id fails the
//! dial, and limits hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_testkit::within;

use strata_core::{ConnectionListener, ConnectionSource, Keypair, Multiaddr, MuxedConnection};
use strata_quic::{Config, Error, QuicConnection, QuicTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn key(byte: u8) -> Keypair {
    Keypair::ed25519_from_secret([byte; 32])
}

/// A listener of `identity`, accepting one connection in a task.
async fn listening(
    identity: &Keypair,
    config: Config,
) -> (Multiaddr, tokio::task::JoinHandle<Result<(strata_core::PeerId, QuicConnection), Error>>) {
    let transport = QuicTransport::new(identity, config);
    let mut listener = transport.listen(&"/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs()[0].clone();
    let accepting = tokio::spawn(async move {
        let (_, upgrade) = listener.accept().await?;
        let result = upgrade.await;
        drop(listener);
        result
    });
    (addr, accepting)
}

#[tokio::test]
async fn both_sides_learn_who_the_other_is_and_streams_carry_data_both_ways() {
    let (alice, bob) = (key(1), key(2));
    let (addr, accepting) = listening(&bob, Config::default()).await;
    assert!(addr.to_string().starts_with("/ip4/127.0.0.1/udp/") && addr.to_string().ends_with("/quic-v1"), "{addr}");
    let dialer = QuicTransport::new(&alice, Config::default());
    let (seen, connection) = within(dialer.dial(&addr, Some(bob.peer_id()))).await.unwrap();
    let (seen_by_bob, bob_connection) = within(accepting).await.unwrap().unwrap();
    assert_eq!((seen, seen_by_bob), (bob.peer_id(), alice.peer_id()));

    let echo = tokio::spawn(async move {
        let mut stream = bob_connection.accept_stream().await.unwrap().unwrap();
        let mut data = Vec::new();
        stream.read_to_end(&mut data).await.unwrap();
        stream.write_all(&data).await.unwrap();
        stream.shutdown().await.unwrap();
        bob_connection
    });
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut stream = within(connection.open_stream()).await.unwrap();
    stream.write_all(&data).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    within(stream.read_to_end(&mut back)).await.unwrap();
    assert!(back == data, "3 MB came back changed");
    let _bob = within(echo).await.unwrap();
}

#[tokio::test]
async fn a_dial_expecting_another_peer_fails_and_without_expectation_succeeds() {
    let (alice, bob, carol) = (key(3), key(4), key(5));
    let (addr, accepting) = listening(&bob, Config::default()).await;
    let dialer = QuicTransport::new(&alice, Config::default());
    let wrong = within(dialer.dial(&addr, Some(carol.peer_id()))).await;
    let Err(Error::PeerIdMismatch(mismatch)) = wrong else { panic!("a dial for carol: {wrong:?}") };
    assert_eq!((mismatch.expected, mismatch.actual), (carol.peer_id(), bob.peer_id()));
    // The listener saw a failed handshake, not a connection.
    assert!(within(accepting).await.unwrap().is_err());

    let (addr, accepting) = listening(&bob, Config::default()).await;
    let (seen, _connection) = within(dialer.dial(&addr, None)).await.unwrap();
    assert_eq!(seen, bob.peer_id());
    assert!(within(accepting).await.unwrap().is_ok());
}

#[tokio::test]
async fn many_streams_at_once_each_keep_their_own_bytes() {
    let (alice, bob) = (key(6), key(7));
    let (addr, accepting) = listening(&bob, Config::default()).await;
    let (_, connection) = within(QuicTransport::new(&alice, Config::default()).dial(&addr, None)).await.unwrap();
    let (_, server) = within(accepting).await.unwrap().unwrap();
    let echo = tokio::spawn(async move {
        while let Ok(Some(mut stream)) = server.accept_stream().await {
            tokio::spawn(async move {
                let mut data = Vec::new();
                stream.read_to_end(&mut data).await.unwrap();
                stream.write_all(&data).await.unwrap();
                stream.shutdown().await.unwrap();
            });
        }
    });
    let mut tasks = Vec::new();
    for n in 0..100u32 {
        let connection = connection.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = connection.open_stream().await.unwrap();
            let data = n.to_be_bytes().repeat(1000);
            stream.write_all(&data).await.unwrap();
            stream.shutdown().await.unwrap();
            let mut back = Vec::new();
            stream.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, data);
        }));
    }
    for task in tasks {
        within(task).await.unwrap();
    }
    connection.close().await.unwrap();
    within(echo).await.unwrap();
}

#[tokio::test]
async fn a_stream_dropped_without_closing_is_reset_and_a_closed_connection_ends_accepting() {
    let (alice, bob) = (key(8), key(9));
    let (addr, accepting) = listening(&bob, Config::default()).await;
    let (_, connection) = within(QuicTransport::new(&alice, Config::default()).dial(&addr, None)).await.unwrap();
    let (_, server) = within(accepting).await.unwrap().unwrap();
    let mut stream = connection.open_stream().await.unwrap();
    stream.write_all(b"partial").await.unwrap();
    stream.flush().await.unwrap();
    let mut accepted = within(server.accept_stream()).await.unwrap().unwrap();
    drop(stream);
    let mut data = Vec::new();
    let read = within(accepted.read_to_end(&mut data)).await;
    assert!(read.is_err(), "an aborted stream read as a clean end: {data:?}");

    connection.close().await.unwrap();
    assert!(within(server.accept_stream()).await.unwrap().is_none());
}

#[tokio::test]
async fn the_remote_may_open_no_more_streams_than_the_limit() {
    let (alice, bob) = (key(10), key(11));
    let (addr, accepting) = listening(&bob, Config::default().with_max_streams(2)).await;
    let (_, connection) = within(QuicTransport::new(&alice, Config::default()).dial(&addr, None)).await.unwrap();
    let (_, _server) = within(accepting).await.unwrap().unwrap();
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = within(connection.open_stream()).await.unwrap();
        stream.write_all(b"x").await.unwrap();
        open.push(stream);
    }
    // The third waits for the listener to allow more, which it never does.
    assert!(tokio::time::timeout(Duration::from_millis(300), connection.open_stream()).await.is_err());
}

#[tokio::test]
async fn a_silent_listener_times_the_handshake_out() {
    // A UDP socket that reads nothing: the QUIC handshake never completes.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: Multiaddr =
        format!("/ip4/127.0.0.1/udp/{}/quic-v1", silent.local_addr().unwrap().port()).parse().unwrap();
    let dialer = QuicTransport::new(&key(12), Config::default().with_handshake_timeout(Duration::from_millis(300)));
    let result = within(dialer.dial(&addr, None)).await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
}

#[tokio::test]
async fn addresses_other_than_quic_v1_are_not_served() {
    let transport = QuicTransport::new(&key(13), Config::default());
    for addr in ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/udp/1/quic", "/memory/1"] {
        let addr: Multiaddr = addr.parse().unwrap();
        assert!(!transport.can_dial(&addr) && !transport.can_listen(&addr));
        assert!(matches!(transport.dial(&addr, None).await, Err(Error::Unsupported(_))));
    }
}

#[tokio::test]
async fn garbage_datagrams_and_a_stranger_without_a_certificate_harm_no_one() {
    let (alice, bob) = (key(14), key(15));
    let transport = QuicTransport::new(&bob, Config::default());
    let mut listener = transport.listen(&"/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs()[0].clone();
    let port = addr.to_string().split('/').nth(4).unwrap().parse::<u16>().unwrap();
    // Junk of every size, some of it shaped like a QUIC long header.
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut state = 0x9e37_79b9_u32;
    for len in [1usize, 20, 1200, 1500, 9000] {
        for first in [0x00u8, 0xc0, 0xff] {
            let mut datagram: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state.to_le_bytes()[0]
                })
                .collect();
            datagram[0] = first;
            junk.send_to(&datagram, ("127.0.0.1", port)).unwrap();
        }
    }
    // A TLS client that offers no certificate: the listener requires one.
    let stranger = {
        let mut tls = rustls_client_without_certificate();
        tls.alpn_protocols = vec![b"libp2p".to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(std::sync::Arc::new(crypto)));
        endpoint
    };
    let attempt = stranger.connect(format!("127.0.0.1:{port}").parse().unwrap(), "l").unwrap();
    // The listener accepts until a handshake succeeds: everything before
    // it (the stranger, any junk taken for an Initial) must have failed.
    let accepting = tokio::spawn(async move {
        let mut refused = 0;
        loop {
            let (_, upgrade) = listener.accept().await.unwrap();
            match upgrade.await {
                Ok((peer, _)) => return (refused, peer),
                Err(_) => refused += 1,
            }
        }
    });
    // However the stranger's own handshake ends, the listener refuses it.
    if let Ok(Ok(connection)) = tokio::time::timeout(Duration::from_secs(5), attempt).await {
        let _ = tokio::time::timeout(Duration::from_secs(5), connection.closed()).await;
    }
    let (seen, _connection) =
        within(QuicTransport::new(&alice, Config::default()).dial(&addr, Some(bob.peer_id()))).await.unwrap();
    assert_eq!(seen, bob.peer_id());
    let (refused, accepted) = within(accepting).await.unwrap();
    assert!(refused >= 1, "the client without a certificate was not refused");
    assert_eq!(accepted, alice.peer_id(), "the first connection accepted is the honest one");
}

/// A rustls client that trusts any server and presents no certificate.
fn rustls_client_without_certificate() -> rustls::ClientConfig {
    #[derive(Debug)]
    struct AnyServer(std::sync::Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AnyServer(provider)))
        .with_no_client_auth()
}
