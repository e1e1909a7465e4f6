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
//! Any address the default host serves works for `--listen` and `dial`:
//! `/ip4/…/tcp/<port>` or `/ip4/…/udp/<port>/quic-v1` (QUIC).
//!
//! The pubsub router is `--pubsub floodsub|gossipsub` (default floodsub);
//! its signing policy is `--sign`: `strict` (the default), `lax` (what
//! rust-libp2p's floodsub needs: it never signs) or `none`.

use std::{
    io::Write as _,
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use strata::{
    BuilderExt as _, Host, KeyType, Keypair, Multiaddr, PeerId, PubSub, floodsub, gossipsub, identify, mdns, ping,
};
use tokio::io::{AsyncBufReadExt, BufReader};

mod kad;
mod perf;
mod punch;
mod reach;

#[derive(Parser)]
#[command(about = "A strata node driven from the command line; JSON lines on stdout.")]
#[allow(clippy::struct_excessive_bools)] // one per on/off flag of the contract
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    /// Stream multiplexer: `both` accepts either and offers yamux, then mplex.
    #[arg(long, global = true, value_enum, default_value_t = Muxer::Both)]
    muxer: Muxer,
    /// Topics to subscribe to.
    #[arg(long = "topic", global = true)]
    topics: Vec<String>,
    /// The pubsub router behind the topics.
    #[arg(long, global = true, value_enum, default_value_t = Router::Floodsub)]
    pubsub: Router,
    /// The secret key is 32 bytes equal to N (a known peer id; ed25519 and
    /// secp256k1 only).
    #[arg(long, global = true)]
    seed: Option<u8>,
    /// The type of a fresh identity: ed25519, secp256k1 or ecdsa (P-256).
    #[arg(long = "key-type", global = true, default_value_t = KeyType::Ed25519)]
    key_type: KeyType,
    /// The identity in FILE (libp2p's protobuf private-key encoding, any
    /// type, RSA too), created with --key-type's type when FILE does not
    /// exist.
    #[arg(long = "key", global = true, conflicts_with = "seed")]
    key: Option<std::path::PathBuf>,
    /// With `--key FILE`: the WebRTC-direct certificate kept in
    /// `FILE.webrtc.pem`, so that `/certhash` addresses survive restarts.
    #[arg(skip)]
    webrtc_certificate: Option<strata::webrtc::Certificate>,
    /// pubsub signing policy.
    #[arg(long, global = true, value_enum, default_value_t = Sign::Strict)]
    sign: Sign,
    /// Serve the Kademlia DHT (`/ipfs/kad/1.0.0`, server mode); `kad-*`
    /// commands on stdin (listen).
    #[arg(long, global = true)]
    kad: bool,
    /// A DHT node to dial and add to the routing table (repeatable).
    #[arg(long = "bootstrap", global = true, requires = "kad")]
    bootstrap: Vec<Multiaddr>,
    /// Send every DNS question (`/dnsaddr`, `/dns4`, …) to this server
    /// (IP:PORT) instead of the system's resolver.
    #[arg(long, global = true)]
    dns: Option<std::net::SocketAddr>,
    /// Serve circuit relay v2 (hop) and `AutoNAT` v2 for other peers (listen).
    #[arg(long, global = true)]
    relay_server: bool,
    /// Keep two reservations on relays picked among connected peers and
    /// the DHT, while `AutoNAT` finds this node unreachable (at once
    /// without `--autonat`) (listen).
    #[arg(long, global = true)]
    auto_relay: bool,
    /// Ask peers to test this node's addresses (`AutoNAT` v2); prints
    /// `reachability` (listen, dial).
    #[arg(long, global = true)]
    autonat: bool,
    /// Map the listen ports on the gateway (`UPnP` IGD); prints
    /// `port_mapped`, and hands the mapped address to `--autonat` (listen).
    #[arg(long, global = true)]
    upnp: bool,
    /// No hole punching (`DCUtR`): a connection through a relay stays relayed.
    #[arg(long, global = true)]
    no_hole_punch: bool,
    /// `AutoNAT`, auto-relay and `DCUtR` accept loopback and private
    /// addresses (tests and labs on one machine only).
    #[arg(long, global = true)]
    private_addrs: bool,
    /// Also serve `/perf/1.0.0` (listen, dial), printing `perf_served` for
    /// each stream: the other side's `dial --upload` measures against it.
    #[arg(long, global = true)]
    serve_perf: bool,
    /// Keep a reservation on this relay, `…/p2p/<relay id>` (listen;
    /// repeatable); prints `reservation`.
    #[arg(long = "relay", global = true)]
    relays: Vec<Multiaddr>,
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
        /// Announce this node and discover others on the LAN (mDNS),
        /// dialing each one found.
        #[arg(long)]
        mdns: bool,
        /// mDNS group and port (default 224.0.0.251:5353); tests use their own.
        #[arg(long, requires = "mdns")]
        mdns_group: Option<std::net::SocketAddrV4>,
        /// Only this interface address for mDNS (default: every interface
        /// that is up, loopback excepted).
        #[arg(long, requires = "mdns")]
        mdns_interface: Option<std::net::IpAddr>,
    },
    /// Dial, ping, wait for the remote's identify, print `done`.
    Dial {
        /// The remote's address (with /p2p/<id> to check who answers).
        addr: Multiaddr,
        /// Also listen here (a dialer that must be reachable back, as hole
        /// punching needs: its port is reused for outbound dials).
        #[arg(long)]
        listen: Option<Multiaddr>,
        /// How many pings to send.
        #[arg(long, default_value_t = 0)]
        ping: u32,
        /// Texts to publish on the first topic once the remote subscribed to it.
        #[arg(long = "publish")]
        publish: Vec<String>,
        /// How many messages to wait for before `done`.
        #[arg(long, default_value_t = 0)]
        expect_messages: u32,
        /// Bytes to send to the remote over `/perf/1.0.0` after the pings
        /// (the remote runs with `--serve-perf`); prints `perf`. Through a
        /// relay, after hole punching: over the direct connection if one
        /// was made (a relayed one carries 128 KiB at most).
        #[arg(long, default_value_t = 0)]
        upload: u64,
    },
    /// Serve `/perf/1.0.0`, printing each stream served.
    PerfServer {
        /// Address to listen on.
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
        listen: Multiaddr,
    },
    /// Measure a perf server: one connection, several streams.
    PerfClient {
        /// The server's address.
        addr: Multiaddr,
        /// Bytes to download.
        #[arg(long, default_value_t = 100 << 20)]
        bytes: u64,
        /// Bytes to upload.
        #[arg(long, default_value_t = 0)]
        upload_bytes: u64,
        /// Streams at once, sharing the bytes.
        #[arg(long, default_value_t = 1)]
        streams: usize,
    },
    /// Open N connections from N identities into one listener.
    Conns {
        /// The listener's address.
        addr: Multiaddr,
        /// Connections to open.
        #[arg(long)]
        n: usize,
        /// Dials in flight at most.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Muxer {
    Mplex,
    Yamux,
    Both,
}

