//! The browsers chapter of the guide (`docs/07-browsers.md`) quotes a
//! WebSocket frame, a WebRTC-direct address, the SDP a browser builds from
//! it, the Noise prologue and data channel frames; this test recomputes
//! every quoted block and fails when one no longer matches what strata
//! makes (and runs the WebSocket frame through a real strata listener).
//!
//! `STRATA_BLESS_DOCS=1 cargo test -p strata --test browsers_guide`
//! prints the blocks as they are now, to paste into the chapter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::fmt::Write as _;

use strata_core::{Listener as _, Multiaddr, Transport as _, multiaddr::Component, varint};
use strata_webrtc::{
    Fingerprint,
    message::{self, Flag},
    noise_prologue, socket_addr_to_multiaddr,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CHAPTER: &str = include_str!("../docs/07-browsers.md");

/// A certificate `strata_webrtc::Certificate::generate` made once (ECDSA
/// P-256, self-signed): the server's, whose hash goes into the address.
const SERVER_CERT: &str = "3082015b30820101a00302010202147b5d66adc1ac691e5d2ecc4e79d4c7d8f2848c95300a06082a8648ce3d0403023021311f301d06035504030c16726367656e2073656c66207369676e656420636572743020170d3735303130313030303030305a180f34303936303130313030303030305a3021311f301d06035504030c16726367656e2073656c66207369676e656420636572743059301306072a8648ce3d020106082a8648ce3d03010703420004626bd47c11b4961d90763691447653f2442c9194e5225476f8bc2b30d8d168b6bf6f074487272ced6b811f58a51ba80ee3e859f829ee2beffcc71c44343f93b0a315301330110603551d11040a30088206737472617461300a06082a8648ce3d04030203480030450220056461bede2881ba048a3c346b03c41d77fd4e598eb94638e0f0f63f62714795022100c89f5e59db3af61082c733f59e0cc3a19cbbdcae6f6db2923ac96ff34df1f861";
/// Another one, standing for the browser's (a browser makes its own per
/// connection).
const CLIENT_CERT: &str = "3082015b30820101a0030201020214041b2d2eddf1b4b9e3bdc584fbcc5d2fd6995ea9300a06082a8648ce3d0403023021311f301d06035504030c16726367656e2073656c66207369676e656420636572743020170d3735303130313030303030305a180f34303936303130313030303030305a3021311f301d06035504030c16726367656e2073656c66207369676e656420636572743059301306072a8648ce3d020106082a8648ce3d03010703420004262e5188a5fe05ac930ee1be3f2250bdf2d4f08b9893183f58f682d4fc655504bda8f414126cd247098e482aa2fc72a348ab685592a0d1073528fa083ffd95cea315301330110603551d11040a30088206737472617461300a06082a8648ce3d0403020348003045022100fd1ba95e0045d687549e9a0d2f4695f3692aa85c8cf58bf40617325ee901137e02200fd5e536e1c122dcf84e21bf96bd6cbfe3ce70f7deb8d4b838ea6f2c86de0e70";

/// RFC 6455's example masking key (section 5.7); a client draws a random
/// one per frame.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// RFC 6455's example `Sec-WebSocket-Key` (section 1.3) and its answer.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The ufrag of the quoted SDP (a browser draws 64 random characters).
const UFRAG: &str = "libp2p+webrtc+v1/Jk2nUi7ZQr8sPa4m";

/// The server answer a browser writes for a WebRTC-direct address
/// (rust-libp2p's `SERVER_SESSION_DESCRIPTION`, `misc/webrtc-utils/src/sdp.rs`).
const ANSWER_TEMPLATE: &str = "v=0
o=- 0 0 IN {ip_version} {ip}
s=-
t=0 0
a=ice-lite
m=application {port} UDP/DTLS/SCTP webrtc-datachannel
c=IN {ip_version} {ip}
a=mid:0
a=ice-options:ice2
a=ice-ufrag:{ufrag}
a=ice-pwd:{ufrag}
a=fingerprint:sha-256 {fingerprint}
a=setup:passive
a=sctp-port:5000
a=max-message-size:16384
a=candidate:1467250027 1 UDP 1467250027 {ip} {port} typ host
a=end-of-candidates
";

/// The first multistream-select message: `/multistream/1.0.0\n`, prefixed
/// by its length.
fn multistream_header() -> Vec<u8> {
    [&[19u8][..], b"/multistream/1.0.0\n"].concat()
}

/// One masked binary frame, as a client sends it (RFC 6455, 5.2), for a
/// payload under 126 bytes.
fn client_binary_frame(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let len = u8::try_from(payload.len()).unwrap();
    assert!(len < 126, "longer payloads take an extended length");
    let mut frame = vec![0x80 | 0x2, 0x80 | len];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ mask[i % 4]));
    frame
}

fn server_fingerprint() -> Fingerprint {
    Fingerprint::of_der(&hex::decode(SERVER_CERT).unwrap())
}

