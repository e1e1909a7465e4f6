//! The DHT at scale, in one process: real hosts over the in-memory
//! transport, bootstrapped from one another, then measured.
//!
//! ```text
//! cargo run --release -p strata-kad --example dht_scale [-- SIZES…]   (default: 100 300 1000)
//! ```
//!
//! For each size: how many lookups of random keys found exactly the true k
//! closest peers, hops and requests per lookup (mean, p99), records and
//! provider records found from another random node, setup and lookup time.

#![allow(clippy::print_stdout, clippy::cast_precision_loss)] // an example's report

mod network;

use network::Params;

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|arg| arg.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100, 300, 1000] } else { sizes };
    println!(
        "{:>6} {:>12} {:>14} {:>18} {:>10} {:>10} {:>10} {:>12}",
        "nodes", "exact k", "hops mean/p99", "requests mean/p99", "records", "providers", "setup", "lookup"
    );
    for nodes in sizes {
        let params = Params { nodes, k: 20, lookups: 200, records: 20, seed: 7 };
        let report = network::run(params).await;
        println!(
            "{:>6} {:>11.1}% {:>14} {:>18} {:>10} {:>10} {:>9.1}s {:>10.1}ms",
            report.nodes,
            100.0 * report.exact as f64 / report.lookups.max(1) as f64,
            format!("{:.2}/{}", report.hops_mean, report.hops_p99),
            format!("{:.1}/{}", report.requests_mean, report.requests_p99),
            format!("{}/{}", report.records_found, report.records),
            format!("{}/{}", report.providers_found, report.records),
            report.setup.as_secs_f64(),
            report.lookup_time_mean.as_secs_f64() * 1000.0,
        );
    }
}
