//! The whole stack of strata next to rust-libp2p 0.57 (`libp2p-stream`),
//! same machine, same run, once per stack: TCP + Noise + yamux (strata's
//! and rust-libp2p's default; libp2p-yamux 0.48), TCP + Noise + mplex
//! (libp2p-mplex 0.44), and QUIC (strata-quic; libp2p-quic, both quinn
//! 0.11 with TLS 1.3 by rustls and ring). Each side offers only the stack
//! measured.
//!
//! - throughput: 1 GiB over one stream, and 1 GiB split over 8 streams at
//!   once on one connection, MB/s and CPU-seconds per GiB (both ends are in
//!   this process);
//! - dial: the time from a dial to a usable connection, over sequential
//!   dials to one listener on loopback;
//! - connections per second: 1000 new connections into one listener, 64
//!   dials in flight, the listener and the dialer on a one-thread runtime
//!   each, and the CPU each side spends per connection (read from its own
//!   thread);
//! - memory: the RSS of 1000 idle connections (both ends in one process),
//!   per connection. Each memory run is a child process of its own, so that
//!   one stack's freed memory cannot flatter the other.
//!
//! Run: `cargo bench -p strata-interop --bench stack` (`-- <MiB> <dials>
//! <connections>` to change the sizes, `--muxer yamux|mplex|quic` for one;
//! `-- --strata-conns yamux 3000` runs strata's connections-per-second part
//! alone, to profile). Figures and the machine: `benches/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly
#![allow(clippy::cast_precision_loss)] // counts as f64 for rates

use std::{
    process::Command,
    time::{Duration, Instant},
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::StreamProtocol;
use strata::{Keypair, Multiaddr, Muxers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{rust_peer::TheirMuxer, side::Side};

#[path = "stack/side.rs"]
mod side;

/// The stack a run measures, on both sides: TCP with a muxer, or QUIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Muxer {
    Yamux,
    Mplex,
    Quic,
}

impl Muxer {
    fn name(self) -> &'static str {
        match self {
            Self::Yamux => "yamux",
            Self::Mplex => "mplex",
            Self::Quic => "quic",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Yamux => "TCP + Noise + yamux",
            Self::Mplex => "TCP + Noise + mplex",
            Self::Quic => "QUIC (TLS 1.3, QUIC's own streams)",
        }
    }

    fn ours(self) -> Muxers {
        match self {
            Self::Yamux | Self::Quic => Muxers::Yamux,
            Self::Mplex => Muxers::Mplex,
        }
    }

    fn theirs(self) -> TheirMuxer {
        match self {
            Self::Yamux => TheirMuxer::Yamux,
            Self::Mplex => TheirMuxer::Mplex,
            Self::Quic => TheirMuxer::Quic,
        }
    }

    /// Where a strata server listens.
    fn listen(self) -> Multiaddr {
        let addr = if self == Self::Quic { "/ip4/127.0.0.1/udp/0/quic-v1" } else { "/ip4/127.0.0.1/tcp/0" };
        addr.parse().unwrap()
    }

    fn parse(name: &str) -> Self {
        match name {
            "mplex" => Self::Mplex,
            "quic" => Self::Quic,
            _ => Self::Yamux,
        }
    }
}

const SINK: &str = "/sink/1.0.0";
const CHUNK: usize = 1 << 20;
/// Dials in flight at once in the connections-per-second measurement.
const IN_FLIGHT: usize = 64;

fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat format") + 2..].split(' ').collect();
    Duration::from_millis((fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()) * 10)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

// ----- strata -----

/// A host config for one client dialing one server many times from
/// 127.0.0.1: the admission limits meant for many peers (per peer, per
/// address, the inbound share) lifted, as rust-libp2p has none of them by
/// default.
fn bench_config() -> strata::host::Config {
    strata::host::Config::default()
        .with_max_connections(100_000)
        .with_max_inbound_connections(100_000)
        .with_max_connections_per_peer(100_000)
        .with_max_pending_upgrades_per_ip(1024, 1024)
        .with_accept_rate_per_ip(1_000_000)
}