fn client_fingerprint() -> Fingerprint {
    Fingerprint::of_der(&hex::decode(CLIENT_CERT).unwrap())
}

fn webrtc_addr() -> Multiaddr {
    socket_addr_to_multiaddr("127.0.0.1:4001".parse().unwrap(), server_fingerprint())
}

/// Hex in lines of 32 bytes, indented.
fn hex_lines(bytes: &[u8]) -> String {
    bytes.chunks(32).map(|chunk| ["    ", &hex::encode(chunk), "\n"].concat()).collect()
}

fn websocket_frame_block() -> String {
    let payload = multistream_header();
    let frame = client_binary_frame(&payload, MASK);
    let lines = [
        (hex::encode(&frame[..1]), "FIN, opcode 2: one whole binary message".to_owned()),
        (hex::encode(&frame[1..2]), format!("MASK set, payload length {}", payload.len())),
        (hex::encode(&frame[2..6]), "masking key".to_owned()),
        (hex::encode(&frame[6..]), "payload XOR masking key".to_owned()),
        (hex::encode(&payload), "= 13 \"/multistream/1.0.0\\n\"".to_owned()),
    ];
    let mut out = String::new();
    for (bytes, what) in &lines {
        writeln!(out, "{bytes:<42}{what}").unwrap();
    }
    out
}

fn certhash_block() -> String {
    let fingerprint = server_fingerprint();
    let multihash = fingerprint.to_multihash();
    let addr = webrtc_addr();
    let Some(Component::Certhash(in_addr)) = addr.iter().last() else { panic!("no certhash") };
    assert_eq!(in_addr.as_ref(), multihash.as_slice());
    let text = addr.to_string();
    let certhash = text.rsplit('/').next().unwrap();
    format!(
        "certificate (DER, {} bytes), starting\n{}SHA-256 fingerprint\n{}multihash: {} ‖ fingerprint\n/certhash/{certhash}\n",
        SERVER_CERT.len() / 2,
        hex_lines(&hex::decode(&SERVER_CERT[..64]).unwrap()),
        hex_lines(fingerprint.as_bytes()),
        hex::encode(&multihash[..2]),
    )
}

fn multiaddr_block() -> String {
    let addr = webrtc_addr();
    let mut out = format!("{addr}\n{} bytes:\n", addr.to_vec().len());
    let mut all = Vec::new();
    for component in &addr {
        let bytes = Multiaddr::empty().with(component.clone()).to_vec();
        all.extend_from_slice(&bytes);
        let mut code = Vec::new();
        varint::encode(component.code(), &mut code);
        assert!(bytes.starts_with(&code));
        let value = &bytes[code.len()..];
        let shown = match &component {
            Component::Certhash(_) => {
                format!("{} {}…", hex::encode(&value[..1]), hex::encode(&value[1..5]))
            }
            _ => hex::encode(value),
        };
        let label = if let Component::Certhash(_) = &component {
            format!("/{} (code {:#x}), 34 bytes", component.name(), component.code())
        } else {
            let one = Multiaddr::empty().with(component.clone()).to_string();
            format!("{one} (code {:#x})", component.code())
        };
        writeln!(out, "  {:<6}{:<14}{label}", hex::encode(&code), shown).unwrap();
    }
    assert_eq!(all, addr.to_vec());
    out
}

/// `AB:CD:…`: the fingerprint as SDP writes it.
fn sdp_fingerprint(fingerprint: Fingerprint) -> String {
    fingerprint.as_bytes().iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":")
}

fn answer_sdp() -> String {
    let socket: std::net::SocketAddr = "127.0.0.1:4001".parse().unwrap();
    ANSWER_TEMPLATE
        .replace("{ip_version}", if socket.is_ipv4() { "IP4" } else { "IP6" })
        .replace("{ip}", &socket.ip().to_string())
        .replace("{port}", &socket.port().to_string())
        .replace("{ufrag}", UFRAG)
        .replace("{fingerprint}", &sdp_fingerprint(server_fingerprint()))
}

fn prologue_block() -> String {
    let prologue = noise_prologue(client_fingerprint(), server_fingerprint());
    assert_eq!(&prologue[..20], b"libp2p-webrtc-noise:");
    assert_eq!(&prologue[20..54], client_fingerprint().to_multihash().as_slice());
    assert_eq!(&prologue[54..], server_fingerprint().to_multihash().as_slice());
    let parts = [
        ("\"libp2p-webrtc-noise:\"", hex::encode(&prologue[..20])),
        ("client (browser) multihash", format!("{}…", hex::encode(&prologue[20..26]))),
        ("server multihash", format!("{}…", hex::encode(&prologue[54..60]))),
    ];
    let mut out = format!("{} bytes\n{}", prologue.len(), hex_lines(&prologue));
    for (what, bytes) in parts {
        writeln!(out, "  {what:<28}{bytes}").unwrap();
    }
    out
}

