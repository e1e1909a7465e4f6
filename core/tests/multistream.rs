//! multistream-select against `multistream-select.md`: the spec's
//! transcripts byte for byte over `tokio::io::duplex`, a strata dialer
//! against a strata listener, and garbage from the other side.
//!
//! One side is always strata; the other is a script that writes the spec's
//! bytes and checks what strata writes. Every wait has a timeout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata_core::{Error, multistream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

const LIMIT: Duration = Duration::from_secs(5);

/// `<uvarint len><text>\n` for short texts.
fn msg(text: &str) -> Vec<u8> {
    let mut out = vec![u8::try_from(text.len() + 1).unwrap()];
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    out
}

fn msgs(texts: &[&str]) -> Vec<u8> {
    texts.iter().flat_map(|t| msg(t)).collect()
}

/// Reads exactly `expected.len()` bytes and checks them.
async fn expect(io: &mut DuplexStream, expected: &[u8]) {
    let mut got = vec![0; expected.len()];
    tokio::time::timeout(LIMIT, io.read_exact(&mut got)).await.expect("timed out").unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

#[tokio::test]
async fn dialer_sends_header_and_proposal_in_one_packet() {
    // "> /multistream/1.0.0\n/ipfs/kad/1.0.0\n
    //  < /multistream/1.0.0\n/ipfs/kad/1.0.0\n"
    let (mut ours, mut theirs) = duplex(4096);
    let script = async move {
        expect(&mut theirs, &msgs(&["/multistream/1.0.0", "/ipfs/kad/1.0.0"])).await;
        theirs.write_all(&msgs(&["/multistream/1.0.0", "/ipfs/kad/1.0.0"])).await.unwrap();
        theirs
    };
    let (agreed, _) =
        within(async { tokio::join!(multistream::dialer_select(&mut ours, ["/ipfs/kad/1.0.0"]), script) }).await;
    assert_eq!(agreed.unwrap(), "/ipfs/kad/1.0.0");
}

#[tokio::test]
async fn dialer_falls_back_after_na() {
    // "> /multistream/1.0.0\n/ipfs/kad/1.0.0\n
    //  < /multistream/1.0.0\nna\n
    //  > /ipfs/kad/0.2.3\n
    //  < /ipfs/kad/0.2.3\n"
    let (mut ours, mut theirs) = duplex(4096);
    let script = async move {
        expect(&mut theirs, &msgs(&["/multistream/1.0.0", "/ipfs/kad/1.0.0"])).await;
        theirs.write_all(&[msg("/multistream/1.0.0"), vec![0x03, 0x6e, 0x61, 0x0a]].concat()).await.unwrap();
        expect(&mut theirs, &msg("/ipfs/kad/0.2.3")).await;
        theirs.write_all(&msg("/ipfs/kad/0.2.3")).await.unwrap();
        theirs
    };
    let (agreed, _) = within(async {
        tokio::join!(multistream::dialer_select(&mut ours, ["/ipfs/kad/1.0.0", "/ipfs/kad/0.2.3"]), script)
    })
    .await;
    assert_eq!(agreed.unwrap(), "/ipfs/kad/0.2.3");
}

#[tokio::test]
async fn listener_writes_its_header_first_then_answers() {
    let (mut ours, mut theirs) = duplex(4096);
    let script = async move {
        // The header comes before we have sent anything.
        expect(&mut theirs, &msg("/multistream/1.0.0")).await;
        theirs.write_all(&msgs(&["/multistream/1.0.0", "/ipfs/kad/1.0.0"])).await.unwrap();
        expect(&mut theirs, &[0x03, 0x6e, 0x61, 0x0a]).await; // na
        theirs.write_all(&msg("/ipfs/kad/0.2.3")).await.unwrap();
        expect(&mut theirs, &msg("/ipfs/kad/0.2.3")).await;
        theirs
    };
    let supported = ["/ipfs/kad/0.2.3", "/ipfs/bitswap/1.0.0"];
    let (agreed, _) = within(async { tokio::join!(multistream::listener_select(&mut ours, &supported), script) }).await;
    assert_eq!(*agreed.unwrap(), "/ipfs/kad/0.2.3");
}

#[tokio::test]
async fn listener_answers_ls_with_the_spec_format() {
    // "< <varint-ls-response-length><varint-protocol-length><protocol>\n ... \n"
    let supported = ["/ipfs/kad/0.2.3", "/ipfs/kad/1.0.0", "/ipfs/bitswap/0.4.3", "/ipfs/bitswap/1.0.0"];
    let mut list: Vec<u8> = supported.iter().flat_map(|p| msg(p)).collect();
    list.push(b'\n');
    let mut expected = vec![u8::try_from(list.len()).unwrap()];
    expected.extend_from_slice(&list);
    assert!(expected.ends_with(b"\n\n"));

    let (mut ours, mut theirs) = duplex(4096);
    let script = async move {
        expect(&mut theirs, &msg("/multistream/1.0.0")).await;
        // "> /multistream/1.0.0\nls\n", ls being 0x036c730a.
        theirs.write_all(&[msg("/multistream/1.0.0"), vec![0x03, 0x6c, 0x73, 0x0a]].concat()).await.unwrap();
        expect(&mut theirs, &expected).await;
        theirs.write_all(&msg("/ipfs/kad/1.0.0")).await.unwrap();
        expect(&mut theirs, &msg("/ipfs/kad/1.0.0")).await;
        theirs
    };
    let (agreed, _) = within(async { tokio::join!(multistream::listener_select(&mut ours, &supported), script) }).await;
    assert_eq!(*agreed.unwrap(), "/ipfs/kad/1.0.0");
}

#[tokio::test]
async fn strata_dialer_and_listener_agree_and_list() {
    let (mut a, mut b) = duplex(4096);
    let supported = vec!["/echo/1.0.0".to_owned(), "/ping/1.0.0".to_owned()];
    let (agreed, accepted) = within(async {
        tokio::join!(
            multistream::dialer_select(&mut a, ["/echo/2.0.0", "/nope", "/ping/1.0.0"]),
            multistream::listener_select(&mut b, &supported),
        )
    })
    .await;
    assert_eq!(agreed.unwrap(), "/ping/1.0.0");
    assert_eq!(accepted.unwrap(), "/ping/1.0.0");

    let (mut a, mut b) = duplex(4096);
    let listener = tokio::spawn(async move { multistream::listener_select(&mut b, &["/x/1", "/y/2"]).await.copied() });
    let listed = within(multistream::list_protocols(&mut a)).await.unwrap();
    assert_eq!(listed, ["/x/1", "/y/2"]);
    drop(a);
    assert!(within(listener).await.unwrap().is_err(), "the dialer left without choosing");
}

#[tokio::test]
async fn all_refused_is_a_clear_error() {
    let (mut a, mut b) = duplex(4096);
    let (agreed, accepted) = within(async {
        tokio::join!(
            async {
                let result = multistream::dialer_select(&mut a, ["/a", "/b"]).await;
                drop(a); // a failed negotiation leaves the stream unusable
                result
            },
            multistream::listener_select(&mut b, &["/c"]),
        )
    })
    .await;
    assert!(matches!(agreed, Err(Error::ProtocolsRefused(ref names)) if names == &["/a", "/b"]), "{agreed:?}");
    assert!(matches!(accepted, Err(Error::Io(_))), "the listener sees the dialer leave");
}

#[tokio::test]
async fn data_right_behind_the_proposal_is_left_in_the_stream() {
    // rust-libp2p's lazy dialer sends its first payload before the answer.
    let (mut ours, mut theirs) = duplex(4096);
    theirs.write_all(&[msgs(&["/multistream/1.0.0", "/noise"]), b"HANDSHAKE".to_vec()].concat()).await.unwrap();
    let agreed = within(multistream::listener_select(&mut ours, &["/noise"])).await.unwrap();
    assert_eq!(*agreed, "/noise");
    let mut rest = [0u8; 9];
    within(ours.read_exact(&mut rest)).await.unwrap();
    assert_eq!(&rest, b"HANDSHAKE");
}

#[tokio::test]
async fn invalid_proposals_are_refused_before_sending() {
    let (mut a, _b) = duplex(64);
    for bad in ["", "noise", "/a\nb"] {
        assert!(matches!(multistream::dialer_select(&mut a, [bad]).await, Err(Error::InvalidProtocolName(_))));
    }
}

/// Feeds `garbage` to a listener and returns its error.
async fn listener_error(garbage: &[u8]) -> Error {
    let (mut ours, mut theirs) = duplex(1 << 16);
    theirs.write_all(garbage).await.unwrap();
    drop(theirs.shutdown().await);
    let result = within(multistream::listener_select(&mut ours, &["/a"])).await;
    drop(theirs);
    result.expect_err("garbage must not be accepted")
}

#[tokio::test]
async fn garbage_to_the_listener() {
    assert!(matches!(listener_error(&msg("/multistream/2.0.0")).await, Error::Multistream(_)));
    assert!(matches!(listener_error(&msg("na")).await, Error::Multistream(_)));
    assert!(matches!(listener_error(b"GET / HTTP/1.1\r\n\r\n").await, Error::MessageTooLarge { .. } | Error::Io(_)));
    assert!(matches!(listener_error(&[0xff; 32]).await, Error::InvalidVarint(_)));
    assert!(matches!(listener_error(&[0xff, 0xff, 0x03]).await, Error::MessageTooLarge { .. }));
    assert!(matches!(listener_error(&[0x03, b'n', b'a']).await, Error::Io(_)), "truncated");
    assert!(matches!(listener_error(&[0x02, b'n', b'a']).await, Error::Multistream(_)), "no newline");
    assert!(matches!(
        listener_error(&[msg("/multistream/1.0.0"), msg("/multistream/1.0.0")].concat()).await,
        Error::Multistream(_)
    ));
    assert!(matches!(listener_error(b"").await, Error::Io(_)), "silence then close");
}

#[tokio::test]
async fn endless_proposals_end_the_negotiation() {
    let proposals: Vec<&str> = vec!["/nope"; multistream::listener::MAX_ATTEMPTS + 1];
    let mut garbage = msg("/multistream/1.0.0");
    garbage.extend(msgs(&proposals));
    let err = listener_error(&garbage).await;
    assert!(matches!(err, Error::Multistream(ref reason) if reason.contains("attempts")), "{err}");
}

#[tokio::test]
async fn garbage_to_the_dialer() {
    for reply in [
        msg("/multistream/2.0.0"),
        msgs(&["/multistream/1.0.0", "/other"]),
        msgs(&["/multistream/1.0.0", "ls"]),
        vec![0xff; 16],
    ] {
        let (mut ours, mut theirs) = duplex(4096);
        theirs.write_all(&reply).await.unwrap();
        let result = within(multistream::dialer_select(&mut ours, ["/a"])).await;
        assert!(result.is_err(), "{reply:?}");
    }
}

#[tokio::test]
async fn a_silent_peer_is_bounded_by_the_callers_timeout() {
    let (mut ours, _silent) = duplex(4096);
    let result = tokio::time::timeout(Duration::from_millis(50), multistream::dialer_select(&mut ours, ["/a"])).await;
    assert!(result.is_err(), "negotiation must wait for the peer, and the caller's timeout must end it");
}

// ----- lazy negotiation (one proposal, data right behind it) -----

#[tokio::test]
async fn a_lazy_dialer_sends_its_data_behind_the_proposal_and_checks_the_echo_on_first_read() {
    let (ours, mut theirs) = duplex(1024);
    let mut negotiated = within(multistream::dialer_select_lazy(ours, "/noise")).await.unwrap();
    negotiated.write_all(b"hello").await.unwrap();
    // One flight: the header, the proposal and the data, no answer awaited.
    expect(&mut theirs, &[msgs(&["/multistream/1.0.0", "/noise"]), b"hello".to_vec()].concat()).await;
    assert!(!negotiated.is_confirmed());
    // The listener's answer (the same bytes) and then its own data.
    theirs.write_all(&[msgs(&["/multistream/1.0.0", "/noise"]), b"world".to_vec()].concat()).await.unwrap();
    let mut got = [0u8; 5];
    within(negotiated.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"world", "nothing of the confirmation leaks into the data");
    assert!(negotiated.is_confirmed());
}

#[tokio::test]
async fn a_lazy_dialer_against_a_strata_listener() {
    let (ours, mut theirs) = duplex(1024);
    let listener = tokio::spawn(async move {
        let agreed = multistream::listener_select(&mut theirs, &["/yamux/1.0.0"]).await.unwrap();
        let mut data = [0u8; 4];
        theirs.read_exact(&mut data).await.unwrap(); // sent right behind the proposal
        theirs.write_all(b"pong").await.unwrap();
        (*agreed, data)
    });
    let mut negotiated = within(multistream::dialer_select_lazy(ours, "/yamux/1.0.0")).await.unwrap();
    negotiated.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    within(negotiated.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"pong");
    assert_eq!(within(listener).await.unwrap(), ("/yamux/1.0.0", *b"ping"));
}

#[tokio::test]
async fn a_refusal_of_a_lazy_proposal_fails_the_first_read() {
    for answer in [msgs(&["/multistream/1.0.0", "na"]), msgs(&["/multistream/1.0.0", "/other"]), Vec::new()] {
        let (ours, mut theirs) = duplex(1024);
        let mut negotiated = within(multistream::dialer_select_lazy(ours, "/noise")).await.unwrap();
        theirs.write_all(&answer).await.unwrap();
        drop(theirs); // then the listener hangs up
        let mut got = [0u8; 1];
        let error = within(negotiated.read(&mut got)).await.unwrap_err();
        let kinds = [std::io::ErrorKind::InvalidData, std::io::ErrorKind::UnexpectedEof];
        assert!(kinds.contains(&error.kind()), "{answer:?}: {error}");
    }
}
