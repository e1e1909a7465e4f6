//! Throughput of the Noise layer: 1 GiB over loopback TCP through strata's
//! Noise, then through rust-libp2p 0.57's, in the same run, both ends in
//! this process. Reports MB/s and CPU-seconds per GiB (user + system of the
//! whole process, so of both ends), and strata's ratios to rust-libp2p.
//!
//! Run: `cargo bench -p strata-interop --bench noise_throughput`
//! (`-- <MiB> <rounds>` to change the size and the number of rounds; every
//! round is printed, then the medians).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly
#![allow(clippy::cast_precision_loss)] // byte counts as f64 for rates

use std::time::{Duration, Instant};

use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};
use strata_core::{Keypair, Listener, SecurityUpgrade, Transport};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

/// The application's read and write size, the same for both stacks.
const CHUNK: usize = 1 << 20;

/// User + system CPU time of this process so far, from `/proc/self/stat`
/// (fields 14 and 15, in ticks of 1/100 s: Linux's `USER_HZ`).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    // The command name (field 2) may hold spaces; fields count from its ')'.
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

struct Measurement {
    wall: Duration,
    cpu: Duration,
    bytes: usize,
}

impl Measurement {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }

    fn cpu_s_per_gib(&self) -> f64 {
        self.cpu.as_secs_f64() / (self.bytes as f64 / f64::from(1u32 << 30))
    }
}

async fn tcp_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let tcp = strata_tcp::TcpTransport::default();
    let mut listener = tcp.listen(&"/ip4/127.0.0.1/tcp/0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addrs().remove(0);
    let (dialed, accepted) = tokio::join!(tcp.dial(&addr), listener.accept());
    (dialed.unwrap(), accepted.unwrap().0)
}

/// Times `bytes` from `send` to `receive`, which run as two tasks.
async fn timed<W, R>(bytes: usize, send: W, receive: R) -> Measurement
where
    W: std::future::Future<Output = ()> + Send + 'static,
    R: std::future::Future<Output = usize> + Send + 'static,
{
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let sender = tokio::spawn(send);
    let received = tokio::spawn(receive).await.unwrap();
    sender.await.unwrap();
    let (wall, cpu) = (wall0.elapsed(), cpu_time().saturating_sub(cpu0));
    assert_eq!(received, bytes, "every byte must arrive");
    Measurement { wall, cpu, bytes }
}

/// Writes `bytes` in `CHUNK`s, then shuts the stream down.
async fn send(mut tx: impl tokio::io::AsyncWrite + Unpin, bytes: usize) {
    let chunk = vec![0x5a_u8; CHUNK];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK);
        tx.write_all(&chunk[..n]).await.unwrap();
        left -= n;
    }
    tx.shutdown().await.unwrap();
}

/// Reads to the end; returns the byte count.
async fn receive(mut rx: impl tokio::io::AsyncRead + Unpin) -> usize {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        match rx.read(&mut buf).await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

async fn strata_round(bytes: usize) -> Measurement {
    let (a, b) = tcp_pair().await;
    let (alice, bob) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (alice_noise, bob_noise) = (strata_noise::Config::new(&alice), strata_noise::Config::new(&bob));
    let (outbound, inbound) = tokio::join!(alice_noise.secure_outbound(a, None), bob_noise.secure_inbound(b));
    let (tx, rx) = (outbound.unwrap().1, inbound.unwrap().1);
    timed(bytes, send(tx, bytes), receive(rx)).await
}

async fn libp2p_round(bytes: usize) -> Measurement {
    let (a, b) = tcp_pair().await;
    let alice = libp2p_identity::Keypair::generate_ed25519();
    let bob = libp2p_identity::Keypair::generate_ed25519();
    let alice_noise = libp2p::noise::Config::new(&alice).unwrap();
    let bob_noise = libp2p::noise::Config::new(&bob).unwrap();
    let (outbound, inbound) = tokio::join!(
        alice_noise.upgrade_outbound(a.compat(), "/noise"),
        bob_noise.upgrade_inbound(b.compat(), "/noise")
    );
    // rust-libp2p speaks futures-io; the compat layer adapts it to tokio's traits.
    let (tx, rx) = (outbound.unwrap().1.compat(), inbound.unwrap().1.compat());
    timed(bytes, send(tx, bytes), receive(rx)).await
}

/// The median of `value` over the rounds.
fn median(rounds: &[Measurement], value: fn(&Measurement) -> f64) -> f64 {
    let mut values: Vec<f64> = rounds.iter().map(value).collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; numbers are ours.
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let mib = numbers.first().copied().unwrap_or(1024);
    let rounds = numbers.get(1).copied().unwrap_or(3).max(1);
    let bytes = mib << 20;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    println!("noise throughput: {mib} MiB one way over loopback TCP, both ends in this process, {rounds} rounds each");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate, so that neither stack always runs on a warmer machine.
        let s = runtime.block_on(strata_round(bytes));
        let l = runtime.block_on(libp2p_round(bytes));
        println!(
            "  round {round}: strata {:7.0} MB/s {:.2} CPU-s/GiB | rust-libp2p {:7.0} MB/s {:.2} CPU-s/GiB",
            s.mb_per_s(),
            s.cpu_s_per_gib(),
            l.mb_per_s(),
            l.cpu_s_per_gib()
        );
        ours.push(s);
        theirs.push(l);
    }
    let (s_rate, l_rate) = (median(&ours, Measurement::mb_per_s), median(&theirs, Measurement::mb_per_s));
    let (s_cpu, l_cpu) = (median(&ours, Measurement::cpu_s_per_gib), median(&theirs, Measurement::cpu_s_per_gib));
    println!("medians over the rounds:");
    println!("  strata       {s_rate:7.0} MB/s  {s_cpu:.2} CPU-s/GiB");
    println!("  rust-libp2p  {l_rate:7.0} MB/s  {l_cpu:.2} CPU-s/GiB");
    println!("  ratio strata/rust-libp2p: throughput {:.2}x, CPU per GiB {:.2}x", s_rate / l_rate, s_cpu / l_cpu);
}
