//! A yamux connection (the driver and its streams) against a raw peer that
//! writes frames byte by byte: the wire format as the spec lays it out,
//! and a remote that breaks the rules losing its connection, with a
//! go-away that says why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::{Endpoint, MuxedConnection, StreamMuxer};
use strata_yamux::{Config, Decoder, Flags, Frame, GoAway, Header, INITIAL_WINDOW, Type, YamuxConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

const LIMIT: Duration = Duration::from_secs(10);

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

/// Our connection as the listener (even ids), and the raw dialer's end.
async fn raw_peer() -> (YamuxConnection, DuplexStream) {
    let (ours, raw) = duplex(1 << 20);
    (Config::default().upgrade(ours, Endpoint::Listener).await.unwrap(), raw)
}

async fn send(raw: &mut DuplexStream, frame: Frame) {
    let mut wire = bytes::BytesMut::new();
    frame.encode(&mut wire);
    raw.write_all(&wire).await.unwrap();
}

/// The next frame the connection sent, skipping its round-trip ping
/// (answering it, as a peer does).
async fn next_frame(raw: &mut DuplexStream, buf: &mut bytes::BytesMut) -> Frame {
    let decoder = Decoder::new(16 << 20);
    loop {
        if let Some(frame) = decoder.decode(buf).unwrap() {
            if frame.header.kind == Type::Ping && !frame.header.flags.contains(Flags::ACK) {
                let mut pong = bytes::BytesMut::new();
                Frame::control(Header::ping(true, frame.header.length)).encode(&mut pong);
                let _ = raw.write_all(&pong).await; // the connection may be ending: fine
                continue;
            }
            return frame;
        }
        let n = within(raw.read_buf(buf)).await.unwrap();
        assert!(n > 0, "the connection closed before the frame came");
    }
}

#[tokio::test]
async fn wire_format_against_the_spec() {
    let (connection, mut raw) = raw_peer().await;
    let mut buf = bytes::BytesMut::new();
    // The dialer opens stream 1 with data: 12-byte header, SYN, then "hi" and a FIN.
    raw.write_all(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, b'h', b'i']).await.unwrap();
    raw.write_all(&[0, 1, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]).await.unwrap();
    let mut stream = within(connection.accept_stream()).await.unwrap().unwrap();
    let mut got = Vec::new();
    within(stream.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"hi");
    // Accepting sent the ACK (a window update of 0).
    assert_eq!(next_frame(&mut raw, &mut buf).await.header, Header::window_update(1, Flags::ACK, 0));
    stream.write_all(b"yo").await.unwrap();
    stream.shutdown().await.unwrap();
    let data = next_frame(&mut raw, &mut buf).await;
    assert_eq!((data.header, &data.payload[..]), (Header::data(1, Flags::NONE, 2), &b"yo"[..]));
    assert_eq!(next_frame(&mut raw, &mut buf).await.header, Header::window_update(1, Flags::FIN, 0));
    // Our own stream has an even id and opens with SYN.
    let _ours = connection.open_stream().await.unwrap();
    assert_eq!(next_frame(&mut raw, &mut buf).await.header, Header::window_update(2, Flags::SYN, 0));
}

#[tokio::test]
async fn data_past_the_window_ends_the_connection_with_a_protocol_error() {
    let (connection, mut raw) = raw_peer().await;
    let mut buf = bytes::BytesMut::new();
    send(&mut raw, Frame::control(Header::window_update(1, Flags::SYN, 0))).await;
    let _stream = within(connection.accept_stream()).await.unwrap().unwrap();
    let over = vec![0u8; INITIAL_WINDOW as usize + 1];
    send(&mut raw, Frame::data(Header::data(1, Flags::NONE, 0), over.into())).await;
    let go_away = loop {
        let frame = next_frame(&mut raw, &mut buf).await;
        if frame.header.kind == Type::GoAway {
            break frame;
        }
    };
    assert_eq!(go_away.header, Header::go_away(GoAway::ProtocolError));
    assert!(within(connection.accept_stream()).await.is_err(), "the connection failed");
}

#[tokio::test]
async fn garbage_ends_the_connection() {
    for garbage in [
        &[1u8; 12][..],
        &[0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ] {
        let (connection, mut raw) = raw_peer().await;
        raw.write_all(garbage).await.unwrap();
        let result = within(async {
            while let Ok(Some(_)) = connection.accept_stream().await {}
            connection.accept_stream().await // the end, again: an error or none
        })
        .await;
        assert!(result.is_err(), "{garbage:?}: {result:?}");
        // The spec's answer went out before the end: a protocol-error go-away.
        let mut buf = bytes::BytesMut::new();
        let go_away = loop {
            let frame = next_frame(&mut raw, &mut buf).await;
            if frame.header.kind == Type::GoAway {
                break frame;
            }
        };
        assert_eq!(go_away.header, Header::go_away(GoAway::ProtocolError), "{garbage:?}");
    }
}

#[tokio::test]
async fn a_peer_opening_past_the_limit_gets_resets_and_the_rest_keep_working() {
    let (ours, raw) = duplex(1 << 20);
    let connection = Config::default().with_max_streams(4).upgrade(ours, Endpoint::Listener).await.unwrap();
    let mut raw = raw;
    let mut buf = bytes::BytesMut::new();
    for id in [1, 3, 5, 7, 9, 11] {
        send(&mut raw, Frame::control(Header::window_update(id, Flags::SYN, 0))).await;
    }
    let mut refused = Vec::new();
    while refused.len() < 2 {
        let frame = next_frame(&mut raw, &mut buf).await;
        if frame.header.flags.contains(Flags::RST) {
            refused.push(frame.header.stream);
        }
    }
    assert_eq!(refused, [9, 11]);
    let mut first = within(connection.accept_stream()).await.unwrap().unwrap();
    send(&mut raw, Frame::data(Header::data(1, Flags::FIN, 0), b"still fine".as_slice().into())).await;
    let mut got = Vec::new();
    within(first.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"still fine");
}

#[tokio::test]
async fn an_unanswered_keep_alive_ends_the_connection() {
    let (ours, _raw) = duplex(1 << 20); // a peer that never answers
    let config = Config::default().with_keep_alive(Some(Duration::from_millis(100)));
    let connection = config.upgrade(ours, Endpoint::Dialer).await.unwrap();
    let result = within(connection.accept_stream()).await;
    assert!(matches!(result, Err(strata_yamux::Error::KeepAliveTimeout(_))), "{result:?}");
}

#[tokio::test]
async fn a_peer_that_provokes_frames_and_never_reads_loses_the_connection() {
    let (ours, mut raw) = duplex(64 * 1024); // our answers fill this and stay unread
    let config = Config::default().with_stall_timeout(Duration::from_millis(300));
    let connection = config.upgrade(ours, Endpoint::Listener).await.unwrap();
    let flood = tokio::spawn(async move {
        let mut pings = bytes::BytesMut::new();
        for value in 0..4096 {
            Frame::control(Header::ping(false, value)).encode(&mut pings);
        }
        // Pings, each asking for an answer, until the connection gives up.
        while raw.write_all(&pings).await.is_ok() {}
    });
    let result = within(connection.accept_stream()).await;
    assert!(matches!(result, Err(strata_yamux::Error::Stalled(_))), "{result:?}");
    flood.abort();
}
