//! The WebSocket transport against a raw tungstenite peer that breaks the
//! rules: a text frame, a frame over the size limit, a flood of small
//! fragments, an HTTP upgrade never completed. Each fails its own
//! connection, and the listener goes on serving honest peers. Also the
//! polite side: pings are answered, a Close frame is an end of file, and
//! a wildcard listener on port 0 reports concrete addresses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

mod support;

use std::{io, net::SocketAddr, time::Duration};

use futures::{SinkExt as _, StreamExt as _};
use strata_core::{Listener as _, Multiaddr, Transport as _, multiaddr::Component};
use strata_testkit::within;
use strata_websocket::{Config, Error, WsListener, WsStream};
use support::{Pki, transport};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        protocol::{
            WebSocketConfig,
            frame::{
                Frame,
                coding::{Data, OpCode},
            },
        },
    },
};

type Listener = WsListener<strata_tcp::TcpListener>;

async fn listen(config: Config, addr: &str) -> (Listener, Multiaddr) {
    let listener = transport(config).listen(&addr.parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    (listener, addr)
}

fn socket_of(addr: &Multiaddr) -> SocketAddr {
    let port = addr.iter().find_map(|c| if let Component::Tcp(port) = c { Some(port) } else { None });
    SocketAddr::new(addr.ip().unwrap(), port.unwrap())
}

/// A raw tungstenite client, upgraded, with no size limits of its own.
async fn raw_client(addr: &Multiaddr) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(socket_of(addr)).await.unwrap();
    let url = format!("ws://{}/", socket_of(addr));
    let config = WebSocketConfig::default().max_frame_size(None).max_message_size(None);
    tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await.unwrap().0
}

/// Accepts one connection and reads it to its end (or error).
async fn read_all(listener: &mut Listener) -> (Vec<u8>, io::Result<usize>) {
    let (mut stream, remote) = within(listener.accept()).await.unwrap();
    assert!(remote.to_string().ends_with("/ws"), "{remote}");
    let mut data = Vec::new();
    let outcome = within(stream.read_to_end(&mut data)).await;
    (data, outcome)
}

/// An honest dial and an echo over `listener`: it still serves.
async fn still_serves(listener: &mut Listener, addr: &Multiaddr, config: Config) {
    let server = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
        stream.flush().await.unwrap();
        stream
    };
    let client = async {
        let mut stream: WsStream<TcpStream> = transport(config).dial(addr).await.unwrap();
        stream.write_all(b"hello").await.unwrap();
        stream.flush().await.unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        stream
    };
    let _streams = within(async { tokio::join!(server, client) }).await;
}

#[tokio::test]
async fn a_text_frame_fails_its_connection_only() {
    let (mut listener, addr) = listen(Config::default(), "/ip4/127.0.0.1/tcp/0/ws").await;
    let client = async {
        let mut ws = raw_client(&addr).await;
        ws.send(Message::Binary(b"bytes first".to_vec().into())).await.unwrap();
        ws.send(Message::text("a text frame")).await.unwrap();
        ws
    };
    let (_ws, (data, outcome)) = tokio::join!(client, read_all(&mut listener));
    assert_eq!(data, b"bytes first");
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(error.to_string().contains("text frame"), "{error}");
    still_serves(&mut listener, &addr, Config::default()).await;
}

#[tokio::test]
async fn an_oversized_frame_fails_its_connection_only() {
    let config = || Config::default().with_max_frame_size(64 << 10);
    let (mut listener, addr) = listen(config(), "/ip4/127.0.0.1/tcp/0/ws").await;
    let client = async {
        let mut ws = raw_client(&addr).await;
        // The header announces 128 KiB; the listener refuses it unread.
        let _ = ws.send(Message::Binary(vec![7; 128 << 10].into())).await;
        ws
    };
    let (_ws, (data, outcome)) = tokio::join!(client, read_all(&mut listener));
    assert!(data.is_empty());
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(error.to_string().contains("too long"), "{error}");
    still_serves(&mut listener, &addr, config()).await;
}

