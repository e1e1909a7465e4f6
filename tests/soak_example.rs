//! The churn soak, short: connections churning with pubsub traffic for a
//! few seconds; after everyone leaves, the node holds no peer, and open
//! file descriptors and live tasks are back where they started (the
//! example checks and says `flat`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

#[path = "support/example.rs"]
mod example;

#[tokio::test]
async fn churn_ends_flat() {
    let run = tokio::process::Command::new(example::example_binary("soak"))
        .args(["--connections", "100", "--secs", "5", "--report", "2", "--churn", "10"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_mins(2), run).await.expect("timed out").unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("flat: "), "{stdout}");
    assert!(stdout.contains("connections   100"), "the pool filled up: {stdout}");
}
