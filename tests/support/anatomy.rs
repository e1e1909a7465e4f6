//! Running the anatomy example and reading its output back as sections
//! (`━━ title ━━`, then lines, then a blank line). Included by path.

use std::{collections::BTreeMap, time::Duration};

#[path = "example.rs"]
mod example;

/// The example's stdout with these arguments; fails the test on an error.
pub(crate) async fn run(args: &[&str]) -> String {
    let run = tokio::process::Command::new(example::example_binary("anatomy")).args(args).kill_on_drop(true).output();
    let output = tokio::time::timeout(Duration::from_mins(1), run).await.expect("the example timed out").unwrap();
    assert!(output.status.success(), "anatomy {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Each section's title and lines.
pub(crate) fn sections(output: &str) -> BTreeMap<String, Vec<String>> {
    let mut sections = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        if let Some(title) = line.strip_prefix("━━ ").and_then(|rest| rest.strip_suffix(" ━━")) {
            sections.insert(title.to_owned(), Vec::new());
            current = Some(title.to_owned());
        } else if let (Some(title), false) = (&current, line.is_empty())
            && let Some(lines) = sections.get_mut(title)
        {
            lines.push(line.to_owned());
        }
    }
    sections
}