#[tokio::test]
async fn a_fragment_flood_is_bounded_by_the_message_size() {
    let config = || Config::default().with_max_message_size(64 << 10);
    let (mut listener, addr) = listen(config(), "/ip4/127.0.0.1/tcp/0/ws").await;
    let client = async {
        let mut ws = raw_client(&addr).await;
        // One message that never ends: a first fragment, then continuations.
        let first = Frame::message(vec![1; 1024], OpCode::Data(Data::Binary), false);
        let _ = ws.send(Message::Frame(first)).await;
        for _ in 0..200 {
            let more = Frame::message(vec![1; 1024], OpCode::Data(Data::Continue), false);
            if ws.send(Message::Frame(more)).await.is_err() {
                break;
            }
        }
        ws
    };
    let (_ws, (data, outcome)) = tokio::join!(client, read_all(&mut listener));
    assert!(data.is_empty(), "nothing of an unfinished message is delivered");
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(error.to_string().to_lowercase().contains("message"), "{error}");
    still_serves(&mut listener, &addr, config()).await;
}

#[tokio::test]
async fn a_never_completed_upgrade_loses_its_socket_and_holds_up_nobody() {
    let config = || Config::default().with_handshake_timeout(Duration::from_millis(300));
    let (mut listener, addr) = listen(config(), "/ip4/127.0.0.1/tcp/0/ws").await;
    let mut stalled = TcpStream::connect(socket_of(&addr)).await.unwrap();
    stalled.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // accept() hands the stalled connection out without waiting on it...
    let (mut stalled_inbound, _) = within(listener.accept()).await.unwrap();
    // ...and serves an honest peer while it is pending.
    still_serves(&mut listener, &addr, config()).await;
    let error = within(stalled_inbound.read_u8()).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
    drop(stalled_inbound);
    let mut rest = Vec::new();
    let _ended = within(stalled.read_to_end(&mut rest)).await; // EOF or reset, within the bound
    assert!(rest.is_empty(), "no answer to half a request: {rest:?}");
}

#[tokio::test]
async fn pings_are_answered_and_close_is_end_of_file() {
    let (mut listener, addr) = listen(Config::default(), "/ip4/127.0.0.1/tcp/0/ws").await;
    let client = async {
        let mut ws = raw_client(&addr).await;
        ws.send(Message::Binary(b"one".to_vec().into())).await.unwrap();
        ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
        ws.send(Message::Binary(b" two".to_vec().into())).await.unwrap();
        let pong = within(ws.next()).await.unwrap().unwrap();
        assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));
        ws.close(None).await.unwrap();
        // The listener answers the Close before it reports the end.
        match within(ws.next()).await {
            Some(Ok(Message::Close(_))) => {}
            other => panic!("no Close in answer: {other:?}"),
        }
    };
    let ((), (data, outcome)) = tokio::join!(client, read_all(&mut listener));
    assert_eq!(data, b"one two");
    assert_eq!(outcome.unwrap(), 7, "a Close frame is a clean end of file");
}

/// WebSocket has no half-close: a Close frame is answered with one, and
/// both directions end (as over rust-libp2p's WebSocket transport).
#[tokio::test]
async fn shutdown_sends_close_and_both_sides_read_end_of_file() {
    let (mut listener, addr) = listen(Config::default(), "/ip4/127.0.0.1/tcp/0/ws").await;
    let dial = async {
        let mut stream = transport(Config::default()).dial(&addr).await.unwrap();
        stream.write_all(b"bye").await.unwrap();
        stream.shutdown().await.unwrap();
        let mut back = Vec::new();
        within(stream.read_to_end(&mut back)).await.unwrap();
        back
    };
    let accept = async {
        let (mut stream, _) = within(listener.accept()).await.unwrap();
        let mut data = Vec::new();
        within(stream.read_to_end(&mut data)).await.unwrap();
        let error = stream.write_all(b"too late").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
        data
    };
    let (back, data) = tokio::join!(dial, accept);
    assert_eq!(data, b"bye");
    assert!(back.is_empty(), "{back:?}");
}

/// Accepts connections and drives their handshakes (an inbound stream's
/// handshake runs in its first read), reading each to its end.
fn serve(mut listener: Listener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = stream.read_to_end(&mut sink).await;
            });
        }
    })
}

#[tokio::test]
async fn a_wrong_certificate_fails_the_dial_with_a_tls_error() {
    let (mut listener, addr) = listen(Pki::new().config("hostile-wrong"), "/ip4/127.0.0.1/tcp/0/tls/ws").await;
    assert!(addr.to_string().ends_with("/tls/ws"), "{addr}");
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.read_u8().await.unwrap_err() // the client gives up in the TLS handshake
    });
    let error = within(transport(Pki::new().config("hostile-wrong-dialer")).dial(&addr)).await.unwrap_err();
    let Error::Tls { source, .. } = &error else { panic!("not a TLS error: {error}") };
    assert!(source.to_string().contains("UnknownIssuer"), "{error}");
    within(server).await.unwrap();
}