/// A listening host with the sink protocol (its tasks run on the runtime
/// this is called on).
async fn strata_server(muxer: Muxer) -> (strata::Host, Multiaddr) {
    let server = strata::builder_with(&Keypair::generate_ed25519(), muxer.ours())
        .config(bench_config())
        .listen(muxer.listen())
        .build()
        .await
        .unwrap();
    server
        .handle(SINK, |mut stream| async move {
            stream.write_all(&[1]).await?; // accepted: the next stream may come
            stream.flush().await?;
            let mut buf = vec![0u8; CHUNK];
            while stream.read(&mut buf).await? > 0 {}
            stream.shutdown().await
        })
        .unwrap();
    let addr = server.listen_addrs()[0].clone();
    (server, addr)
}

async fn strata_client(muxer: Muxer) -> strata::Host {
    strata::builder_with(&Keypair::generate_ed25519(), muxer.ours()).config(bench_config()).build().await.unwrap()
}

async fn strata_pair(muxer: Muxer) -> (strata::Host, strata::Host, Multiaddr) {
    let (server, addr) = strata_server(muxer).await;
    (server, strata_client(muxer).await, addr)
}

async fn strata_throughput(muxer: Muxer, bytes: usize, streams: usize) -> (Duration, Duration) {
    let (server, client, addr) = strata_pair(muxer).await;
    let peer = client.dial(addr).await.unwrap();
    let mut opened = Vec::new();
    for _ in 0..streams {
        let mut stream = client.open_stream(peer, &[SINK]).await.unwrap();
        stream.read_exact(&mut [0u8; 1]).await.unwrap(); // the sink has it
        opened.push(stream);
    }
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let senders = opened.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            let chunk = vec![0x5a_u8; CHUNK];
            for _ in 0..bytes / CHUNK / streams {
                stream.write_all(&chunk).await.unwrap();
            }
            stream.shutdown().await.unwrap();
            let mut end = Vec::new();
            stream.read_to_end(&mut end).await.unwrap(); // the sink closes after reading everything
        })
    });
    for sender in senders.collect::<Vec<_>>() {
        sender.await.unwrap();
    }
    let result = (wall0.elapsed(), cpu_time().saturating_sub(cpu0));
    client.shutdown().await;
    server.shutdown().await;
    result
}

async fn strata_dials(muxer: Muxer, count: usize) -> Duration {
    let (server, client, addr) = strata_pair(muxer).await;
    let mut times = Vec::new();
    for _ in 0..count {
        let start = Instant::now();
        let peer = client.dial(addr.clone()).await.unwrap(); // no /p2p/: a new connection each time
        times.push(start.elapsed());
        client.disconnect(peer).await;
    }
    client.shutdown().await;
    server.shutdown().await;
    median(times)
}

/// The outcome of a connections-per-second run.
struct Conns {
    established: usize,
    wall: Duration,
    listener_cpu: Duration,
    dialer_cpu: Duration,
}

/// `n` new connections into one listener, `IN_FLIGHT` dials at a time,
/// listener and dialer on a core each (a one-thread runtime each).
fn strata_conns(muxer: Muxer, n: usize) -> Conns {
    use futures::StreamExt as _;

    let (listener, dialer) = (Side::new(), Side::new());
    let (server, addr) = listener.runtime.block_on(strata_server(muxer));
    let client = dialer.runtime.block_on(strata_client(muxer));
    let (listener0, dialer0, wall0) = (listener.cpu_time(), dialer.cpu_time(), Instant::now());
    let dialing = client.clone();
    let established = dialer
        .runtime
        .block_on(dialer.runtime.spawn(async move {
            let dials = futures::stream::iter(0..n).map(|_| dialing.dial(addr.clone())).buffer_unordered(IN_FLIGHT);
            let outcomes: Vec<_> = dials.collect().await;
            for error in outcomes.iter().filter_map(|outcome| outcome.as_ref().err()) {
                eprintln!("    a dial failed: {error}");
            }
            outcomes.iter().filter(|outcome| outcome.is_ok()).count()
        }))
        .unwrap();
    let result = Conns {
        established,
        wall: wall0.elapsed(),
        listener_cpu: listener.cpu_time().saturating_sub(listener0),
        dialer_cpu: dialer.cpu_time().saturating_sub(dialer0),
    };
    dialer.runtime.block_on(client.shutdown());
    listener.runtime.block_on(server.shutdown());
    result
}

