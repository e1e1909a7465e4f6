//! Test helpers shared by strata's crates (a dev-dependency only): hosts
//! over TCP + Noise + yamux/mplex on loopback, and waits that end.
//!
//! Protocol crates cannot use the `strata` facade in their tests (it
//! depends on them), so the default layers are put together here once.

#![allow(clippy::expect_used, clippy::missing_panics_doc)] // test helpers fail loudly

use std::time::Duration;

pub mod muxer_suite;

use strata_core::{Keypair, Multiaddr};
use strata_host::{Builder, Host};

/// How long a test waits for anything before it fails.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

/// A builder with the default layers (TCP, Noise, yamux then mplex) and
/// this identity.
pub fn builder(keypair: &Keypair) -> Builder {
    let upgrader = strata_host::Upgrader::new(strata_tcp::TcpTransport::default())
        .security(strata_noise::Config::new(keypair))
        .muxer(strata_yamux::Config::default())
        .muxer(strata_mplex::Config::default());
    Builder::new(keypair).upgrader(upgrader)
}

/// A host with a fresh identity, listening on a free port of 127.0.0.1.
pub async fn host() -> Host {
    builder(&Keypair::generate_ed25519())
        .listen("/ip4/127.0.0.1/tcp/0".parse().expect("a multiaddr"))
        .build()
        .await
        .expect("a host on loopback")
}

/// A host with a fresh identity that does not listen.
pub async fn dialer() -> Host {
    builder(&Keypair::generate_ed25519()).build().await.expect("a host")
}

/// The first address of `host`, with its peer id: what a peer dials.
pub fn address_of(host: &Host) -> Multiaddr {
    host.listen_addrs()[0].clone().with_p2p(host.peer_id()).expect("no peer id in a listen address")
}
