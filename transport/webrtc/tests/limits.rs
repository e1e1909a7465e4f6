//! The bounds of a WebRTC-direct connection and listener, against a peer
//! that crosses them: too many channels, more unread data than a stream
//! may hold, more pending handshakes than a listener takes. Every wait is
//! bounded (`within`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{io, time::Duration};

use strata_core::{ConnectionListener, ConnectionSource, Keypair, MuxedConnection, multiaddr::Component};
use strata_testkit::within;
use strata_webrtc::{Config, WebRtcConnection, WebRtcTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server and a client with these configurations, connected: (client's
/// side, server's side, server's listener).
async fn pair(server: Config, client: Config) -> (WebRtcConnection, WebRtcConnection, strata_webrtc::WebRtcListener) {
    let server = WebRtcTransport::new(&Keypair::generate_ed25519(), server);
    let mut listener = server.listen(&"/ip4/127.0.0.1/udp/0/webrtc-direct".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    let client = WebRtcTransport::new(&Keypair::generate_ed25519(), client);
    let accept = async {
        let (_, upgrade) = listener.accept().await.unwrap();
        upgrade.await.unwrap().1
    };
    let (dialed, server_side) = within(async { tokio::join!(client.dial(&addr, None), accept) }).await;
    (dialed.unwrap().1, server_side, listener)
}

/// A remote that sends more than a stream may hold unread has that stream
/// reset (the connection and other streams live on).
#[tokio::test]
async fn a_flooded_stream_is_reset() {
    let (client, server, _listener) = pair(Config::default().with_max_buffered(64 * 1024), Config::default()).await;
    let mut flooding = within(client.open_stream()).await.unwrap();
    let mut unread = within(server.accept_stream()).await.unwrap().unwrap();
    // The server never reads: past 64 KiB the stream is reset.
    let _ = within(flooding.write_all(&vec![7; 256 * 1024])).await;
    let mut buf = [0; 16];
    let error = within(flooding.read(&mut buf)).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    let error = within(unread.read(&mut buf)).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "the flooded side reset its own end too");
    // The connection still serves a new stream.
    let mut next = within(client.open_stream()).await.unwrap();
    next.write_all(b"still here").await.unwrap();
    next.shutdown().await.unwrap();
    let mut fine = within(server.accept_stream()).await.unwrap().unwrap();
    let mut data = Vec::new();
    within(fine.read_to_end(&mut data)).await.unwrap();
    assert_eq!(data, b"still here");
}

/// Channels past the limit are closed by the side that holds the limit.
#[tokio::test]
async fn channels_past_the_limit_are_closed() {
    let (client, server, _listener) = pair(Config::default().with_max_channels(2), Config::default()).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = within(client.open_stream()).await.unwrap();
        stream.write_all(b"x").await.unwrap();
        streams.push(stream);
    }
    let _first = within(server.accept_stream()).await.unwrap().unwrap();
    let _second = within(server.accept_stream()).await.unwrap().unwrap();
    let mut third = streams.pop().unwrap();
    let mut buf = [0; 1];
    let error = within(third.read(&mut buf)).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    // Our own limit refuses to open past it, with a clear error.
    let (client, _server, _listener) = pair(Config::default(), Config::default().with_max_channels(1)).await;
    let _only = within(client.open_stream()).await.unwrap();
    match within(client.open_stream()).await {
        Err(strata_webrtc::Error::TooManyChannels(1)) => {}
        other => panic!("expected TooManyChannels(1), got {other:?}"),
    }
}

/// A listener takes at most `max_pending` handshakes at once: a silent
/// client holding the only slot keeps an honest dial out until it times
/// out, and the honest dial's retransmitted STUN requests get in then.
#[tokio::test]
async fn pending_handshakes_are_bounded() {
    let timeout = Duration::from_secs(2);
    let config = Config::default().with_max_pending(1).with_handshake_timeout(timeout);
    let server = WebRtcTransport::new(&Keypair::generate_ed25519(), config);
    let mut listener = server.listen(&"/ip4/127.0.0.1/udp/0/webrtc-direct".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    let port = addr.iter().find_map(|c| if let Component::Udp(port) = c { Some(port) } else { None }).unwrap();

    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ufrag = "libp2p+webrtc+v1/silent";
    let username = format!("{ufrag}:{ufrag}");
    let request = str0m::ice::StunMessage::binding_request(&username, str0m::ice::TransId::new(), true, 1, 100, false);
    let mut buf = vec![0; 1500];
    let len = request.to_bytes(Some(ufrag.as_bytes()), &mut buf, |_, _| [0; 20]).unwrap();
    silent.send_to(&buf[..len], ("127.0.0.1", port)).await.unwrap();
    let (_, silent_upgrade) = within(listener.accept()).await.unwrap();
    let stalled = tokio::spawn(silent_upgrade);

    let client = WebRtcTransport::new(&Keypair::generate_ed25519(), Config::default());
    let accept = async {
        let (_, upgrade) = listener.accept().await.unwrap();
        upgrade.await.unwrap()
    };
    let (dialed, _) = within(async { tokio::join!(client.dial(&addr, None), accept) }).await;
    dialed.unwrap();
    assert!(stalled.is_finished(), "the honest dial got in only once the silent one timed out");
    assert!(within(stalled).await.unwrap().is_err());
}

/// An open cancelled before the channel opened (its future dropped)
/// leaves nothing behind: the channel is closed once it opens (the
/// remote's end of it fails), and it no longer counts against the limit.
#[tokio::test]
async fn a_cancelled_open_leaves_nothing_behind() {
    let (client, server, _listener) = pair(Config::default(), Config::default().with_max_channels(1)).await;
    // Polled once, then dropped: the channel is announced, not yet open.
    assert!(tokio::time::timeout(Duration::ZERO, client.open_stream()).await.is_err());
    let mut orphan = within(server.accept_stream()).await.unwrap().unwrap();
    let mut buf = [0; 1];
    let error = within(orphan.read(&mut buf)).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    // The one channel the client may have is free again.
    let mut stream = within(client.open_stream()).await.unwrap();
    stream.write_all(b"ok").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut next = within(server.accept_stream()).await.unwrap().unwrap();
    let mut data = Vec::new();
    within(next.read_to_end(&mut data)).await.unwrap();
    assert_eq!(data, b"ok");
}
