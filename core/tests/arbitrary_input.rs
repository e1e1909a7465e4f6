//! Randomized input for every decoder of `strata-core`: whatever a stranger
//! sends, a decoder returns a value or a typed error, never panics, and
//! what it accepts survives a round trip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use proptest::prelude::*;
use strata_core::{Keypair, Multiaddr, PeerId, PublicKey, framing, multiaddr::Component, multistream, varint};
use tokio::io::AsyncWriteExt;

/// Text form round trip, except where a `unix` path is followed by more
/// components: a path takes the rest of the text, so such an address has no
/// faithful text form (in any implementation).
fn text_round_trips(addr: &Multiaddr) -> bool {
    let components: Vec<_> = addr.iter().collect();
    components.iter().rev().skip(1).all(|c| !matches!(c, Component::Unix(_)))
}

fn component() -> impl Strategy<Value = Component<'static>> {
    let name = "[a-z0-9.-]{1,30}";
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| Component::Ip4(a.into())),
        any::<[u8; 16]>().prop_map(|a| Component::Ip6(a.into())),
        any::<u16>().prop_map(Component::Tcp),
        any::<u16>().prop_map(Component::Udp),
        name.prop_map(|s| Component::Dns(s.into())),
        name.prop_map(|s| Component::Dns4(s.into())),
        name.prop_map(|s| Component::Dns6(s.into())),
        name.prop_map(|s| Component::Dnsaddr(s.into())),
        name.prop_map(|s| Component::Sni(s.into())),
        name.prop_map(|s| Component::Memory(s.into())),
        any::<[u8; 32]>().prop_map(|seed| Component::P2p(Keypair::ed25519_from_secret(seed).peer_id())),
        any::<[u8; 32]>().prop_map(|digest| {
            let mut multihash = vec![0x12, 0x20];
            multihash.extend_from_slice(&digest);
            Component::Certhash(multihash.into())
        }),
        Just(Component::QuicV1),
        Just(Component::Ws),
        Just(Component::Wss),
        Just(Component::Tls),
        Just(Component::Noise),
        Just(Component::P2pCircuit),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn multiaddr_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(addr) = Multiaddr::from_bytes(&bytes) {
            prop_assert_eq!(addr.as_bytes(), &bytes[..]);
            if text_round_trips(&addr) {
                prop_assert_eq!(addr.to_string().parse::<Multiaddr>().unwrap(), addr);
            }
        }
    }

    #[test]
    fn multiaddr_bytes_after_a_valid_prefix(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        // Garbage behind a valid component exercises every decoder branch.
        let mut bytes = "/ip4/1.2.3.4/tcp/1".parse::<Multiaddr>().unwrap().to_vec();
        bytes.extend_from_slice(&tail);
        let _ = Multiaddr::from_bytes(&bytes);
    }

    #[test]
    fn multiaddr_text(text in "(/[a-z0-9.:-]{0,12}){0,6}/?") {
        if let Ok(addr) = text.parse::<Multiaddr>() {
            prop_assert_eq!(addr.to_string().parse::<Multiaddr>().unwrap(), addr.clone());
            prop_assert_eq!(Multiaddr::from_bytes(addr.as_bytes()).unwrap(), addr);
        }
    }

    #[test]
    fn multiaddr_any_text(text in ".{0,80}") {
        let _ = text.parse::<Multiaddr>();
    }

    #[test]
    fn valid_multiaddrs_round_trip(components in proptest::collection::vec(component(), 0..6)) {
        let addr: Multiaddr = components.iter().cloned().collect();
        prop_assert_eq!(addr.iter().collect::<Vec<_>>(), components);
        prop_assert_eq!(Multiaddr::from_bytes(addr.as_bytes()).unwrap(), addr.clone());
        prop_assert_eq!(addr.to_string().parse::<Multiaddr>().unwrap(), addr.clone());
        let mut popped = addr.clone();
        if let Some(last) = popped.pop() {
            prop_assert_eq!(popped.with(last), addr);
        }
    }

    #[test]
    fn peer_id_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
        if let Ok(id) = PeerId::from_bytes(&bytes) {
            prop_assert_eq!(id.as_bytes(), &bytes[..]);
            prop_assert_eq!(id.to_string().parse::<PeerId>().unwrap(), id);
            prop_assert_eq!(id.to_cid_string().parse::<PeerId>().unwrap(), id);
        }
    }

    #[test]
    fn peer_id_text(text in "[1Qmbzfu][1-9A-Za-z]{0,60}") {
        if let Ok(id) = text.parse::<PeerId>() {
            prop_assert_eq!(PeerId::from_bytes(id.as_bytes()).unwrap(), id);
        }
    }

    #[test]
    fn key_protobufs(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(key) = PublicKey::decode_protobuf(&bytes) {
            prop_assert_eq!(key.encode_protobuf(), bytes.clone());
        }
        if let Ok(keypair) = Keypair::from_protobuf_encoding(&bytes) {
            let encoded = keypair.to_protobuf_encoding();
            prop_assert_eq!(encoded.as_slice(), &bytes[..]);
        }
    }

    #[test]
    fn ed25519_shaped_key_protobufs(data in proptest::collection::vec(any::<u8>(), 32)) {
        // Right shape, random key bytes: most are not curve points.
        let mut bytes = vec![0x08, 0x01, 0x12, 0x20];
        bytes.extend_from_slice(&data);
        if let Ok(key) = PublicKey::decode_protobuf(&bytes) {
            prop_assert_eq!(key.to_ed25519_bytes().map(|bytes| bytes.to_vec()), Some(data));
        }
    }

    #[test]
    fn varints(bytes in proptest::collection::vec(any::<u8>(), 0..12), value in 0u64..(1 << 63)) {
        let _ = varint::decode(&bytes);
        let _ = varint::decode_partial(&bytes);
        let mut out = Vec::new();
        varint::encode(value, &mut out);
        prop_assert_eq!(varint::decode(&out).unwrap(), (value, &[][..]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn framing_reader(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..32) {
        runtime().block_on(async {
            let (mut a, mut b) = tokio::io::duplex(256);
            a.write_all(&bytes).await.unwrap();
            drop(a);
            while let Ok(Some(message)) = framing::try_read_length_prefixed(&mut b, max).await {
                assert!(message.len() <= max);
            }
        });
    }

    #[test]
    fn multistream_listener(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        runtime().block_on(async {
            let (mut a, mut b) = tokio::io::duplex(4096);
            a.write_all(&bytes).await.unwrap();
            drop(a);
            let result = tokio::time::timeout(Duration::from_secs(5), multistream::listener_select(&mut b, &["/a"])).await;
            assert!(result.is_ok(), "a closed peer must end the negotiation");
        });
    }

    #[test]
    fn multistream_listener_after_a_valid_header(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        runtime().block_on(async {
            let (mut a, mut b) = tokio::io::duplex(4096);
            let mut bytes = b"\x13/multistream/1.0.0\n".to_vec();
            bytes.extend_from_slice(&tail);
            a.write_all(&bytes).await.unwrap();
            drop(a);
            let result = tokio::time::timeout(Duration::from_secs(5), multistream::listener_select(&mut b, &["/a"])).await;
            assert!(result.is_ok());
        });
    }

    #[test]
    fn multistream_dialer(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        runtime().block_on(async {
            let (mut a, mut b) = tokio::io::duplex(4096);
            b.write_all(&bytes).await.unwrap();
            drop(b.shutdown().await);
            let result = tokio::time::timeout(Duration::from_secs(5), multistream::dialer_select(&mut a, ["/a", "/b"])).await;
            assert!(result.is_ok());
            let _ = tokio::time::timeout(Duration::from_secs(5), multistream::list_protocols(&mut a)).await;
        });
    }
}
