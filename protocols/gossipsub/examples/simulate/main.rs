//! gossipsub next to floodsub on the same simulated network: 100 nodes on
//! a random sparse graph, 1,000 messages from random publishers, on a
//! virtual clock (the routers are the real ones, driven sans-IO).
//!
//! ```text
//! cargo run --release -p strata-gossipsub --example simulate [-- NODES DEGREE MESSAGES SEED]
//! ```
//!
//! Prints, for each router: whether every subscriber got every message
//! exactly once, duplicates per message and subscriber (mean, max), first
//! arrival in hops and in time (p50, p99), and bytes sent per message
//! (control and message).

#![allow(clippy::print_stdout, clippy::cast_precision_loss)] // an example's report

mod network;

use std::time::Duration;

use network::{Params, Report};
use strata_gossipsub::{Config, GossipRouter};

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|arg| arg.parse().ok()).collect();
    let arg = |n: usize, default: u64| args.get(n).copied().unwrap_or(default);
    let params = Params {
        nodes: usize::try_from(arg(0, 100)).unwrap_or(100),
        degree: usize::try_from(arg(1, 8)).unwrap_or(8),
        messages: usize::try_from(arg(2, 1000)).unwrap_or(1000),
        publish_every: Duration::from_millis(20),
        latency_ms: (5, 50),
        seed: arg(3, 1),
    };
    println!(
        "{} nodes, {} edges (mean degree {:.1}), {} messages, one every {:?}, link latency {}-{} ms, seed {}",
        params.nodes,
        network::edge_count(&params),
        2.0 * network::edge_count(&params) as f64 / params.nodes as f64,
        params.messages,
        params.publish_every,
        params.latency_ms.0,
        params.latency_ms.1,
        params.seed
    );
    assert_eq!(network::reachable(&params), params.nodes, "the graph is connected");
    let seed = params.seed;
    let gossip = network::run(params, "/meshsub/1.2.0", |node| {
        GossipRouter::new(Config::default().with_seed(seed ^ (node as u64 + 1)))
    });
    let flood = network::run(params, "/floodsub/1.0.0", |_| {
        strata_floodsub::FloodRouter::new(strata_floodsub::Config::default())
    });
    println!(
        "{:<10} {:>9} {:>11} {:>9} {:>13} {:>17} {:>13} {:>13}",
        "router",
        "delivered",
        "dups mean",
        "dups max",
        "hops p50/p99",
        "latency p50/p99",
        "control B/msg",
        "message B/msg"
    );
    for (name, report) in [("gossipsub", &gossip), ("floodsub", &flood)] {
        print_row(name, report);
    }
}

fn print_row(name: &str, report: &Report) {
    let delivered = if report.missing == 0 && report.extra == 0 {
        "exactly 1".to_owned()
    } else {
        format!("-{} +{}", report.missing, report.extra)
    };
    println!(
        "{:<10} {:>9} {:>11.2} {:>9} {:>13} {:>17} {:>13.0} {:>13.0}",
        name,
        delivered,
        report.duplicates_mean,
        report.duplicates_max,
        format!("{}/{}", report.hops.0, report.hops.1),
        format!("{}/{} ms", report.latency.0.as_millis(), report.latency.1.as_millis()),
        report.control_bytes_per_message,
        report.message_bytes_per_message
    );
}
