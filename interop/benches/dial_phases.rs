//! Where the time of a dial goes: the stages of connection setup, each
//! timed alone, for strata and rust-libp2p 0.57 in the same run (medians of
//! sequential repetitions, both ends in this process).
//!
//! 1. the Noise XX handshake with no network at all: both ends on one
//!    thread over an in-memory pipe, so the figure is the handshake's
//!    computation (six X25519 multiplications, two signature checks, the
//!    hashing and sealing) plus the stack's own code around it;
//! 2. a TCP connect on loopback, to an accepting listener;
//! 3. TCP connect + Noise handshake, both ends on one thread, then on the
//!    two-thread runtime: the difference is what waking a task on the
//!    other thread costs, once per message;
//! 4. the whole dial of the host (strata) or the swarm (rust-libp2p):
//!    TCP + multistream + Noise + multistream + yamux, to the moment the
//!    dialer holds a usable connection.
//!
//! Stage 1 is a floor: the dial cannot take less than the handshake's
//! arithmetic, whatever the rest of the stack does.
//!
//! Run: `cargo bench -p strata-interop --bench dial_phases` (`-- <n>` for
//! the repetitions of each stage, 300 by default).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly
#![allow(clippy::cast_precision_loss)] // durations as f64 for ratios

use std::time::{Duration, Instant};

use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};
use strata_core::{Keypair, Listener, SecurityUpgrade, Transport};
use tokio_util::compat::TokioAsyncReadCompatExt;

#[path = "../tests/support/rust_peer.rs"]
mod rust_peer;

use rust_peer::{RustPeer, TheirMuxer};

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Times the stage `$stage` (an expression to await) `$n` times, one
/// after another; the median.
macro_rules! timed {
    ($n:expr, $stage:expr) => {{
        let mut times = Vec::with_capacity($n);
        for _ in 0..$n {
            let start = Instant::now();
            $stage.await;
            times.push(start.elapsed());
        }
        median(times)
    }};
}

async fn strata_handshake(dialer: &strata_noise::Config, listener: &strata_noise::Config) {
    let (a, b) = tokio::io::duplex(4096);
    let (outbound, inbound) = tokio::join!(dialer.secure_outbound(a, None), listener.secure_inbound(b));
    outbound.unwrap();
    inbound.unwrap();
}

async fn rust_handshake(dialer: &libp2p::noise::Config, listener: &libp2p::noise::Config) {
    let (a, b) = tokio::io::duplex(4096);
    let (outbound, inbound) = tokio::join!(
        dialer.clone().upgrade_outbound(a.compat(), "/noise"),
        listener.clone().upgrade_inbound(b.compat(), "/noise")
    );
    outbound.unwrap();
    inbound.unwrap();
}

