//! Multiaddr against `multiaddr.md` and `multiaddr-protocols.csv`: text ↔
//! bytes for each protocol strata supports, round trips, the helpers, and
//! malformed input in both forms.
//!
//! The byte vectors are built by hand from the spec: `<code uvarint>` from
//! the CSV, then the value (fixed size, or `<len uvarint><bytes>` for `V`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_core::{Error, Keypair, Multiaddr, PeerId, multiaddr::Component};

const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

fn check(text: &str, hex_bytes: &str) {
    let addr: Multiaddr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(hex::encode(addr.as_bytes()), hex_bytes, "{text}");
    let from_bytes = Multiaddr::from_bytes(&hex::decode(hex_bytes).unwrap()).unwrap();
    assert_eq!(from_bytes, addr);
    assert_eq!(from_bytes.to_string(), text);
}

#[test]
fn the_spec_example() {
    // "Same example: 0x4 0x7f 0x0 0x0 0x1 0x91 0x2 0x4 0xd2"
    check("/ip4/127.0.0.1/udp/1234", "047f000001910204d2");
}

#[test]
fn addresses_and_ports() {
    check("/ip4/127.0.0.1/tcp/4001", "047f000001060fa1");
    check("/ip4/0.0.0.0/tcp/0", "0400000000060000");
    check("/ip6/::1/tcp/8080", "2900000000000000000000000000000001061f90");
    check("/ip6/2001:db8::1/udp/65535", "2920010db80000000000000000000000019102ffff");
    check("/ip4/1.2.3.4/tcp/80/ipcidr/24", "04010203040600502b18");
    check("/ip6/fe80::1/ip6zone/eth0/tcp/1", "29fe8000000000000000000000000000012a0465746830060001");
}

#[test]
fn names() {
    check("/dns/example.com/tcp/443", "350b6578616d706c652e636f6d0601bb");
    check("/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb");
    check("/dns6/example.com/tcp/443", "370b6578616d706c652e636f6d0601bb");
    check("/dnsaddr/bootstrap.libp2p.io", "3813626f6f7473747261702e6c69627032702e696f");
}

#[test]
fn transports_and_security_without_values() {
    // quic-v1 = 461 = 0xcd 0x03; ws = 477; wss = 478; tls = 448; noise = 454;
    // p2p-circuit = 290; webtransport = 465.
    check("/ip4/1.2.3.4/udp/443/quic-v1", "0401020304910201bbcd03");
    check("/ip4/1.2.3.4/tcp/1/ws", "0401020304060001dd03");
    check("/ip4/1.2.3.4/tcp/1/wss", "0401020304060001de03");
    check("/ip4/1.2.3.4/tcp/1/tls/ws", "0401020304060001c003dd03");
    check("/ip4/1.2.3.4/tcp/1/noise", "0401020304060001c603");
    check("/p2p-circuit", "a202");
    check("/ip4/1.2.3.4/udp/1/quic-v1/webtransport", "040102030491020001cd03d103");
}

#[test]
fn sni_and_certhash() {
    // sni = 449 = 0xc1 0x03, then the length-prefixed name.
    check("/ip4/1.2.3.4/tcp/443/tls/sni/example.com/ws", "04010203040601bbc003c1030b6578616d706c652e636f6ddd03");
    // certhash = 466 = 0xd2 0x03; the value is a sha2-256 multihash of 32
    // zero bytes, written in base64url multibase.
    let mut multihash = vec![0x12, 0x20];
    multihash.extend_from_slice(&[0; 32]);
    let text = format!("/certhash/u{}", data_encoding_base64url(&multihash));
    check(&text, &format!("d20322{}", hex::encode(&multihash)));
    // Other multibases are accepted on input, written back as base64url.
    let hex_form: Multiaddr = format!("/certhash/f{}", hex::encode(&multihash)).parse().unwrap();
    assert_eq!(hex_form.to_string(), text);
}

fn data_encoding_base64url(bytes: &[u8]) -> String {
    strata_core::multibase::encode(strata_core::multibase::Base::Base64Url, bytes)[1..].to_owned()
}