async fn strata_idle(muxer: Muxer, connections: usize) -> u64 {
    let (server, client, addr) = strata_pair(muxer).await;
    let before = rss_kib();
    for _ in 0..connections {
        client.dial(addr.clone()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib();
    drop((server, client));
    after.saturating_sub(before)
}

// ----- rust-libp2p -----

#[path = "../tests/support/rust_peer.rs"]
mod rust_peer;

use rust_peer::RustPeer;

async fn rust_pair(muxer: Muxer) -> (RustPeer, RustPeer, libp2p::Multiaddr) {
    let mut server = RustPeer::with_muxer(true, muxer.theirs());
    let mut incoming = server.control.accept(StreamProtocol::new(SINK)).unwrap();
    tokio::spawn(async move {
        while let Some((_, mut stream)) = incoming.next().await {
            tokio::spawn(async move {
                let _ = stream.write_all(&[1]).await; // accepted: the next stream may come
                let _ = stream.flush().await;
                let mut buf = vec![0u8; CHUNK];
                while stream.read(&mut buf).await.unwrap_or(0) > 0 {}
                let _ = stream.close().await;
            });
        }
    });
    let addr = server.listening.recv().await.unwrap();
    (server, RustPeer::with_muxer(false, muxer.theirs()), addr)
}

async fn rust_throughput(muxer: Muxer, bytes: usize, streams: usize) -> (Duration, Duration) {
    let (server, mut client, addr) = rust_pair(muxer).await;
    client.dial(addr);
    client.established.recv().await.unwrap();
    let mut opened = Vec::new();
    for _ in 0..streams {
        // One at a time, each acknowledged: libp2p-stream hands inbound
        // streams over a one-slot channel and resets one that arrives while
        // another waits.
        let mut stream = client.control.open_stream(server.peer, StreamProtocol::new(SINK)).await.unwrap();
        stream.read_exact(&mut [0u8; 1]).await.unwrap();
        opened.push(stream);
    }
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let senders = opened.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            let chunk = vec![0x5a_u8; CHUNK];
            for _ in 0..bytes / CHUNK / streams {
                stream.write_all(&chunk).await.unwrap();
            }
            stream.close().await.unwrap();
            let mut end = Vec::new();
            stream.read_to_end(&mut end).await.unwrap();
        })
    });
    for sender in senders.collect::<Vec<_>>() {
        sender.await.unwrap();
    }
    (wall0.elapsed(), cpu_time().saturating_sub(cpu0))
}

async fn rust_dials(muxer: Muxer, count: usize) -> Duration {
    let (server, mut client, addr) = rust_pair(muxer).await;
    let mut times = Vec::new();
    for _ in 0..count {
        let start = Instant::now();
        client.dial(addr.clone());
        client.established.recv().await.unwrap();
        times.push(start.elapsed());
        client.disconnect(server.peer);
    }
    median(times)
}

