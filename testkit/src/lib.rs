//! Test helpers shared by strata's crates (a dev-dependency only): hosts
//! over TCP + Noise + yamux/mplex on loopback, waits that end, and a DNS
//! server of the test's own records ([`dns`]).
//!
//! Protocol crates cannot use the `strata` facade in their tests (it
//! depends on them), so the default layers are put together here once.

#![allow(clippy::expect_used, clippy::panic, clippy::missing_panics_doc)] // test helpers fail loudly

use std::time::Duration;

pub mod dns;
pub mod muxer_suite;
pub mod natlab;
pub mod sim;

use strata_core::{Keypair, Multiaddr};
use strata_host::{Builder, Host};

/// How long a test waits for anything before it fails.
pub const LIMIT: Duration = Duration::from_secs(30);

/// How often [`eventually`] looks at its condition again.
const POLL: Duration = Duration::from_millis(10);

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`]
/// (the panic names the caller's line).
///
/// The way to wait for an event: await what delivers it (a dial, a
/// channel, an event stream) inside `within`, never a sleep.
#[track_caller]
pub fn within<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match tokio::time::timeout(LIMIT, future).await {
            Ok(output) => output,
            Err(elapsed) => panic!("timed out: {elapsed}, {LIMIT:?} (waiting at {caller})"),
        }
    }
}

/// Waits until `condition` holds, looking again every 10 ms, and fails the
/// test naming `what` (and the caller's line) if it does not hold within
/// [`LIMIT`]. It returns as soon as the condition holds.
///
/// For state that changes without an event to await (a connection count,
/// a routing table, a peer store): where an event stream exists, await it
/// with [`within`] instead. The condition is async so that it may ask
/// (`async || kad.get_value(key).await.is_ok()`); a plain check is
/// `async || host.is_connected(peer)`.
///
/// On tokio's paused clock the 10 ms pauses advance the fake clock, so a
/// condition on timers is checked at each step without real waiting (and
/// one that waits on real I/O would see [`LIMIT`] pass at once: use it on
/// the paused clock for timer logic only).
#[track_caller]
pub fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) -> impl Future<Output = ()> {
    let caller = std::panic::Location::caller();
    async move {
        let waited = tokio::time::timeout(LIMIT, async {
            while !condition().await {
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "not within {LIMIT:?}: {what} (waiting at {caller})");
    }
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
        .security(strata_noise::Config::new)
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

/// The next `Established` event for `peer` on `lifecycle` (a host's
/// [`Host::lifecycle`], which starts with the connections already open),
/// within [`LIMIT`].
pub async fn established(
    lifecycle: &mut strata_host::Lifecycle,
    peer: strata_core::PeerId,
) -> strata_host::ConnectionEvent {
    within(async {
        loop {
            match lifecycle.next().await {
                Some(event @ strata_host::ConnectionEvent::Established { .. }) if event.peer() == peer => return event,
                Some(_) => {}
                None => panic!("the host's lifecycle ended before {peer} was established"),
            }
        }
    })
    .await
}
