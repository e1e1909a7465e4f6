//! strata ↔ strata over WebRTC-direct on 127.0.0.1: the transport alone,
//! then through two whole hosts; a wrong certhash refused; a stalled
//! handshake beside an honest dial. Every wait is bounded (`within`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::{ConnectionListener, ConnectionSource, Keypair, Multiaddr, MuxedConnection, multiaddr::Component};
use strata_host::Host;
use strata_testkit::within;
use strata_webrtc::{
    Certificate, Config, Error, Fingerprint, WebRtcListener, WebRtcTransport, socket_addr_to_multiaddr,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LISTEN: &str = "/ip4/127.0.0.1/udp/0/webrtc-direct";

/// Logs with `RUST_LOG=strata_webrtc=debug`.
fn init_log() {
    let filter = tracing_subscriber::EnvFilter::from_default_env();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

async fn listening(identity: &Keypair, config: Config) -> (WebRtcTransport, WebRtcListener, Multiaddr) {
    let transport = WebRtcTransport::new(identity, config);
    let listener = transport.listen(&LISTEN.parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    (transport, listener, addr)
}

/// Echoes every inbound stream of `connection` until it closes.
fn serve_echo(connection: strata_webrtc::WebRtcConnection) {
    tokio::spawn(async move {
        while let Ok(Some(mut stream)) = connection.accept_stream().await {
            tokio::spawn(async move {
                let mut data = Vec::new();
                stream.read_to_end(&mut data).await.unwrap();
                stream.write_all(&data).await.unwrap();
                stream.shutdown().await.unwrap();
            });
        }
    });
}

async fn echo(connection: &strata_webrtc::WebRtcConnection, payload: &[u8]) -> Vec<u8> {
    let mut stream = connection.open_stream().await.unwrap();
    stream.write_all(payload).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).await.unwrap();
    back
}

/// The transport alone: both sides learn each other's peer id, the
/// address carries our certhash, and several streams carry data both ways
/// (a payload of several 16 KiB frames included), opened from either side.
#[tokio::test]
async fn streams_flow_both_ways_over_a_direct_connection() {
    init_log();
    let (server_key, client_key) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (server, mut listener, addr) = listening(&server_key, Config::default()).await;
    let certhash = addr.iter().find_map(|component| match component {
        Component::Certhash(hash) => Some(hash.into_owned()),
        _ => None,
    });
    assert_eq!(certhash, Some(server.fingerprint().unwrap().to_multihash()));

    let client = WebRtcTransport::new(&client_key, Config::default());
    let accept = async {
        let (_, upgrade) = listener.accept().await.unwrap();
        upgrade.await.unwrap()
    };
    let (dialed, (client_seen, server_side)) =
        within(async { tokio::join!(client.dial(&addr, Some(server_key.peer_id())), accept) }).await;
    let (server_seen, client_side) = dialed.unwrap();
    assert_eq!((server_seen, client_seen), (server_key.peer_id(), client_key.peer_id()));

    serve_echo(server_side.clone());
    serve_echo(client_side.clone());
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let results = within(async {
        tokio::join!(
            echo(&client_side, b"one"),
            echo(&client_side, &big),
            echo(&server_side, b"two"),
            echo(&server_side, b"three"),
        )
    })
    .await;
    assert_eq!(results, (b"one".to_vec(), big.clone(), b"two".to_vec(), b"three".to_vec()));
    // And again, on new channels, after the first ones were closed.
    assert_eq!(within(echo(&client_side, b"again")).await, b"again");

    within(client_side.close()).await.unwrap();
    within(async { while server_side.accept_stream().await.ok().flatten().is_some() {} }).await;
}

/// A certhash that is not the server's: the DTLS handshake is refused.
#[tokio::test]
async fn a_certhash_mismatch_is_refused() {
    init_log();
    let (_server, _listener, addr) = listening(&Keypair::generate_ed25519(), Config::default()).await;
    let socket = addr.iter().find_map(|component| match component {
        Component::Udp(port) => Some(port),
        _ => None,
    });
    let wrong = socket_addr_to_multiaddr(
        format!("127.0.0.1:{}", socket.unwrap()).parse().unwrap(),
        Fingerprint::from_bytes([7; 32]),
    );
    let client = WebRtcTransport::new(&Keypair::generate_ed25519(), Config::default());
    match within(client.dial(&wrong, None)).await {
        Err(Error::CerthashMismatch) => {}
        other => panic!("expected a certhash mismatch, got {other:?}"),
    }
}

/// A dial for the wrong peer id fails with core's `PeerIdMismatch`.
#[tokio::test]
async fn a_wrong_peer_id_is_refused() {
    init_log();
    let (_server, mut listener, addr) = listening(&Keypair::generate_ed25519(), Config::default()).await;
    tokio::spawn(async move {
        while let Ok((_, upgrade)) = listener.accept().await {
            tokio::spawn(upgrade);
        }
    });
    let client = WebRtcTransport::new(&Keypair::generate_ed25519(), Config::default());
    let wanted = Keypair::generate_ed25519().peer_id();
    match within(client.dial(&addr, Some(wanted))).await {
        Err(Error::PeerIdMismatch(mismatch)) => assert_eq!(mismatch.expected, wanted),
        other => panic!("expected a peer id mismatch, got {other:?}"),
    }
}

/// A client that sends one valid STUN binding request (so the server sets
/// up a connection for it) and then goes silent: that connection times out
/// alone, and an honest dial meanwhile succeeds.
#[tokio::test]
async fn a_stalled_handshake_disturbs_no_honest_dial() {
    init_log();
    let timeout = Duration::from_secs(2);
    let server_key = Keypair::generate_ed25519();
    let (_server, mut listener, addr) = listening(&server_key, Config::default().with_handshake_timeout(timeout)).await;
    let port = addr
        .iter()
        .find_map(|component| match component {
            Component::Udp(port) => Some(port),
            _ => None,
        })
        .unwrap();

    // The stalling client: one STUN binding request, then nothing.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    silent.send_to(&stun_binding_request("libp2p+webrtc+v1/stall"), ("127.0.0.1", port)).await.unwrap();
    let (silent_addr, silent_upgrade) = within(listener.accept()).await.unwrap();
    assert_eq!(silent_addr.iter().nth(1), Some(Component::Udp(silent.local_addr().unwrap().port())));
    let stalled = tokio::spawn(silent_upgrade);

    // The honest dial, while the stalled one is pending.
    let client = WebRtcTransport::new(&Keypair::generate_ed25519(), Config::default());
    let accept = async {
        let (_, upgrade) = listener.accept().await.unwrap();
        upgrade.await.unwrap()
    };
    let (dialed, (_, _server_side)) = within(async { tokio::join!(client.dial(&addr, None), accept) }).await;
    assert_eq!(dialed.unwrap().0, server_key.peer_id());
    assert!(!stalled.is_finished(), "the honest dial finished while the stalled handshake was still pending");

    match within(stalled).await.unwrap() {
        Err(Error::Timeout(after)) => assert_eq!(after, timeout),
        Err(other) => panic!("expected a timeout, got {other}"),
        Ok(_) => panic!("a silent client completed a handshake"),
    }
}

/// A STUN binding request with USERNAME `<ufrag>:<ufrag>`, a PRIORITY
/// and a MESSAGE-INTEGRITY (a wrong one: the server reads the username to
/// set up the connection, and a silent client never gets further).
fn stun_binding_request(ufrag: &str) -> Vec<u8> {
    let username = format!("{ufrag}:{ufrag}");
    let request = str0m::ice::StunMessage::binding_request(&username, str0m::ice::TransId::new(), true, 1, 100, false);
    let mut buf = vec![0; 1500];
    let len = request.to_bytes(Some(ufrag.as_bytes()), &mut buf, |_, _| [0; 20]).unwrap();
    buf.truncate(len);
    buf
}

/// A host with WebRTC-direct as its only source, listening on loopback.
async fn host() -> Host {
    strata_host::Builder::new(&Keypair::generate_ed25519())
        .source(|identity| WebRtcTransport::new(identity, Config::default()))
        .listen(LISTEN.parse().unwrap())
        .build()
        .await
        .unwrap()
}

/// Two whole hosts: the dialer's host dials the listener's WebRTC-direct
/// address (with `/p2p`), and echo streams run both ways through
/// multistream-select, as on any transport.
#[tokio::test]
async fn two_hosts_talk_over_webrtc_direct() {
    init_log();
    let a = host().await;
    let b = host().await;
    let b_addr = b.listen_addrs()[0].clone().with_p2p(b.peer_id()).unwrap();
    assert!(b_addr.to_string().contains("/webrtc-direct/certhash/u"), "{b_addr}");
    for host in [&a, &b] {
        host.handle("/echo/1.0.0", |mut stream| async move {
            let mut data = Vec::new();
            stream.read_to_end(&mut data).await?;
            stream.write_all(&data).await?;
            stream.shutdown().await
        })
        .unwrap();
    }
    assert_eq!(within(a.dial(b_addr)).await.unwrap(), b.peer_id());
    let round = |from: Host, to: Host, text: &'static [u8]| async move {
        let mut stream = from.open_stream(to.peer_id(), &["/echo/1.0.0"]).await.unwrap();
        stream.write_all(text).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut back = Vec::new();
        stream.read_to_end(&mut back).await.unwrap();
        back
    };
    let results = within(async {
        tokio::join!(
            round(a.clone(), b.clone(), b"a to b, 1"),
            round(a.clone(), b.clone(), b"a to b, 2"),
            round(b.clone(), a.clone(), b"b to a, 1"),
            round(b.clone(), a.clone(), b"b to a, 2"),
        )
    })
    .await;
    assert_eq!(results, (b"a to b, 1".to_vec(), b"a to b, 2".to_vec(), b"b to a, 1".to_vec(), b"b to a, 2".to_vec()));
    within(a.shutdown()).await;
    within(b.shutdown()).await;
}

/// A kept certificate gives the same address after a "restart".
#[tokio::test]
async fn a_kept_certificate_keeps_the_certhash() {
    init_log();
    let identity = Keypair::generate_ed25519();
    let certificate = Certificate::generate().unwrap();
    let (der, key) = (certificate.der().to_vec(), certificate.key_der().to_vec());
    let first = WebRtcTransport::with_certificate(&identity, certificate, Config::default());
    let second =
        WebRtcTransport::with_certificate(&identity, Certificate::from_der(der, key).unwrap(), Config::default());
    assert_eq!(first.fingerprint().unwrap(), second.fingerprint().unwrap());
    // A transport made without one makes one, once.
    let fresh = WebRtcTransport::new(&identity, Config::default());
    assert_eq!(fresh.fingerprint().unwrap(), fresh.fingerprint().unwrap());
    assert_ne!(fresh.fingerprint().unwrap(), first.fingerprint().unwrap());
}

/// A kept certificate file keeps the listen address (its certhash) across
/// restarts; a file that is not a certificate is refused with its path.
#[tokio::test]
async fn a_kept_certificate_keeps_the_address() {
    let dir = std::env::temp_dir().join(format!("strata-webrtc-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.webrtc.pem");
    let _ = std::fs::remove_file(&path);
    let identity = Keypair::generate_ed25519();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let certificate = strata_webrtc::Certificate::load_or_generate(&path).unwrap();
        let transport = WebRtcTransport::with_certificate(&identity, certificate, Config::default());
        let listener = transport.listen(&LISTEN.parse().unwrap()).await.unwrap();
        let addr = listener.local_addrs().remove(0);
        // The certhash is the address's last part; the port differs per run.
        addrs.push(addr.to_string().rsplit_once("/certhash/").unwrap().1.to_owned());
    }
    assert_eq!(addrs[0], addrs[1]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("BEGIN CERTIFICATE") && text.contains("BEGIN PRIVATE KEY"), "{text}");
    std::fs::write(&path, "not a certificate").unwrap();
    let error = strata_webrtc::Certificate::load_or_generate(&path).unwrap_err().to_string();
    assert!(error.contains("node.webrtc.pem"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
