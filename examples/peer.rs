//! `peer`: a strata node that another program can drive and read.
//!
//! The contract is `INTEROP.md` (in the project's shared folder): JSON
//! lines on stdout, one event per line; logs on stderr (`RUST_LOG` sets
//! their level).
//!
//! ```sh
//! cargo run --example peer -- listen --seed 1
//! cargo run --example peer -- dial /ip4/127.0.0.1/tcp/<port>/p2p/<id> --ping 3
//! ```
//!
//! floodsub is not built yet: `--topic`, `--publish`, `--sign` and the
//! `publish` command are accepted and do nothing (a warning on stderr).

use std::{
    io::Write as _,
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use strata::{Host, Keypair, Multiaddr, PeerId, identify, ping};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
#[command(about = "A strata node driven from the command line; JSON lines on stdout.")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    /// Stream multiplexer: only mplex is built so far.
    #[arg(long, global = true, value_enum, default_value_t = Muxer::Mplex)]
    muxer: Muxer,
    /// Topics to subscribe to (floodsub: not built yet).
    #[arg(long = "topic", global = true)]
    topics: Vec<String>,
    /// The Ed25519 secret key is 32 bytes equal to N (a known peer id).
    #[arg(long, global = true)]
    seed: Option<u8>,
    /// floodsub signing policy (not built yet).
    #[arg(long, global = true, value_enum, default_value_t = Sign::Strict)]
    sign: Sign,
    /// Seconds before exiting: listen exits 0, dial fails (default 20 for dial).
    #[arg(long, global = true)]
    timeout: Option<u64>,
}

#[derive(Subcommand)]
enum Mode {
    /// Listen, answer pings and identify, print what happens.
    Listen {
        /// Address to listen on.
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
        listen: Multiaddr,
    },
    /// Dial, ping, wait for the remote's identify, print `done`.
    Dial {
        /// The remote's address (with /p2p/<id> to check who answers).
        addr: Multiaddr,
        /// How many pings to send.
        #[arg(long, default_value_t = 0)]
        ping: u32,
        /// Texts to publish on the first topic (floodsub: not built yet).
        #[arg(long = "publish")]
        publish: Vec<String>,
        /// How many messages to wait for (floodsub: not built yet).
        #[arg(long, default_value_t = 0)]
        expect_messages: u32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Muxer {
    Mplex,
    Yamux,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Sign {
    Strict,
    Lax,
    None,
}

/// Prints one event as a JSON line and flushes it.
fn emit(event: &str, mut fields: Value) {
    if let Value::Object(map) = &mut fields {
        map.insert("event".into(), json!(event));
    }
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (the driver left) ends nothing here: the node runs on.
    let _ = writeln!(stdout, "{fields}");
    let _ = stdout.flush();
}

fn identify_event(peer: PeerId, info: &identify::Info) {
    emit(
        "identify",
        json!({
            "peer_id": peer.to_string(),
            "protocol_version": info.protocol_version,
            "agent_version": info.agent_version,
            "protocols": info.protocols,
            "listen_addrs": info.listen_addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "observed_addr": info.observed_addr.as_ref().map(ToString::to_string),
        }),
    );
}

fn ping_event(peer: PeerId, rtt: Duration) {
    emit("ping", json!({ "peer_id": peer.to_string(), "rtt_us": u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX) }));
}

/// A node with ping and identify.
async fn node(keypair: &Keypair, listen: Option<Multiaddr>) -> Result<(Host, ping::Ping, identify::Identify), String> {
    let mut builder = strata::builder(keypair);
    if let Some(addr) = listen {
        builder = builder.listen(addr);
    }
    let host = builder.build().await.map_err(|e| e.to_string())?;
    let pinger = ping::Ping::attach(&host, ping::Config::default()).map_err(|e| e.to_string())?;
    let identifier = identify::Identify::attach(&host, identify::Config::default()).map_err(|e| e.to_string())?;
    Ok((host, pinger, identifier))
}

/// Prints connections coming and going (per peer), identify records and
/// pings, until the host stops.
async fn print_events(host: Host, identify: identify::Identify, ping: ping::Ping) {
    let (mut connections, mut identified, mut pinged) = (host.events(), identify.events(), ping.events());
    loop {
        tokio::select! {
            event = connections.recv() => match event {
                Ok(strata::Event::ConnectionEstablished { peer, .. }) if host.connected_peers().contains(&peer) => {
                    emit("connected", json!({ "peer_id": peer.to_string() }));
                }
                Ok(strata::Event::ConnectionClosed { peer, .. }) if !host.is_connected(peer) => {
                    emit("disconnected", json!({ "peer_id": peer.to_string() }));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                _ => {}
            },
            Ok(identify::Event::Received { peer, info }) = identified.recv() => identify_event(peer, &info),
            Ok(ping::Event::Pong { peer, rtt }) = pinged.recv() => ping_event(peer, rtt),
        }
    }
}

async fn listen(cli: &Cli, keypair: &Keypair, addr: Multiaddr) -> Result<(), String> {
    let (host, pinger, identifier) = node(keypair, Some(addr)).await?;
    for addr in host.listen_addrs() {
        let full = addr.with_p2p(host.peer_id()).map_err(|a| format!("{a} names another peer"))?;
        emit("listening", json!({ "peer_id": host.peer_id().to_string(), "addr": full.to_string() }));
    }
    tokio::spawn(print_events(host.clone(), identifier, pinger));
    let commands = tokio::spawn(read_commands(host.clone(), cli.topics.clone()));
    match cli.timeout {
        Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
        None => drop(tokio::signal::ctrl_c().await),
    }
    commands.abort();
    host.shutdown().await;
    Ok(())
}

/// Reads `publish TOPIC TEXT` and `dial MULTIADDR` lines from stdin; keeps
/// the node running when stdin ends.
async fn read_commands(host: Host, _topics: Vec<String>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.trim().splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("dial"), Some(addr), None) => match addr.parse::<Multiaddr>() {
                Ok(addr) => {
                    let host = host.clone();
                    tokio::spawn(async move {
                        if let Err(error) = host.dial(addr).await {
                            emit("error", json!({ "reason": format!("dial failed: {error}") }));
                        }
                    });
                }
                Err(error) => emit("error", json!({ "reason": format!("bad address {addr:?}: {error}") })),
            },
            (Some("publish"), Some(_topic), Some(_text)) => tracing::warn!("publish: floodsub is not built yet"),
            (Some(""), None, None) => {}
            _ => emit("error", json!({ "reason": format!("unknown command {line:?}") })),
        }
    }
}

