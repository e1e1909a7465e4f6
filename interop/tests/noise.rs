//! strata's Noise against rust-libp2p 0.57's, over TCP on loopback, both
//! directions: the handshake completes, each side learns the other's
//! correct `PeerId`, and 1 MiB crosses each way intact (SHA-256).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use strata_testkit::within;

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};
use sha2::{Digest, Sha256};
use strata_core::{Keypair, Listener, PeerId, SecurityUpgrade, Transport};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::compat::TokioAsyncReadCompatExt;

const SIZE: usize = 1 << 20;

/// A connected TCP pair on 127.0.0.1, through strata's TCP transport.
async fn tcp_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let tcp = strata_tcp::TcpTransport::default();
    let mut listener = tcp.listen(&"/ip4/127.0.0.1/tcp/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    let (dialed, accepted) = within(async { tokio::join!(tcp.dial(&addr), listener.accept()) }).await;
    (dialed.unwrap(), accepted.unwrap().0)
}

fn identities() -> (Keypair, libp2p_identity::Keypair) {
    let ours = Keypair::ed25519_from_secret([1; 32]);
    let theirs = libp2p_identity::Keypair::ed25519_from_bytes([2; 32]).unwrap();
    (ours, theirs)
}

fn their_peer_id(theirs: &libp2p_identity::Keypair) -> PeerId {
    PeerId::from_bytes(&theirs.public().to_peer_id().to_bytes()).unwrap()
}

fn payload(seed: u8) -> Vec<u8> {
    (0..SIZE).map(|i| i.to_le_bytes()[0].wrapping_mul(31).wrapping_add(seed)).collect()
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Sends `SIZE` bytes each way at once; returns (what strata received,
/// what rust-libp2p received).
async fn exchange<S>(ours: strata_noise::NoiseStream<S>, theirs: TheirStream) -> (Vec<u8>, Vec<u8>)
where
    S: strata_core::ByteStream,
{
    let (mut our_read, mut our_write) = tokio::io::split(ours);
    let (mut their_read, mut their_write) = theirs.split();
    let strata_sends = async {
        our_write.write_all(&payload(1)).await.unwrap();
        our_write.shutdown().await.unwrap();
    };
    let strata_receives = async {
        let mut got = Vec::new();
        our_read.read_to_end(&mut got).await.unwrap();
        got
    };
    let libp2p_sends = async {
        their_write.write_all(&payload(2)).await.unwrap();
        their_write.close().await.unwrap();
    };
    let libp2p_receives = async {
        let mut got = Vec::new();
        their_read.read_to_end(&mut got).await.unwrap();
        got
    };
    let ((), strata_got, (), libp2p_got) =
        within(async { tokio::join!(strata_sends, strata_receives, libp2p_sends, libp2p_receives) }).await;
    (strata_got, libp2p_got)
}

type TheirStream = libp2p::noise::Output<tokio_util::compat::Compat<tokio::net::TcpStream>>;

/// Checks that each side saw the other's identity, then exchanges `SIZE`
/// bytes each way. Each tuple: an identity, the peer id the *other* side
/// saw for it, and that side's secured stream.
async fn check_session(
    strata_side: (&Keypair, libp2p::PeerId, strata_noise::NoiseStream<tokio::net::TcpStream>),
    libp2p_side: (&libp2p_identity::Keypair, PeerId, TheirStream),
) {
    let (ours, seen_by_libp2p, our_stream) = strata_side;
    let (theirs, seen_by_strata, their_stream) = libp2p_side;
    assert_eq!(seen_by_strata, their_peer_id(theirs));
    assert_eq!(seen_by_libp2p.to_bytes(), ours.peer_id().to_bytes());
    let (strata_got, libp2p_got) = exchange(our_stream, their_stream).await;
    assert_eq!(sha(&strata_got), sha(&payload(2)), "rust-libp2p → strata");
    assert_eq!(sha(&libp2p_got), sha(&payload(1)), "strata → rust-libp2p");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_dials_rust_libp2p() {
    let (ours, theirs) = identities();
    let (a, b) = tcp_pair().await;
    let strata = strata_noise::Config::new(&ours);
    let libp2p_noise = libp2p::noise::Config::new(&theirs).unwrap();
    let (dialed, accepted) = within(async {
        tokio::join!(
            strata.secure_outbound(a, Some(their_peer_id(&theirs))),
            libp2p_noise.upgrade_inbound(b.compat(), "/noise")
        )
    })
    .await;
    let (seen_by_strata, our_stream) = dialed.unwrap();
    let (seen_by_libp2p, their_stream) = accepted.unwrap();
    check_session((&ours, seen_by_libp2p, our_stream), (&theirs, seen_by_strata, their_stream)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_strata() {
    let (ours, theirs) = identities();
    let (a, b) = tcp_pair().await;
    let strata = strata_noise::Config::new(&ours);
    let libp2p_noise = libp2p::noise::Config::new(&theirs).unwrap();
    let (dialed, accepted) =
        within(async { tokio::join!(libp2p_noise.upgrade_outbound(a.compat(), "/noise"), strata.secure_inbound(b)) })
            .await;
    let (seen_by_libp2p, their_stream) = dialed.unwrap();
    let (seen_by_strata, our_stream) = accepted.unwrap();
    check_session((&ours, seen_by_libp2p, our_stream), (&theirs, seen_by_strata, their_stream)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_refuses_a_rust_libp2p_peer_it_did_not_dial() {
    let (ours, theirs) = identities();
    let (a, b) = tcp_pair().await;
    let strata = strata_noise::Config::new(&ours);
    let libp2p_noise = libp2p::noise::Config::new(&theirs).unwrap();
    let expected = PeerId::random();
    let (dialed, accepted) = within(async {
        tokio::join!(
            async {
                let result = strata.secure_outbound(a, Some(expected)).await;
                result.map(|(peer, _)| peer) // the stream is dropped here, closing the connection
            },
            libp2p_noise.upgrade_inbound(b.compat(), "/noise")
        )
    })
    .await;
    assert!(
        matches!(dialed, Err(strata_noise::Error::PeerIdMismatch(strata_core::PeerIdMismatch { expected: e, .. })) if e == expected)
    );
    assert!(accepted.is_err(), "rust-libp2p sees the connection close before message 3");
}
