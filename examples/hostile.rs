//! The hostile-peer suite, full size, with a results table.
//!
//! One node (ping, identify, floodsub) and, for each of the 26 attacks in
//! `tests/support/suite.rs` (the same code the quick tests run, here
//! `--scale` times larger), a well-behaved peer that dials and pings the
//! node every 200 ms while the attack runs. A row says whether the node did
//! what it must about the attack, how many of the well-behaved peer's
//! rounds succeeded, and how the process's memory moved.
//!
//! ```sh
//! cargo run --release --example hostile -- --scale 5
//! ```

// The suite is test code shared with tests/: it fails loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use clap::Parser;
use strata::host::Config;

#[path = "../tests/support/attack.rs"]
mod attack;
#[path = "../tests/support/suite.rs"]
mod suite;

#[derive(Parser)]
#[command(about = "Hostile peers against a live node, with a results table")]
struct Cli {
    /// How many times larger than the quick tests.
    #[arg(long, default_value_t = 5)]
    scale: usize,
    /// Run only the attacks whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let (target, _ping) = suite::target(Config::default()).await;
    let start_mib = attack::rss_kib() / 1024;
    println!("| attack | the node must | outcome | well-behaved rounds | RSS after (MiB) |");
    println!("|---|---|---|---|---|");
    let mut failures = 0;
    for (name, expected) in suite::ATTACKS {
        if cli.only.as_ref().is_some_and(|only| !name.contains(only.as_str())) {
            continue;
        }
        let (stop, pinger) = attack::well_behaved(&target.victim, Duration::from_millis(200));
        let outcome = tokio::time::timeout(Duration::from_mins(2), suite::run(&target, name, cli.scale)).await;
        let _ = stop.send(());
        let (rounds, failed) = pinger.await.unwrap_or((0, vec!["the pinger panicked".into()]));
        let outcome = match outcome {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(why)) => format!("FAILED: {why}"),
            Err(_) => "FAILED: timed out".to_owned(),
        };
        if outcome != "ok" || !failed.is_empty() {
            failures += 1;
        }
        println!(
            "| {name} | {expected} | {outcome} | {}/{rounds} | {} |",
            rounds - failed.len(),
            attack::rss_kib() / 1024
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "\nRSS {start_mib} MiB before, {} MiB after; {} peers connected at the end; {failures} rows failed",
        attack::rss_kib() / 1024,
        target.victim.connected_peers().len()
    );
    target.victim.shutdown().await;
    if failures == 0 { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}