impl Muxer {
    fn choice(self) -> strata::Muxers {
        match self {
            Self::Mplex => strata::Muxers::Mplex,
            Self::Yamux => strata::Muxers::Yamux,
            Self::Both => strata::Muxers::Both,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Router {
    Floodsub,
    Gossipsub,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Sign {
    Strict,
    Lax,
    None,
}

impl Sign {
    fn policy(self) -> floodsub::SignaturePolicy {
        match self {
            Self::Strict => floodsub::SignaturePolicy::StrictSign,
            Self::Lax => floodsub::SignaturePolicy::Lax,
            Self::None => floodsub::SignaturePolicy::StrictNoSign,
        }
    }
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

fn message_event(message: &floodsub::Message) {
    for topic in &message.topics {
        emit(
            "message",
            json!({ "topic": topic, "source": message.source.map(|p| p.to_string()), "data": message.text() }),
        );
    }
}

fn ping_event(peer: PeerId, rtt: Duration) {
    emit("ping", json!({ "peer_id": peer.to_string(), "rtt_us": u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX) }));
}

/// A node's services.
struct Node {
    host: Host,
    ping: ping::Ping,
    identify: identify::Identify,
    pubsub: PubSub,
    /// The DHT, with `--kad`.
    kad: Option<strata::kad::Kad>,
    /// Every message of every subscribed topic, in arrival order.
    messages: tokio::sync::mpsc::UnboundedReceiver<floodsub::Message>,
    /// Dials and listens through relays.
    relay_client: strata::relay::Client,
    /// Hole punching, unless `--no-hole-punch`.
    dcutr: Option<strata::dcutr::Dcutr>,
}

/// The host builder every mode starts from: `--muxer` and `--dns`.
fn host_builder(cli: &Cli, keypair: &Keypair) -> strata::Builder {
    let mut layers = strata::Layers::default().with_muxers(cli.muxer.choice());
    if let Some(certificate) = &cli.webrtc_certificate {
        layers = layers.with_webrtc_certificate(certificate.clone());
    }
    let builder = strata::builder_with_layers(keypair, layers);
    match cli.dns {
        Some(server) => builder.dns_server(server),
        None => builder,
    }
}

/// A host of `builder` that can also dial and listen through relays
/// (`/p2p-circuit` addresses), and its relay client.
async fn build_host(builder: strata::Builder) -> Result<(Host, strata::relay::Client), String> {
    let (builder, relay_client) = builder.relay_client(strata::relay::ClientConfig::default());
    let host = builder.build().await.map_err(|e| e.to_string())?;
    relay_client.attach(&host).map_err(|e| e.to_string())?;
    Ok((host, relay_client))
}

/// A node with ping, identify and the chosen pubsub router, subscribed to
/// `topics`.
async fn node(keypair: &Keypair, listen: Option<Multiaddr>, cli: &Cli) -> Result<Node, String> {
    let mut builder = host_builder(cli, keypair);
    if let Some(addr) = listen {
        builder = builder.listen(addr);
    }
    let (host, relay_client) = build_host(builder).await?;
    let ping = ping::Ping::attach(&host, ping::Config::default()).map_err(|e| e.to_string())?;
    let identify = identify::Identify::attach(&host, identify::Config::default()).map_err(|e| e.to_string())?;
    let shared = strata::pubsub::Config::default().with_signature_policy(cli.sign.policy());
    let pubsub: PubSub = match cli.pubsub {
        Router::Floodsub => floodsub::Floodsub::attach(&host, shared).map_err(|e| e.to_string())?.into(),
        Router::Gossipsub => {
            gossipsub::Gossipsub::attach(&host, gossipsub::Config::from(shared)).map_err(|e| e.to_string())?.into()
        }
    };
    let (sender, messages) = tokio::sync::mpsc::unbounded_channel();
    for topic in &cli.topics {
        let mut subscription = pubsub.subscribe(topic);
        let sender = sender.clone();
        tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
    }
    let kad = if cli.kad {
        Some(strata::kad::Kad::attach(&host, strata::kad::Config::default()).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let dcutr = punch::start(cli, &host)?;
    if cli.serve_perf {
        perf::serve_alongside(&host)?;
    }
    Ok(Node { host, ping, identify, pubsub, kad, messages, relay_client, dcutr })
}

/// Dials each `--bootstrap` address and adds it to the DHT. Called once
/// the events are subscribed to, so that each connection is printed.
async fn bootstrap(cli: &Cli, host: &Host, kad: Option<&strata::kad::Kad>) -> Result<(), String> {
    let Some(kad) = kad else { return Ok(()) };
    for addr in &cli.bootstrap {
        let peer = host.dial(addr.clone()).await.map_err(|e| format!("bootstrap {addr}: {e}"))?;
        kad.add_address(peer, addr);
    }
    Ok(())
}

/// Prints connections coming and going (per peer), identify records,
/// pings, subscriptions and messages, until the host stops.
///
/// Subscribes at once (before the first poll), so that nothing that
/// happens after the call is missed.
fn print_events(node: Node) -> impl Future<Output = ()> {
    let Node { host, ping, identify, pubsub, mut messages, .. } = node;
    let (mut connections, mut identified, mut pinged) = (host.events(), identify.events(), ping.events());
    let mut subscriptions = pubsub.events();
    async move {
        loop {
            tokio::select! {
                event = connections.recv() => match event {
                    Ok(strata::Event::ConnectionEstablished { peer, remote_addr, .. }) if host.connected_peers().contains(&peer) => {
                        reach::connected(peer, &remote_addr);
                    }
                    Ok(strata::Event::ConnectionClosed { peer, .. }) if !host.is_connected(peer) => {
                        emit("disconnected", json!({ "peer_id": peer.to_string() }));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    _ => {}
                },
                Ok(identify::Event::Received { peer, info }) = identified.recv() => identify_event(peer, &info),
                Ok(ping::Event::Pong { peer, rtt }) = pinged.recv() => ping_event(peer, rtt),
                Ok(floodsub::Event::Subscribed { peer, topic }) = subscriptions.recv() => {
                    emit("subscribed", json!({ "peer_id": peer.to_string(), "topic": topic }));
                }
                Some(message) = messages.recv() => message_event(&message),
            }
        }
    }
}

/// Runs `work`, failing it after `limit` (counted from `started`).
async fn within(
    limit: Duration,
    started: Instant,
    work: impl Future<Output = Result<(), String>>,
) -> Result<(), String> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(format!("timed out after {:.1} s", started.elapsed().as_secs_f64())))
}

/// Prints `listening` for each address of `host`, with its peer id.
fn announce(host: &Host) {
    for addr in host.listen_addrs() {
        if let Ok(full) = addr.with_p2p(host.peer_id()) {
            emit("listening", json!({ "peer_id": host.peer_id().to_string(), "addr": full.to_string() }));
        }
    }
}

/// mDNS as the `--mdns*` flags ask, or none.
fn mdns_config(
    on: bool,
    group: Option<std::net::SocketAddrV4>,
    interface: Option<std::net::IpAddr>,
) -> Option<mdns::Config> {
    on.then(|| mdns::Config::default().with_auto_dial(true).with_network(group, interface))
}

/// Prints `discovered` for each new peer mDNS finds (it dials them).
///
/// Subscribes first, then prints the peers known already: none is missed,
/// even one found before this runs.
async fn print_discovered(mdns: mdns::Mdns) {
    let mut events = mdns.events();
    let mut seen = std::collections::HashSet::new();
    for (peer, addrs) in mdns.peers() {
        seen.insert(peer);
        let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        emit("discovered", json!({ "peer_id": peer.to_string(), "addrs": addrs }));
    }
    loop {
        match events.recv().await {
            Ok(mdns::Event::Discovered { peer, addrs }) if seen.insert(peer) => emit(
                "discovered",
                json!({ "peer_id": peer.to_string(), "addrs": addrs.iter().map(ToString::to_string).collect::<Vec<_>>() }),
            ),
            Ok(mdns::Event::Expired { peer }) => {
                seen.remove(&peer);
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            _ => {}
        }
    }
}

async fn listen(cli: &Cli, keypair: &Keypair, addr: Multiaddr, mdns: Option<mdns::Config>) -> Result<(), String> {
    let node = node(keypair, Some(addr), cli).await?;
    let (host, pubsub, kad) = (node.host.clone(), node.pubsub.clone(), node.kad.clone());
    let (relay_client, dcutr) = (node.relay_client.clone(), node.dcutr.clone());
    announce(&host);
    // Subscribed before bootstrapping and discovery: no connection they
    // make is missed.
    tokio::spawn(print_events(node));
    bootstrap(cli, &host, kad.as_ref()).await?;
    let reach = reach::start(cli, &host, &relay_client, kad.as_ref(), dcutr.as_ref()).await?;
    if let Some(config) = mdns {
        let mdns = mdns::Mdns::attach(&host, config).map_err(|e| e.to_string())?;
        tokio::spawn(print_discovered(mdns));
    }
    let commands = tokio::spawn(read_commands(host.clone(), pubsub, kad));
    match cli.timeout {
        Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
        None => drop(tokio::signal::ctrl_c().await),
    }
    commands.abort();
    reach.shutdown().await;
    host.shutdown().await;
    Ok(())
}

/// Reads `publish TOPIC TEXT`, `dial MULTIADDR` and `kad-*` lines from
/// stdin; keeps the node running when stdin ends.
async fn read_commands(host: Host, pubsub: PubSub, kad: Option<strata::kad::Kad>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if kad::command(kad.as_ref(), &line) {
            continue;
        }
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
            (Some("publish"), Some(topic), Some(text)) => {
                if let Err(error) = pubsub.publish(topic, text) {
                    emit("error", json!({ "reason": format!("publish failed: {error}") }));
                }
            }
            (Some(""), None, None) => {}
            _ => emit("error", json!({ "reason": format!("unknown command {line:?}") })),
        }
    }
}

/// What `dial` is asked to do.
struct DialPlan<'a> {
    addr: Multiaddr,
    listen: Option<Multiaddr>,
    pings: u32,
    upload: u64,
    publish: &'a [String],
    expect: u32,
}

async fn dial(cli: &Cli, keypair: &Keypair, plan: DialPlan<'_>) -> Result<(), String> {
    let DialPlan { addr, listen, pings, upload, publish, expect } = plan;
    let Node { host, ping, identify, pubsub, kad, mut messages, relay_client, dcutr } =
        node(keypair, listen, cli).await?;
    if !host.listen_addrs().is_empty() {
        announce(&host);
    }
    let punched = dcutr.as_ref().map(strata::dcutr::Dcutr::events);
    let (mut records, mut subscriptions) = (identify.events(), pubsub.events());
    let _reach = reach::start(cli, &host, &relay_client, kad.as_ref(), dcutr.as_ref()).await?;
    bootstrap(cli, &host, kad.as_ref()).await?;
    let mut connections = host.events();
    let peer = host.dial(addr.clone()).await.map_err(|e| format!("dial failed: {e}"))?;
    // The address of the connection the dial made (a `/dnsaddr` dialed
    // stands for another); the dialed one if the event was missed.
    let mut remote_addr = addr;
    while let Ok(event) = connections.try_recv() {
        if let strata::Event::ConnectionEstablished { peer: to, remote_addr: at, .. } = event
            && to == peer
        {
            remote_addr = at;
        }
    }
    reach::connected(peer, &remote_addr);
    // Through a relay: ping over the direct connection once hole punching
    // made one (within 10 s), else over the relayed one.
    if let Some(events) = punched.filter(|_| strata::host::is_relayed(&remote_addr))
        && let Some(direct) = punch::settled(events, peer, Duration::from_secs(10)).await
    {
        reach::connected(peer, &direct);
    }
    for _ in 0..pings {
        let rtt = ping.ping(peer).await.map_err(|e| format!("ping failed: {e}"))?;
        ping_event(peer, rtt);
    }
    if upload > 0 {
        perf::upload(&host, peer, upload).await?;
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
    // Publish once the remote wants the first topic; print what arrives.
    let first_topic = cli.topics.first();
    let mut remote_subscribed = first_topic.is_some_and(|topic| pubsub.peers(topic).contains(&peer));
    if let Some(topic) = first_topic.filter(|_| remote_subscribed) {
        emit("subscribed", json!({ "peer_id": peer.to_string(), "topic": topic }));
    }
    let mut published = publish.is_empty();
    let mut received = 0;
    loop {
        if remote_subscribed && !published {
            for text in publish {
                let topic = first_topic.ok_or("--publish needs a --topic")?;
                pubsub.publish(topic, text).map_err(|e| format!("publish failed: {e}"))?;
            }
            published = true;
        }
        if published && received >= expect {
            break;
        }
        tokio::select! {
            event = subscriptions.recv() => match event {
                Ok(floodsub::Event::Subscribed { peer: from, topic }) => {
                    emit("subscribed", json!({ "peer_id": from.to_string(), "topic": topic }));
                    remote_subscribed |= from == peer && Some(&topic) == first_topic;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Err("the host stopped".into()),
                _ => {}
            },
            Some(message) = messages.recv() => {
                message_event(&message);
                received += 1;
            }
        }
    }
    emit("done", json!({}));
    // Our own messages may still be on their way: let them out first.
    pubsub.flush(Duration::from_secs(2)).await;
    host.shutdown().await;
    Ok(())
}

/// The node's identity: from `--key FILE`, from `--seed`, or fresh, of
/// `--key-type`'s type.
fn identity(cli: &Cli) -> Result<Keypair, String> {
    if let Some(path) = &cli.key {
        return Keypair::load_or_generate(path, cli.key_type).map_err(|error| error.to_string());
    }
    match (cli.seed, cli.key_type) {
        (None, key_type) => Keypair::generate(key_type).map_err(|error| format!("--key-type {key_type}: {error}")),
        (Some(n), KeyType::Ed25519) => Ok(Keypair::ed25519_from_secret([n; 32])),
        (Some(n), KeyType::Secp256k1) => {
            Keypair::secp256k1_from_secret(&[n; 32]).map_err(|error| format!("--seed {n}: {error}"))
        }
        (Some(_), key_type) => Err(format!("--seed makes ed25519 and secp256k1 keys, not {key_type}")),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let mut cli = Cli::parse();
    let identities = identity(&cli).and_then(|keypair| {
        let certificate = cli.key.as_deref().map(strata::kept_webrtc_certificate).transpose();
        Ok((keypair, certificate.map_err(|e| format!("the WebRTC-direct certificate: {e}"))?))
    });
    let keypair = match identities {
        Ok((keypair, certificate)) => {
            cli.webrtc_certificate = certificate;
            keypair
        }
        Err(reason) => {
            emit("error", json!({ "reason": reason }));
            return std::process::ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let limited = |default: u64| Duration::from_secs(cli.timeout.unwrap_or(default));
    let outcome = match &cli.mode {
        Mode::Listen { listen: addr, mdns, mdns_group, mdns_interface } => {
            listen(&cli, &keypair, addr.clone(), mdns_config(*mdns, *mdns_group, *mdns_interface)).await
        }
        Mode::Dial { addr, listen, ping, publish, expect_messages, upload } => {
            let plan = DialPlan {
                addr: addr.clone(),
                listen: listen.clone(),
                pings: *ping,
                upload: *upload,
                publish,
                expect: *expect_messages,
            };
            within(limited(20), started, dial(&cli, &keypair, plan)).await
        }
        Mode::PerfServer { listen: addr } => perf::server(&cli, &keypair, addr.clone()).await,
        Mode::PerfClient { addr, bytes, upload_bytes, streams } => {
            let params =
                strata::perf::Params { upload_bytes: *upload_bytes, download_bytes: *bytes, streams: *streams };
            within(limited(120), started, perf::client(&cli, &keypair, addr.clone(), params)).await
        }
        Mode::Conns { addr, n, concurrency } => perf::conns(&cli, addr.clone(), *n, *concurrency).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(reason) => {
            emit("error", json!({ "reason": reason }));
            std::process::ExitCode::FAILURE
        }
    }
}