#[tokio::test]
async fn tls_ws_listens_with_pem_files_and_dials_by_ip_and_name() {
    let pki = Pki::new();
    let (mut listener, addr) = listen(pki.config("hostile-tls"), "/ip4/127.0.0.1/tcp/0/tls/ws").await;
    still_serves(&mut listener, &addr, pki.config("hostile-tls-a")).await;
    let port = socket_of(&addr).port();
    let by_name: Multiaddr = format!("/dns4/localhost/tcp/{port}/wss").parse().unwrap();
    still_serves(&mut listener, &by_name, pki.config("hostile-tls-b")).await;
    let sni: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/tls/sni/localhost/ws").parse().unwrap();
    still_serves(&mut listener, &sni, pki.config("hostile-tls-c")).await;
    // A certificate not issued for the name is refused.
    let server = serve(listener);
    let wrong_name: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/tls/sni/example.com/ws").parse().unwrap();
    let error = within(transport(pki.config("hostile-tls-d")).dial(&wrong_name)).await.unwrap_err();
    assert!(matches!(&error, Error::Tls { .. }) && error.to_string().contains("not valid for name"), "{error}");
    server.abort();
    // The in-memory form of the same certificate serves as well.
    let config = Config::default().with_tls_certificate(pki.chain.clone(), pki.key()).unwrap();
    assert!(config.serves_tls());
}

#[tokio::test]
async fn listening_on_tls_ws_needs_a_certificate() {
    let error = transport(Config::default()).listen(&"/ip4/127.0.0.1/tcp/0/tls/ws".parse().unwrap()).await.unwrap_err();
    assert!(matches!(error, Error::NoCertificate(_)), "{error}");
}

#[tokio::test]
async fn a_wildcard_listener_on_port_0_reports_concrete_addresses() {
    let listener = transport(Config::default()).listen(&"/ip4/0.0.0.0/tcp/0/ws".parse().unwrap()).await.unwrap();
    let addrs = listener.local_addrs();
    let port = socket_of(&addrs[0]).port();
    assert_ne!(port, 0);
    let loopback: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/ws").parse().unwrap();
    assert!(addrs.contains(&loopback), "{addrs:?}");
    assert!(addrs.iter().all(|a| !a.to_string().starts_with("/ip4/0.0.0.0") && a.to_string().ends_with("/ws")));
}

/// With port reuse (the TCP transport's), a WebSocket dial leaves from
/// the port the dialer's WebSocket listener is bound to.
#[tokio::test]
async fn dials_leave_from_the_listen_port() {
    let dialer = transport(Config::default());
    let dialer_listener = dialer.listen(&"/ip4/0.0.0.0/tcp/0/ws".parse().unwrap()).await.unwrap();
    let dialer_port = socket_of(&dialer_listener.local_addrs()[0]).port();
    let (mut listener, addr) = listen(Config::default(), "/ip4/127.0.0.1/tcp/0/ws").await;
    let dial = async { drop(dialer.dial(&addr).await.unwrap()) };
    let accept = async {
        let (mut inbound, remote) = listener.accept().await.unwrap();
        let _ = inbound.read_u8().await; // drives the upgrade, then sees the dialer go
        remote
    };
    let ((), remote) = within(async { tokio::join!(dial, accept) }).await;
    assert_eq!(remote, format!("/ip4/127.0.0.1/tcp/{dialer_port}/ws").parse::<Multiaddr>().unwrap());
}

#[tokio::test]
async fn other_addresses_are_refused() {
    let transport = transport(Config::default());
    for addr in ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/udp/1/ws", "/ip4/127.0.0.1/udp/1/quic-v1"] {
        let addr: Multiaddr = addr.parse().unwrap();
        assert!(!transport.can_dial(&addr) && !transport.can_listen(&addr), "{addr}");
        assert!(matches!(transport.dial(&addr).await, Err(Error::UnsupportedAddress(_))), "{addr}");
    }
    assert!(transport.can_dial(&"/dns/example.com/wss".parse().unwrap()));
    assert!(!transport.can_listen(&"/dns/example.com/wss".parse().unwrap()), "names are dialed, not bound");
}
