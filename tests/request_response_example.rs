//! The request/response example runs and prints every answer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::Duration;

#[path = "support/example.rs"]
mod example;

#[tokio::test]
async fn the_example_answers_every_request() {
    let run = tokio::process::Command::new(example::example_binary("request_response"))
        .args(["ping", "strata"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_mins(1), run).await.expect("timed out").unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("client: ping -> PING"), "{stdout}");
    assert!(stdout.contains("client: strata -> STRATA"), "{stdout}");
    assert_eq!(stdout.lines().filter(|line| line.starts_with("server: ")).count(), 2, "{stdout}");
}