fn rust_conns(muxer: Muxer, n: usize) -> Conns {
    let (listener, dialer) = (Side::new(), Side::new());
    let (server, addr) = listener.runtime.block_on(async {
        let mut server = RustPeer::with_muxer(true, muxer.theirs());
        let addr = server.listening.recv().await.unwrap();
        (server, addr)
    });
    let mut client = dialer.runtime.block_on(async { RustPeer::with_muxer(false, muxer.theirs()) });
    let (listener0, dialer0, wall0) = (listener.cpu_time(), dialer.cpu_time(), Instant::now());
    let established;
    (client, established) = dialer
        .runtime
        .block_on(dialer.runtime.spawn(async move {
            let (mut started, mut established) = (0, 0);
            while started < IN_FLIGHT.min(n) {
                client.dial(addr.clone());
                started += 1;
            }
            for _ in 0..n {
                let done = tokio::time::timeout(Duration::from_secs(30), async {
                    tokio::select! {
                        peer = client.established.recv() => peer.map(|_| true),
                        error = client.dial_failed.recv() => error.map(|error| {
                            eprintln!("    a dial failed: {error}");
                            false
                        }),
                    }
                });
                established += usize::from(done.await.unwrap().unwrap());
                if started < n {
                    client.dial(addr.clone());
                    started += 1;
                }
            }
            (client, established)
        }))
        .unwrap();
    let result = Conns {
        established,
        wall: wall0.elapsed(),
        listener_cpu: listener.cpu_time().saturating_sub(listener0),
        dialer_cpu: dialer.cpu_time().saturating_sub(dialer0),
    };
    drop((client, server));
    result
}