fn message_block() -> String {
    let mut hello = Vec::new();
    message::encode(None, b"hello", &mut hello);
    let mut fin = Vec::new();
    message::encode(Some(Flag::Fin), b"", &mut fin);
    for (frame, flag, data) in [(&hello, None, &b"hello"[..]), (&fin, Some(Flag::Fin), &b""[..])] {
        let decoded = message::decode_body(&frame[1..]).unwrap();
        assert_eq!((usize::from(frame[0]), decoded.flag, decoded.data.as_ref()), (frame.len() - 1, flag, data));
    }
    let hello_bytes = [&hello[..1], &hello[1..2], &hello[2..3], &hello[3..]].map(hex::encode).join(" ");
    let fin_bytes = [&fin[..1], &fin[1..2], &fin[2..]].map(hex::encode).join(" ");
    format!(
        "{hello_bytes:<22}\"hello\": length {}, field 2 (message), {} bytes\n{fin_bytes:<22}FIN: length {}, field 1 (flag) = 0 (FIN)\n",
        hello[0], hello[2], fin[0],
    )
}

fn blocks() -> Vec<String> {
    vec![websocket_frame_block(), certhash_block(), multiaddr_block(), answer_sdp(), prologue_block(), message_block()]
}

#[test]
fn every_quoted_block_is_what_strata_makes_today() {
    let blocks = blocks();
    if std::env::var_os("STRATA_BLESS_DOCS").is_some() {
        for block in &blocks {
            eprintln!("```text\n{block}```\n");
        }
    }
    for block in blocks {
        assert!(CHAPTER.contains(&block), "docs/07-browsers.md lacks, or quotes an old version of:\n{block}");
    }
    // The address the chapter writes is the one strata makes, and parses.
    let text = webrtc_addr().to_string();
    assert!(CHAPTER.contains(&format!("`{text}`")), "{text}");
    assert_eq!(text.parse::<Multiaddr>().unwrap(), webrtc_addr());
}

/// The frame encoder is RFC 6455's: it reproduces the RFC's own example,
/// a masked text frame "Hello" (5.7), once the opcode is text.
#[test]
fn the_frame_encoder_matches_rfc_6455() {
    let mut frame = client_binary_frame(b"Hello", MASK);
    frame[0] = 0x81;
    assert_eq!(hex::encode(frame), "818537fa213d7f9f4d5158");
}

/// The quoted frame, sent after the quoted upgrade request, reaches a real
/// strata WebSocket listener as the 20 bytes of the multistream header;
/// its answer carries the RFC's `Sec-WebSocket-Accept`.
#[tokio::test(flavor = "current_thread")]
async fn a_strata_listener_reads_the_quoted_frame() {
    let transport =
        strata_websocket::WsTransport::new(strata_tcp::TcpTransport::default(), strata_websocket::Config::default());
    let mut listener = transport.listen(&"/ip4/127.0.0.1/tcp/0/ws".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    let port = addr.iter().find_map(|c| if let Component::Tcp(port) = c { Some(port) } else { None }).unwrap();
    let server = tokio::spawn(async move {
        let (mut inbound, _remote) = listener.accept().await.unwrap();
        let mut buf = [0; 20];
        inbound.read_exact(&mut buf).await.unwrap();
        buf
    });
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut client = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    client.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(client.read_u8().await.unwrap());
    }
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    let accept = response.lines().find(|line| line.to_ascii_lowercase().starts_with("sec-websocket-accept:")).unwrap();
    assert_eq!(accept.split_once(": ").map(|(_, value)| value), Some(WS_ACCEPT), "{response}");
    // The chapter quotes the request's key and the answer's status line and
    // accept header as sent.
    let status = response.lines().next().unwrap();
    for quoted in [&format!("Sec-WebSocket-Key: {WS_KEY}"), status, accept] {
        assert!(CHAPTER.contains(quoted), "docs/07-browsers.md lacks {quoted:?}");
    }
    client.write_all(&client_binary_frame(&multistream_header(), MASK)).await.unwrap();
    assert_eq!(server.await.unwrap().to_vec(), multistream_header());
}

/// The SDP's fingerprint is the certhash's, and the ufrag is the spec's.
#[test]
fn the_sdp_names_the_certhash() {
    let sdp = answer_sdp();
    let line = sdp.lines().find(|line| line.starts_with("a=fingerprint:sha-256 ")).unwrap();
    let bytes: Vec<u8> =
        line["a=fingerprint:sha-256 ".len()..].split(':').map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
    let addr = webrtc_addr();
    let Some(Component::Certhash(hash)) = addr.iter().last() else { panic!("no certhash") };
    assert_eq!(Fingerprint::from_multihash(&hash).unwrap().as_bytes().as_slice(), bytes.as_slice());
    assert!(UFRAG.starts_with("libp2p+webrtc+v1/"));
}