async fn dial(keypair: &Keypair, addr: Multiaddr, pings: u32, expect_messages: u32) -> Result<(), String> {
    let (host, pinger, identifier) = node(keypair, None).await?;
    let mut records = identifier.events();
    let peer = host.dial(addr).await.map_err(|e| format!("dial failed: {e}"))?;
    emit("connected", json!({ "peer_id": peer.to_string() }));
    for _ in 0..pings {
        let rtt = pinger.ping(peer).await.map_err(|e| format!("ping failed: {e}"))?;
        ping_event(peer, rtt);
    }
    loop {
        match records.recv().await {
            Ok(identify::Event::Received { peer: from, info }) if from == peer => {
                identify_event(peer, &info);
                break;
            }
            Ok(identify::Event::Failed { peer: from, error }) if from == peer => {
                return Err(format!("identify failed: {error}"));
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return Err("the host stopped".into()),
        }
    }
    if expect_messages > 0 {
        // floodsub is not built yet: no message can arrive; the timeout ends this.
        std::future::pending::<()>().await;
    }
    emit("done", json!({}));
    host.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = Cli::parse();
    if cli.muxer == Muxer::Yamux {
        emit("error", json!({ "reason": "the yamux muxer is not built yet; use --muxer mplex" }));
        return std::process::ExitCode::FAILURE;
    }
    if !cli.topics.is_empty() || cli.sign != Sign::Strict {
        tracing::warn!("floodsub is not built yet: --topic and --sign do nothing");
    }
    let keypair = cli.seed.map_or_else(Keypair::generate_ed25519, |n| Keypair::ed25519_from_secret([n; 32]));
    let started = Instant::now();
    let outcome = match &cli.mode {
        Mode::Listen { listen: addr } => listen(&cli, &keypair, addr.clone()).await,
        Mode::Dial { addr, ping, publish, expect_messages } => {
            if !publish.is_empty() {
                tracing::warn!("floodsub is not built yet: --publish does nothing");
            }
            let limit = Duration::from_secs(cli.timeout.unwrap_or(20));
            match tokio::time::timeout(limit, dial(&keypair, addr.clone(), *ping, *expect_messages)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("timed out after {:.1} s", started.elapsed().as_secs_f64())),
            }
        }
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(reason) => {
            emit("error", json!({ "reason": reason }));
            std::process::ExitCode::FAILURE
        }
    }
}
