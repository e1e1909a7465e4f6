//! `anatomy`: one libp2p connection, layer by layer, in real bytes.
//!
//! Two strata nodes in one process connect over TCP on 127.0.0.1, identify
//! each other, ping, open a custom stream and publish one pubsub message.
//! The dialer runs over a recording transport and security wrapper
//! (`strata::record`), so every byte each way is kept, below the
//! encryption and above it. Then the recording is read back the way the
//! specs describe it, and printed layer by layer:
//!
//! ```text
//! tcp          who connects to whom
//! multistream  agreeing on /noise (in the clear), on the muxer (encrypted), on each stream's protocol
//! noise        the XX handshake, decrypted; transport messages as lengths
//! muxer        every yamux or mplex frame, header decoded
//! app          each stream: identify's fields, ping's echo, pubsub's RPCs and signature, the hello lines
//! ```
//!
//! ```sh
//! cargo run --example anatomy                      # everything
//! cargo run --example anatomy -- --layer noise     # one layer
//! cargo run --example anatomy -- --muxer mplex --raw
//! ```
//!
//! The process's randomness is seeded (`--seed`, default 1): the same
//! seed gives the same keys and the same bytes on every run, but for the
//! TCP ports the OS picks. The guide in `docs/` quotes this output, and
//! `tests/docs_excerpts.rs` checks that it still does.

mod muxer;
mod noise;
mod protobuf;
mod scenario;
mod streams;
mod wire;

use std::fmt::Write as _;

use clap::{Parser, ValueEnum};
use strata::{
    Endpoint,
    record::{Direction, Record, Tap},
};

use crate::{
    scenario::{Capture, Muxer, Router, Side},
    wire::{Flow, negotiate, negotiation_lines},
};

#[derive(Parser)]
#[command(about = "One libp2p connection between two strata nodes, layer by layer, in real bytes.")]
struct Cli {
    /// Show only this layer.
    #[arg(long, value_enum)]
    layer: Option<Layer>,
    /// The stream multiplexer.
    #[arg(long, value_enum, default_value_t = Muxer::Yamux)]
    muxer: Muxer,
    /// The pubsub router.
    #[arg(long, value_enum, default_value_t = Router::Floodsub)]
    pubsub: Router,
    /// Every byte in hex, nothing abbreviated.
    #[arg(long)]
    raw: bool,
    /// The seed of the run's randomness (keys, ping payloads, sequence numbers).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The layers, bottom up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Layer {
    Tcp,
    Multistream,
    Noise,
    Muxer,
    App,
}

/// Titled groups of lines, each of one layer.
struct Report {
    only: Option<Layer>,
}

impl Report {
    fn section(&self, layer: Layer, title: &str, lines: &[String]) {
        if self.only.is_some_and(|only| only != layer) {
            return;
        }
        println!("━━ {title} ━━");
        for line in lines {
            println!("{line}");
        }
        println!();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let cli = Cli::parse();
    let capture = scenario::run(cli.seed, cli.muxer, cli.pubsub).await?;
    let report = Report { only: cli.layer };
    println!("anatomy: muxer {:?}, pubsub {:?}, seed {}", cli.muxer, cli.pubsub, cli.seed);
    println!("dialer   {}", capture.dialer.peer_id());
    println!("listener {}", capture.listener.peer_id());
    println!();
    show(&report, &capture, cli.muxer, cli.raw);
    Ok(())
}

fn show(report: &Report, capture: &Capture, muxer: Muxer, raw: bool) {
    let flow = |tap, direction| Flow::recorded(&capture.records, tap, direction);
    let (raw_out, raw_in) = (flow(Tap::Raw, Direction::Outbound), flow(Tap::Raw, Direction::Inbound));
    let (plain_out, plain_in) = (flow(Tap::Secured, Direction::Outbound), flow(Tap::Secured, Direction::Inbound));
    report.section(Layer::Tcp, "tcp: the connection", &tcp(capture));

    let security = negotiate(&raw_out.bytes, 0, &raw_in.bytes, 0);
    let lines = negotiation_lines(&security, Side::Dialer, &raw_out, &raw_in);
    report.section(Layer::Multistream, "multistream-select: the security protocol, in the clear", &lines);

    let dialer_noise = noise::messages(&raw_out, security.opener_end(), Side::Dialer);
    let listener_noise = noise::messages(&raw_in, security.responder_end(), Side::Listener);
    let handshake = noise::handshake(capture, (&raw_out, &dialer_noise), (&raw_in, &listener_noise), raw);
    report.section(Layer::Noise, "noise: the XX handshake", &handshake);
    let mut transport = noise::transport((&raw_out, &dialer_noise), (&raw_in, &listener_noise), raw);
    transport.push(format!(
        "in all: {} bytes dialer → listener and {} back on the wire, for {} and {} bytes of plaintext",
        raw_out.bytes.len(),
        raw_in.bytes.len(),
        plain_out.bytes.len(),
        plain_in.bytes.len()
    ));
    report.section(Layer::Noise, "noise: transport messages (ciphertext)", &transport);

    let muxing = negotiate(&plain_out.bytes, 0, &plain_in.bytes, 0);
    let lines = negotiation_lines(&muxing, Side::Dialer, &plain_out, &plain_in);
    report.section(Layer::Multistream, "multistream-select: the muxer, inside the encryption", &lines);
    let frames = muxer::decode(muxer, (&plain_out, muxing.opener_end()), (&plain_in, muxing.responder_end()), raw);
    let name = match muxer {
        Muxer::Yamux => "yamux",
        Muxer::Mplex => "mplex",
    };
    report.section(Layer::Muxer, &format!("{name}: every frame, in order"), &frames.lines);

    let mut titles: Vec<String> = Vec::new();
    for stream in &frames.streams {
        let sections = streams::read(stream, raw);
        let opener = match stream.key.opener {
            Side::Dialer => "dialer",
            Side::Listener => "listener",
        };
        let mut title = format!("stream {}, opened by the {opener}", sections.protocol);
        let repeats = titles.iter().filter(|seen| **seen == title).count();
        titles.push(title.clone());
        if repeats > 0 {
            let _ = write!(title, " (#{})", repeats + 1);
        }
        report.section(Layer::Multistream, &format!("{title}: multistream-select"), &sections.negotiation);
        report.section(Layer::Muxer, &format!("{title}: {name} frames"), &stream.frames);
        report.section(Layer::App, &format!("{title}: {}", sections.protocol), &sections.messages);
    }
}

/// Who connected to whom, and when it was secured and closed.
fn tcp(capture: &Capture) -> Vec<String> {
    let mut lines = Vec::new();
    for record in &capture.records {
        match record {
            Record::Opened { connection, endpoint: Endpoint::Dialer, remote, .. } => {
                lines.push(format!("connection {connection}: the dialer connects to {remote} (the listener)"));
            }
            Record::Secured { connection, remote, protocol } => {
                lines.push(format!(
                    "connection {connection}: secured with {protocol}; the remote proved to be {remote}"
                ));
            }
            Record::Closed { connection, tap: Tap::Raw, direction } => {
                let who = if *direction == Direction::Outbound { "the dialer" } else { "the listener" };
                lines.push(format!("connection {connection}: {who} closed its side"));
            }
            _ => {}
        }
    }
    lines
}