#[test]
fn p2p_and_its_ipfs_alias() {
    let peer: PeerId = PEER.parse().unwrap();
    // p2p = 421 = 0xa5 0x03, then the multihash (38 bytes = 0x26).
    check(
        &format!("/ip4/1.2.3.4/tcp/1/p2p/{PEER}"),
        &format!("0401020304060001a50326{}", hex::encode(peer.as_bytes())),
    );
    let alias: Multiaddr = format!("/ipfs/{PEER}").parse().unwrap();
    assert_eq!(alias.to_string(), format!("/p2p/{PEER}"), "ipfs is read, p2p is written");
    // A CID peer id is accepted too.
    let cid: Multiaddr = format!("/p2p/{}", peer.to_cid_string()).parse().unwrap();
    assert_eq!(cid.peer_id(), Some(peer));
    check(
        &format!("/p2p/{PEER}/p2p-circuit/p2p/{PEER}"),
        &format!("a50326{0}a202a50326{0}", hex::encode(peer.as_bytes())),
    );
}

#[test]
fn memory_and_unix() {
    // memory = 777 = 0x89 0x06, variable length per the CSV.
    check("/memory/1234", "89060431323334");
    // unix = 400 = 0x90 0x03; the value is the path with its leading slash.
    check("/unix/tmp/strata.sock", "9003102f746d702f7374726174612e736f636b");
}

#[test]
fn components_push_pop_and_p2p_helpers() {
    let peer = Keypair::ed25519_from_secret([1; 32]).peer_id();
    let mut addr: Multiaddr = "/ip4/10.0.0.1/tcp/4001".parse().unwrap();
    let components: Vec<_> = addr.iter().collect();
    assert_eq!(components, [Component::Ip4([10, 0, 0, 1].into()), Component::Tcp(4001)]);
    assert_eq!(addr.peer_id(), None);

    addr.push(Component::Ws);
    assert_eq!(addr.to_string(), "/ip4/10.0.0.1/tcp/4001/ws");
    assert_eq!(addr.pop(), Some(Component::Ws));
    assert_eq!(addr.to_string(), "/ip4/10.0.0.1/tcp/4001");

    let with_peer = addr.clone().with_p2p(peer).unwrap();
    assert_eq!(with_peer.peer_id(), Some(peer));
    assert_eq!(with_peer.clone().with_p2p(peer).unwrap(), with_peer, "same peer: unchanged");
    let other = Keypair::ed25519_from_secret([2; 32]).peer_id();
    assert_eq!(with_peer.clone().with_p2p(other), Err(with_peer.clone()), "other peer: refused");
    assert_eq!(with_peer.without_peer_id(), addr);

    let rebuilt: Multiaddr = with_peer.iter().collect();
    assert_eq!(rebuilt, with_peer);
    let mut empty = Multiaddr::empty();
    assert_eq!(empty.pop(), None);
    assert_eq!(empty.to_string(), "");
    assert_eq!("".parse::<Multiaddr>().unwrap(), empty);
    assert_eq!(Multiaddr::from(Component::P2pCircuit).to_string(), "/p2p-circuit");
}

#[test]
fn equality_is_on_the_binary_form() {
    let a: Multiaddr = "/ip6/0:0:0:0:0:0:0:1/tcp/1".parse().unwrap();
    let b: Multiaddr = "/ip6/::1/tcp/1".parse().unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "/ip6/::1/tcp/1");
}

#[test]
fn malformed_text_is_refused() {
    for bad in [
        "ip4/1.2.3.4",     // no leading slash
        "/",               // nothing but a slash
        "/ip4/1.2.3.4/",   // trailing slash
        "/ip4//tcp/1",     // empty segment
        "/ip4",            // missing value
        "/ip4/1.2.3",      // bad IPv4
        "/ip4/256.0.0.1",  // bad IPv4
        "/ip4/01.2.3.4",   // leading zero
        "/ip6/1.2.3.4",    // IPv4 in ip6
        "/ip6/::1::2",     // bad IPv6
        "/tcp/65536",      // port out of range
        "/tcp/-1",         // negative port
        "/tcp/+80",        // sign
        "/tcp/8o",         // not a number
        "/tcp",            // missing port
        "/udp/",           // trailing slash, no port
        "/ipcidr/256",     // mask out of range
        "/foo/1",          // unknown protocol
        "/p2p/notapeerid", // bad peer id
        "/certhash/xyz",   // not multibase
        "/certhash/u",     // empty multihash
        "/unix",           // no path
        "/unix/",          // trailing slash
        "/tls/ws/",        // trailing slash after value-less protocols
    ] {
        assert!(bad.parse::<Multiaddr>().is_err(), "{bad:?} should be refused");
    }
    assert!(matches!("/quic/1".parse::<Multiaddr>(), Err(Error::UnknownProtocol(name)) if name == "1"));
    let long = format!("/dns/{}", "a".repeat(256));
    assert!(long.parse::<Multiaddr>().is_err(), "dns names are at most 255 bytes");
    let huge = "/tls".repeat(2100);
    assert!(huge.parse::<Multiaddr>().is_err(), "text over the limit");
}

