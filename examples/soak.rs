//! A churn soak: connections opening and closing for a while, with pubsub
//! traffic, and what the node holds reported over time.
//!
//! One node (ping, identify, floodsub subscribed to `soak`) and a pool of
//! client nodes in the same process. Every tick, a few clients leave and
//! new ones connect (up to `--connections` at once) and some of them
//! publish. Every `--report` seconds a line gives the node's connections
//! and the process's RSS, open file descriptors and live tokio tasks; at
//! the end every client leaves, and the last line says whether those
//! figures came back to where they were before the first connection.
//!
//! ```sh
//! cargo run --release --example soak -- --connections 1000 --secs 600
//! ```

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use clap::Parser;
use strata::{Host, Keypair, floodsub, host::Config, identify, ping};

#[derive(Parser)]
#[command(about = "Connections churning against one node, with pubsub traffic; resources reported over time")]
struct Cli {
    /// How many client connections at once.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// How long to churn, in seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// How often to report, in seconds.
    #[arg(long, default_value_t = 10)]
    report: u64,
    /// How many clients leave and join per 100 ms tick.
    #[arg(long, default_value_t = 20)]
    churn: usize,
}

/// What the process holds right now.
struct Figures {
    rss_mib: f64,
    fds: usize,
    tasks: usize,
}

fn figures() -> Figures {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0.0);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
    let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    Figures { rss_mib: rss_kib / 1024.0, fds, tasks }
}

fn report(label: &str, node: &Host, pubsub: &floodsub::Floodsub, delivered: u64) {
    let now = figures();
    println!(
        "{label:>8}  connections {:>5}  tracked peers {:>5}  rss {:>7.1} MiB  fds {:>5}  tasks {:>6}  messages {delivered}",
        node.connected_peers().len(),
        pubsub.tracked_peers(),
        now.rss_mib,
        now.fds,
        now.tasks,
    );
}

async fn client(node_addr: strata::Multiaddr) -> Option<(Host, floodsub::Floodsub)> {
    let host = strata::builder(&Keypair::generate_ed25519()).build().await.ok()?;
    let pubsub = floodsub::Floodsub::attach(&host, floodsub::Config::default()).ok()?;
    host.dial(node_addr).await.ok()?;
    Some((host, pubsub))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    // Every client dials from 127.0.0.1: lift the per-address admission
    // limits (they are for many remote peers, not one test machine).
    let config = Config::default()
        .with_max_connections(cli.connections + 64)
        .with_max_inbound_connections(cli.connections + 64)
        .with_max_pending_upgrades(1024)
        .with_max_pending_upgrades_per_ip(1024, 1024)
        .with_accept_rate_per_ip(100_000);
    let node = strata::builder(&Keypair::generate_ed25519())
        .config(config)
        .listen("/ip4/127.0.0.1/tcp/0".parse()?)
        .build()
        .await?;
    let _ping = ping::Ping::attach(&node, ping::Config::default())?;
    let _identify = identify::Identify::attach(&node, identify::Config::default())?;
    let pubsub = floodsub::Floodsub::attach(&node, floodsub::Config::default())?;
    let mut subscription = pubsub.subscribe("soak");
    let node_addr = node.listen_addrs()[0].clone().with_p2p(node.peer_id()).map_err(|e| e.to_string())?;
    let baseline = figures();
    report("before", &node, &pubsub, 0);

    let (started, mut last_report) = (Instant::now(), Instant::now());
    let mut clients: VecDeque<(Host, floodsub::Floodsub)> = VecDeque::new();
    let mut delivered = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    while started.elapsed() < Duration::from_secs(cli.secs) {
        ticker.tick().await;
        // Leave: the oldest clients, once the pool is full.
        while clients.len() + cli.churn > cli.connections {
            let Some((host, _)) = clients.pop_front() else { break };
            tokio::spawn(async move { host.shutdown().await });
        }
        // Join, in parallel.
        let joining: Vec<_> =
            (0..cli.churn.min(cli.connections)).map(|_| tokio::spawn(client(node_addr.clone()))).collect();
        for join in joining {
            if let Ok(Some(joined)) = join.await {
                clients.push_back(joined);
            }
        }
        // Traffic: a few clients publish.
        for (n, (_, client_pubsub)) in clients.iter().rev().take(5).enumerate() {
            let _ = client_pubsub.publish("soak", format!("tick {n}"));
        }
        while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, subscription.next()).await {
            delivered += 1;
        }
        if last_report.elapsed() >= Duration::from_secs(cli.report) {
            report(&format!("{}s", started.elapsed().as_secs()), &node, &pubsub, delivered);
            last_report = Instant::now();
        }
    }

    // Everyone leaves; wait for the node to forget them.
    let leaving: Vec<_> =
        clients.drain(..).map(|(host, _)| tokio::spawn(async move { host.shutdown().await })).collect();
    for left in leaving {
        let _ = left.await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (!node.connected_peers().is_empty() || pubsub.tracked_peers() > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    report("after", &node, &pubsub, delivered);
    let end = figures();
    let flat = node.connected_peers().is_empty()
        && pubsub.tracked_peers() == 0
        && end.fds <= baseline.fds + 8
        && end.tasks <= baseline.tasks + 8;
    println!(
        "{}: fds {} -> {}, tasks {} -> {}, rss {:.1} -> {:.1} MiB, {delivered} messages delivered",
        if flat { "flat" } else { "NOT FLAT" },
        baseline.fds,
        end.fds,
        baseline.tasks,
        end.tasks,
        baseline.rss_mib,
        end.rss_mib
    );
    node.shutdown().await;
    if flat { Ok(()) } else { Err("resources did not come back".into()) }
}
