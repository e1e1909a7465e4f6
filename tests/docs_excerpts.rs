//! The guide in `docs/` quotes the anatomy example's output; this checks
//! that every quote is still what the code produces.
//!
//! A quote is a `text` block right after a marker line naming the
//! example's arguments and one section of its output:
//!
//! ````text
//! <!-- anatomy --muxer yamux :: noise: the XX handshake -->
//! ```text
//! …the section's lines…
//! ```
//! ````
//!
//! The runs are seeded, so keys, signatures and payloads are the same
//! every time; only the TCP ports differ (the OS picks them), and both
//! sides are compared with every port masked. A few sections depend on
//! which of two concurrent writes went first; a mismatch is therefore
//! retried on fresh runs (three in all) before it fails: a real change
//! fails every run. The docs quote only sections that are the same on
//! every run in practice.
//!
//! To regenerate the quotes after a deliberate change:
//! `STRATA_BLESS_DOCS=1 cargo test -p strata --test docs_excerpts`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{collections::BTreeMap, path::PathBuf};

#[path = "support/anatomy.rs"]
mod anatomy;

const MARKER: &str = "<!-- anatomy";

/// One quote: where it is, what it quotes, and its lines.
struct Quote {
    file: PathBuf,
    args: String,
    title: String,
    lines: Vec<String>,
    /// Line numbers (0-based) of the block's body in its file.
    body: std::ops::Range<usize>,
}

fn docs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    files.sort();
    files
}

fn quotes_in(file: &PathBuf) -> Vec<Quote> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut quotes = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix(MARKER).and_then(|rest| rest.strip_suffix("-->")) else { continue };
        let (args, title) =
            rest.split_once(" :: ").unwrap_or_else(|| panic!("{}:{}: no ' :: ' in the marker", file.display(), at + 1));
        assert_eq!(
            lines.get(at + 1),
            Some(&"```text"),
            "{}:{}: a marker must be followed by ```text",
            file.display(),
            at + 1
        );
        let start = at + 2;
        let len = lines[start..].iter().position(|line| *line == "```").expect("an unclosed block");
        quotes.push(Quote {
            file: file.clone(),
            args: args.trim().to_owned(),
            title: title.trim().to_owned(),
            lines: lines[start..start + len].iter().map(|line| (*line).to_owned()).collect(),
            body: start..start + len,
        });
    }
    quotes
}

/// `line` with every TCP port masked: `/tcp/<digits>` and the port bytes
/// of a binary `/ip4/127.0.0.1/tcp/…` (`047f000001 06 pppp`).
fn masked(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let next = [("/tcp/", 10), ("047f00000106", 16)]
            .into_iter()
            .filter_map(|(pattern, radix)| rest.find(pattern).map(|at| (at, pattern, radix)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, pattern, radix)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + pattern.len()]);
        let after = &rest[at + pattern.len()..];
        let digits = after.chars().take_while(|c| c.is_digit(radix)).count();
        let digits = if radix == 16 { digits.min(4) } else { digits };
        out.push_str("<port>");
        rest = &after[digits..];
    }
}

fn masked_lines(lines: &[String]) -> Vec<String> {
    lines.iter().map(|line| masked(line)).collect()
}

#[tokio::test]
async fn the_guide_quotes_what_the_anatomy_example_prints() {
    let quotes: Vec<Quote> = docs().iter().flat_map(quotes_in).collect();
    assert!(quotes.len() >= 8, "the guide should quote the example throughout; found {}", quotes.len());
    let bless = std::env::var_os("STRATA_BLESS_DOCS").is_some();

    let mut runs: BTreeMap<String, Vec<BTreeMap<String, Vec<String>>>> = BTreeMap::new();
    let mut stale = Vec::new();
    let mut blessed: Vec<(&Quote, Vec<String>)> = Vec::new();
    for quote in &quotes {
        let mut matched = false;
        for attempt in 0..3 {
            let sections = runs.entry(quote.args.clone()).or_default();
            if sections.len() <= attempt {
                let args: Vec<&str> = quote.args.split_whitespace().collect();
                sections.push(anatomy::sections(&anatomy::run(&args).await));
            }
            let produced = sections[attempt].get(&quote.title).unwrap_or_else(|| {
                panic!(
                    "{}: the example prints no section {:?} with {:?}",
                    quote.file.display(),
                    quote.title,
                    quote.args
                )
            });
            if bless {
                blessed.push((quote, produced.clone()));
                matched = true;
                break;
            }
            if masked_lines(produced) == masked_lines(&quote.lines) {
                matched = true;
                break;
            }
        }
        if !matched {
            let produced = &runs[&quote.args][0][&quote.title];
            stale.push(format!(
                "{}: {:?} ({}) no longer matches; now:\n{}",
                quote.file.display(),
                quote.title,
                quote.args,
                produced.join("\n")
            ));
        }
    }
    if bless {
        write_back(&blessed);
        return;
    }
    assert!(
        stale.is_empty(),
        "{}\n\nregenerate with STRATA_BLESS_DOCS=1 cargo test -p strata --test docs_excerpts",
        stale.join("\n\n")
    );
}

/// Replaces each quote's body with what the example printed.
fn write_back(blessed: &[(&Quote, Vec<String>)]) {
    let mut files: BTreeMap<&PathBuf, Vec<(&Quote, &Vec<String>)>> = BTreeMap::new();
    for (quote, lines) in blessed {
        files.entry(&quote.file).or_default().push((quote, lines));
    }
    for (file, mut quotes) in files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        // From the bottom up, so earlier ranges stay valid.
        quotes.sort_by_key(|(quote, _)| std::cmp::Reverse(quote.body.start));
        for (quote, new) in quotes {
            lines.splice(quote.body.clone(), new.iter().cloned());
        }
        std::fs::write(file, lines.join("\n") + "\n").unwrap();
    }
}

#[test]
fn ports_are_masked_in_text_and_in_multiaddr_bytes() {
    assert_eq!(masked("to /ip4/127.0.0.1/tcp/46747 (the"), "to /ip4/127.0.0.1/tcp/<port> (the");
    assert_eq!(
        masked("2 listenAddrs: 1208 047f0000010681cd  = /ip4/127.0.0.1/tcp/33229"),
        "2 listenAddrs: 1208 047f00000106<port>  = /ip4/127.0.0.1/tcp/<port>"
    );
    assert_eq!(masked("no port here: 0a24 0801"), "no port here: 0a24 0801");
}