/// A loopback listener that accepts and keeps every connection until the
/// stage has measured its dial, and its address.
async fn tcp_listener() -> (strata_tcp::TcpListener, strata_core::Multiaddr) {
    let tcp = strata_tcp::TcpTransport::default();
    let listener = tcp.listen(&"/ip4/127.0.0.1/tcp/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    (listener, addr)
}

async fn tcp_connect(listener: &mut strata_tcp::TcpListener, addr: &strata_core::Multiaddr) {
    let tcp = strata_tcp::TcpTransport::default();
    let (dialed, accepted) = tokio::join!(tcp.dial(addr), listener.accept());
    dialed.unwrap();
    accepted.unwrap();
}

async fn strata_tcp_noise(
    listener: &mut strata_tcp::TcpListener,
    addr: &strata_core::Multiaddr,
    dialer: &strata_noise::Config,
    responder: &strata_noise::Config,
) {
    let tcp = strata_tcp::TcpTransport::default();
    let responder = responder.clone();
    let (outbound, inbound) = tokio::join!(tcp.dial(addr), listener.accept());
    let accepting = tokio::spawn(async move { responder.secure_inbound(inbound.unwrap().0).await.map(drop) });
    dialer.secure_outbound(outbound.unwrap(), None).await.unwrap();
    accepting.await.unwrap().unwrap();
}

async fn rust_tcp_noise(
    listener: &mut strata_tcp::TcpListener,
    addr: &strata_core::Multiaddr,
    dialer: &libp2p::noise::Config,
    responder: &libp2p::noise::Config,
) {
    let tcp = strata_tcp::TcpTransport::default();
    let responder = responder.clone();
    let (outbound, inbound) = tokio::join!(tcp.dial(addr), listener.accept());
    let accepting =
        tokio::spawn(async move { responder.upgrade_inbound(inbound.unwrap().0.compat(), "/noise").await.map(drop) });
    dialer.clone().upgrade_outbound(outbound.unwrap().compat(), "/noise").await.unwrap();
    accepting.await.unwrap().unwrap();
}

async fn strata_dials(n: usize) -> Duration {
    let config = strata::host::Config::default()
        .with_max_connections_per_peer(100_000)
        .with_max_pending_upgrades_per_ip(1024, 1024)
        .with_accept_rate_per_ip(1_000_000);
    let server = strata::builder_with(&Keypair::generate_ed25519(), strata::Muxers::Yamux)
        .config(config.clone())
        .listen("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let client =
        strata::builder_with(&Keypair::generate_ed25519(), strata::Muxers::Yamux).config(config).build().await.unwrap();
    let addr = server.listen_addrs()[0].clone();
    let result = timed!(n, async {
        let peer = client.dial(addr.clone()).await.unwrap(); // no /p2p/: a new connection each time
        client.disconnect(peer).await;
    });
    client.shutdown().await;
    server.shutdown().await;
    result
}

async fn rust_dials(n: usize) -> Duration {
    let server = RustPeer::with_muxer(true, TheirMuxer::Yamux);
    let mut server = server;
    let addr = server.listening.recv().await.unwrap();
    let mut client = RustPeer::with_muxer(false, TheirMuxer::Yamux);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        client.dial(addr.clone());
        client.established.recv().await.unwrap();
        times.push(start.elapsed());
        client.disconnect(server.peer);
    }
    median(times)
}

fn row(stage: &str, ours: Duration, theirs: Duration) {
    println!(
        "  {stage:<44} strata {:6.0} µs | rust-libp2p {:6.0} µs | ratio {:.2}x",
        ours.as_secs_f64() * 1e6,
        theirs.as_secs_f64() * 1e6,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn main() {
    let n = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300_usize).max(1);
    let (alice, bob) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (ours_dialer, ours_listener) = (strata_noise::Config::new(&alice), strata_noise::Config::new(&bob));
    let (rust_alice, rust_bob) =
        (libp2p_identity::Keypair::generate_ed25519(), libp2p_identity::Keypair::generate_ed25519());
    let (rust_dialer, rust_listener) =
        (libp2p::noise::Config::new(&rust_alice).unwrap(), libp2p::noise::Config::new(&rust_bob).unwrap());

    println!("connection setup by stage, median of {n} sequential runs each (yamux for the whole dial)");

    let one_thread = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ours = one_thread.block_on(async { timed!(n, strata_handshake(&ours_dialer, &ours_listener)) });
    let theirs = one_thread.block_on(async { timed!(n, rust_handshake(&rust_dialer, &rust_listener)) });
    row("1. Noise XX in memory, one thread", ours, theirs);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let tcp = runtime.block_on(async {
        let (mut listener, addr) = tcp_listener().await;
        timed!(n, tcp_connect(&mut listener, &addr))
    });
    println!("  {:<44} {:6.0} µs (the same for both stacks)", "2. TCP connect on loopback", tcp.as_secs_f64() * 1e6);

    let ours = one_thread.block_on(async {
        let (mut listener, addr) = tcp_listener().await;
        timed!(n, strata_tcp_noise(&mut listener, &addr, &ours_dialer, &ours_listener))
    });
    let theirs = one_thread.block_on(async {
        let (mut listener, addr) = tcp_listener().await;
        timed!(n, rust_tcp_noise(&mut listener, &addr, &rust_dialer, &rust_listener))
    });
    row("3a. TCP + Noise, one thread", ours, theirs);

    let ours = runtime.block_on(async {
        let (mut listener, addr) = tcp_listener().await;
        timed!(n, strata_tcp_noise(&mut listener, &addr, &ours_dialer, &ours_listener))
    });
    let theirs = runtime.block_on(async {
        let (mut listener, addr) = tcp_listener().await;
        timed!(n, rust_tcp_noise(&mut listener, &addr, &rust_dialer, &rust_listener))
    });
    row("3b. TCP + Noise, two threads", ours, theirs);

    let ours = runtime.block_on(strata_dials(n));
    let theirs = runtime.block_on(rust_dials(n));
    row("4. whole dial to a usable yamux connection", ours, theirs);
}