async fn rust_idle(muxer: Muxer, connections: usize) -> u64 {
    let (_server, mut client, addr) = rust_pair(muxer).await;
    let before = rss_kib();
    for _ in 0..connections {
        client.dial(addr.clone());
        client.established.recv().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    rss_kib().saturating_sub(before)
}

// ----- the report -----

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Runs one memory measurement in a child process; returns KiB.
fn idle_in_child(stack: &str, muxer: Muxer, connections: usize) -> u64 {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--idle", stack, muxer.name(), &connections.to_string()])
        .output()
        .expect("the benchmark can run itself");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap()
}

/// Three alternating rounds of `bytes` over `streams` streams; prints
/// each and the medians.
fn throughput(rt: &tokio::runtime::Runtime, muxer: Muxer, bytes: usize, streams: usize) {
    let mib = bytes / CHUNK;
    println!("  throughput, {mib} MiB over {streams} stream(s) at once (3 rounds, alternating):");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let s = rt.block_on(strata_throughput(muxer, bytes, streams));
        let l = rt.block_on(rust_throughput(muxer, bytes, streams));
        let rate = |(wall, _): (Duration, Duration)| bytes as f64 / 1e6 / wall.as_secs_f64();
        let cpu = |(_, cpu): (Duration, Duration)| cpu.as_secs_f64() / (bytes as f64 / f64::from(1u32 << 30));
        println!(
            "    round {round}: strata {:6.0} MB/s {:.2} CPU-s/GiB | rust-libp2p {:6.0} MB/s {:.2} CPU-s/GiB",
            rate(s),
            cpu(s),
            rate(l),
            cpu(l)
        );
        ours.push((rate(s), cpu(s)));
        theirs.push((rate(l), cpu(l)));
    }
    let mid = |v: &Vec<(f64, f64)>, pick: fn(&(f64, f64)) -> f64| {
        let mut x: Vec<f64> = v.iter().map(pick).collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    let (sr, sc, lr, lc) = (mid(&ours, |m| m.0), mid(&ours, |m| m.1), mid(&theirs, |m| m.0), mid(&theirs, |m| m.1));
    println!("    medians: strata {sr:.0} MB/s {sc:.2} CPU-s/GiB; rust-libp2p {lr:.0} MB/s {lc:.2} CPU-s/GiB");
    println!("    ratio strata/rust-libp2p: throughput {:.2}x, CPU per GiB {:.2}x", sr / lr, sc / lc);
}

fn report(muxer: Muxer, bytes: usize, dials: usize, connections: usize) {
    let rt = runtime();
    println!("whole stack, {} on loopback, both ends in one process", muxer.title());
    throughput(&rt, muxer, bytes, 1);
    throughput(&rt, muxer, bytes, 8);

    let s = rt.block_on(strata_dials(muxer, dials));
    let l = rt.block_on(rust_dials(muxer, dials));
    println!("  dial to usable connection, median of {dials} sequential dials:");
    println!(
        "    strata {:.0} µs | rust-libp2p {:.0} µs | ratio {:.2}x",
        s.as_secs_f64() * 1e6,
        l.as_secs_f64() * 1e6,
        s.as_secs_f64() / l.as_secs_f64()
    );
    drop(rt);
    let (ours, theirs) = (strata_conns(muxer, connections), rust_conns(muxer, connections));
    let rate = |c: &Conns| c.established as f64 / c.wall.as_secs_f64();
    let per = |cpu: Duration| cpu.as_secs_f64() * 1e6 / connections as f64;
    println!(
        "  {connections} connections into one listener, {IN_FLIGHT} dials in flight, listener and dialer a core each:"
    );
    for (name, c) in [("strata", &ours), ("rust-libp2p", &theirs)] {
        println!(
            "    {name:<11} {:5.0}/s, CPU per connection: listener {:4.0} µs, dialer {:4.0} µs ({} of {connections} established)",
            rate(c),
            per(c.listener_cpu),
            per(c.dialer_cpu),
            c.established
        );
    }
    println!(
        "    ratio strata/rust-libp2p: {:.2}x the rate, {:.2}x the listener's CPU per connection",
        rate(&ours) / rate(&theirs),
        ours.listener_cpu.as_secs_f64() / theirs.listener_cpu.as_secs_f64()
    );

    let s = idle_in_child("strata", muxer, connections);
    let l = idle_in_child("rust-libp2p", muxer, connections);
    println!("  memory of {connections} idle connections (RSS delta, both ends, one process each):");
    println!(
        "    strata {s} KiB = {:.1} KiB per connection | rust-libp2p {l} KiB = {:.1} KiB per connection | ratio {:.2}x",
        s as f64 / connections as f64,
        l as f64 / connections as f64,
        s as f64 / l as f64
    );
}

fn main() {
    // cargo bench adds `--bench`.
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
    if let [flag, stack, muxer, connections] = args.as_slice()
        && flag == "--idle"
    {
        let (muxer, connections) = (Muxer::parse(muxer), connections.parse().unwrap());
        let kib = runtime().block_on(async {
            if stack == "strata" { strata_idle(muxer, connections).await } else { rust_idle(muxer, connections).await }
        });
        println!("{kib}");
        return;
    }
    if let [flag, muxer, connections] = args.as_slice()
        && flag == "--strata-conns"
    {
        let (muxer, connections) = (Muxer::parse(muxer), connections.parse().unwrap());
        let c = strata_conns(muxer, connections);
        let per = |cpu: Duration| cpu.as_secs_f64() * 1e6 / connections as f64;
        println!(
            "{:.0}/s, listener {:.0} µs, dialer {:.0} µs CPU per connection ({} established)",
            c.established as f64 / c.wall.as_secs_f64(),
            per(c.listener_cpu),
            per(c.dialer_cpu),
            c.established
        );
        return;
    }
    let muxers = match args.iter().position(|a| a == "--muxer").and_then(|i| args.get(i + 1)) {
        Some(name) => vec![Muxer::parse(name)],
        None => vec![Muxer::Yamux, Muxer::Mplex, Muxer::Quic],
    };
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let mib = numbers.first().copied().unwrap_or(1024);
    let dials = numbers.get(1).copied().unwrap_or(200);
    let connections = numbers.get(2).copied().unwrap_or(1000);
    for muxer in muxers {
        report(muxer, mib * CHUNK, dials, connections);
    }
}