#[test]
fn every_binary_within_the_limit_has_a_text_form_within_the_limit() {
    // Found by fuzzing: 1024 bytes of /ipcidr made text longer than the old
    // text limit. /webrtc-direct is the widest: 14 characters for 2 bytes.
    let widest: Multiaddr = std::iter::repeat_n(Component::WebrtcDirect, strata_core::multiaddr::MAX_LEN / 2).collect();
    assert_eq!(widest.as_bytes().len(), strata_core::multiaddr::MAX_LEN);
    assert!(Multiaddr::from_bytes(widest.as_bytes()).is_ok());
    let text = widest.to_string();
    assert!(text.len() <= strata_core::multiaddr::MAX_TEXT_LEN);
    assert_eq!(text.parse::<Multiaddr>().unwrap(), widest);
}

#[test]
fn malformed_bytes_are_refused() {
    let mut too_long_dns = vec![0x35, 0x80, 0x08];
    too_long_dns.extend(std::iter::repeat_n(b'a', 1024));
    for bad in [
        &[0x80][..],                     // truncated code varint
        &[0x7f],                         // unknown code 127
        &[0xff, 0xff, 0xff, 0x7f],       // unknown large code
        &[0x04, 1, 2, 3],                // ip4 short of a byte
        &[0x06, 0x01],                   // tcp short of a byte
        &[0x29, 0, 0],                   // ip6 truncated
        &[0x35, 0x05, b'a'],             // dns length overruns the input
        &[0x35, 0x00],                   // empty dns name
        &[0x35, 0x01, b'/'],             // dns name with a slash
        &[0x35, 0x02, 0xc3, 0x28],       // dns name not UTF-8
        &[0x35, 0x80],                   // truncated length varint
        &[0xa5, 0x03, 0x02, 0x13, 0x00], // p2p holding an unknown multihash
        &[0xd2, 0x03, 0x02, 0x12, 0x05], // certhash whose digest is short
        &[0x04, 1, 2, 3, 4, 0x80, 0x80], // valid component, then garbage
        &too_long_dns,
    ] {
        assert!(Multiaddr::from_bytes(bad).is_err(), "{bad:?} should be refused");
    }
    assert!(Multiaddr::from_bytes(&[0x84, 0x00]).is_err(), "non-minimal varint for ip4's code");
    // unix paths the text form could not write back (found by fuzzing: a
    // relative path printed as `/unix/<path>` parsed back as `/<path>`).
    for path in [&b"\0"[..], b"tmp/a", b"/tmp//a", b"/tmp/", b"/"] {
        let mut bytes = vec![0x90, 0x03, u8::try_from(path.len()).unwrap()];
        bytes.extend_from_slice(path);
        assert!(Multiaddr::from_bytes(&bytes).is_err(), "{path:?}");
    }
    assert_eq!(Multiaddr::from_bytes(&[]).unwrap(), Multiaddr::empty());
}

#[test]
fn an_ip_becomes_its_component_and_a_v4_mapped_v6_address_becomes_v4() {
    let from = |text: &str| Multiaddr::from_ip(text.parse().unwrap()).to_string();
    assert_eq!(from("127.0.0.1"), "/ip4/127.0.0.1");
    assert_eq!(from("::1"), "/ip6/::1");
    assert_eq!(from("::ffff:10.0.0.1"), "/ip4/10.0.0.1");
    let addr: Multiaddr = "/ip4/10.0.0.1".parse().unwrap();
    assert_eq!(addr.ip(), Some("10.0.0.1".parse().unwrap()));
}
