//! Hostile peers that get past the handshake (quick versions): twenty-two
//! attacks on the muxer, on stream negotiation and on each protocol
//! (`support/suite.rs`), run one after another against one live node while
//! a well-behaved peer dials and pings it every 200 ms. Each attack checks
//! what the node must do about it; throughout, the node must serve every
//! round of the well-behaved peer, and end within a memory bound of where
//! it started with every attacker forgotten. (The handshake-level attacks
//! have tests of their own in `hostile.rs`; `cargo run --example hostile`
//! runs them all, larger, with a results table.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

use strata::host::Config;
use strata_testkit::{eventually, within};

use attack::*;

#[path = "support/attack.rs"]
mod attack;
#[path = "support/suite.rs"]
mod suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_two_attacks_after_the_handshake() {
    let (target, _ping) = suite::target(Config::default()).await;
    let (stop, pinger) = well_behaved(&target.victim, Duration::from_millis(200));
    let rss_before = rss_kib();
    let after_handshake = &suite::ATTACKS[4..];
    assert_eq!(after_handshake.len(), 22);
    let mut failed = Vec::new();
    for (name, _) in after_handshake {
        if let Err(why) = within(suite::run(&target, name, 1)).await {
            failed.push(format!("{name}: {why}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    served_throughout(stop, pinger).await;
    // Every attacker left: nothing of them stays behind.
    eventually("every attacker is forgotten", async || {
        target.victim.connected_peers().is_empty() && target.pubsub.tracked_peers() == 0
    })
    .await;
    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    eprintln!("hostile streams: the process grew by {grown_mib} MiB over the attacks");
    assert!(grown_mib < 96, "the process grew by {grown_mib} MiB over the attacks");
    target.victim.shutdown().await;
}
