//! Test helpers shared by strata's crates (a dev-dependency only): hosts
//! over TCP + Noise + yamux/mplex on loopback, and waits that end.
//!
//! Protocol crates cannot use the `strata` facade in their tests (it
//! depends on them), so the default layers are put together here once.

#![allow(clippy::expect_used, clippy::missing_panics_doc)] // test helpers fail loudly

use std::time::Duration;

pub mod muxer_suite;
pub mod sim;

use strata_core::{Keypair, Multiaddr};
use strata_host::{Builder, Host};

/// How long a test waits for anything before it fails.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("timed out")
}

/// The path of the example binary `name` built beside the running test
/// (`target/<profile>/examples/<name>`; `cargo test` builds a package's
/// examples, `cargo test --workspace` every package's).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let mut path = std::env::current_exe().expect("the test's own path");
    path.pop();
    path.pop();
    path.push("examples");
    path.push(name);
    assert!(path.exists(), "build the {name} example first (cargo test --workspace does): {}", path.display());
    path
}

/// Reads lines (a child's stdout) until one satisfies `wanted`, within
/// [`LIMIT`]; returns it.
pub async fn wait_for_line<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
    wanted: impl Fn(&str) -> bool,
) -> String {
    within(async {
        loop {
            let line = lines.next_line().await.expect("reading a line").expect("the process ended early");
            if wanted(&line) {
                return line;
            }
        }
    })
    .await
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
