//! The chat, on gossipsub: run it in two terminals and talk.
//!
//! ```sh
//! cargo run --example chat                 # in two terminals: they find each other (mDNS)
//! cargo run --example chat -- --dial /ip4/127.0.0.1/tcp/<port>/p2p/<id>   # or join by address
//! ```
//!
//! Chats on one LAN (or one machine) find each other by mDNS and connect;
//! `--no-mdns` turns that off. Chats anywhere meet through the Kademlia DHT
//! with `--bootstrap ADDR` (any DHT node, a strata `peer listen --kad` or a
//! rust-libp2p one): each announces itself as a provider of the room and
//! dials the others it finds there.
//!
//! Behind a NAT, with `--bootstrap`, a chat finds out by itself that nobody
//! can dial it (`AutoNAT` v2, asking the peers it meets) and then keeps
//! reservations on relays it picks among them (auto-relay: a bootstrap node
//! run as `peer listen --kad --relay-server` is one), and announces its
//! relayed addresses in the room: two chats behind two home routers meet
//! through the relay with no other flag. Then they try to punch a hole
//! through both NATs (`DCUtR`): when it works, they move to a direct
//! connection and say so; when it cannot (a symmetric NAT), they stay on the
//! relay and say why.
//!
//! Each typed line is published on the topic (`chat` by default) as
//! `nick: text`; received lines print as they are, and peers joining and
//! leaving the topic are shown. Ctrl-C (or Ctrl-D) leaves.
//!
//! rust-libp2p's own `examples/chat` (gossipsub, signed, yamux over TCP)
//! joins with `--topic test-net`: start it, then dial the TCP address it
//! prints (`--dial /ip4/127.0.0.1/tcp/<port>`).
//!
//! `--floodsub` keeps the old router (floodsub). rust-libp2p's floodsub
//! chat does not sign its messages, so under floodsub this chat accepts
//! unsigned ones unless run with `--strict` (it always signs its own).

use std::path::PathBuf;

use clap::Parser;
use strata::{
    BuilderExt as _, Keypair, Multiaddr, PeerId, PubSub, autonat, dcutr, floodsub, gossipsub, identify, kad, mdns,
    multiaddr, ping, pubsub::Message, relay,
};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
#[command(about = "A gossipsub chat over strata. Run it twice and talk.")]
struct Cli {
    /// Address to listen on (repeatable; default: TCP, QUIC, WebSocket and
    /// WebRTC-direct on every interface).
    #[arg(long = "listen", default_values = ["/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1", "/ip4/0.0.0.0/tcp/0/ws", "/ip4/0.0.0.0/udp/0/webrtc-direct"])]
    listen: Vec<Multiaddr>,
    /// A peer to join (repeatable).
    #[arg(long = "dial")]
    dial: Vec<Multiaddr>,
    /// The chat room.
    #[arg(long, default_value = "chat")]
    topic: String,
    /// Your name (default: the end of your peer id).
    #[arg(long)]
    nick: Option<String>,
    /// Keep your identity in this file: created on first use, read after
    /// (and the WebRTC-direct certificate in `FILE.webrtc.pem`, so that the
    /// address a web page dials stays the same).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The type of a new identity: ed25519, secp256k1 or ecdsa.
    #[arg(long = "key-type", default_value_t = strata::KeyType::Ed25519)]
    key_type: strata::KeyType,
    /// A Kademlia node to join the DHT through (repeatable): room members
    /// announce themselves as providers of the room and find each other
    /// there, wherever they are.
    #[arg(long = "bootstrap")]
    bootstrap: Vec<Multiaddr>,
    /// Do not discover peers on the LAN (mDNS).
    #[arg(long)]
    no_mdns: bool,
    /// mDNS group and port (default 224.0.0.251:5353): chats on another
    /// group or port do not see each other.
    #[arg(long)]
    mdns_group: Option<std::net::SocketAddrV4>,
    /// Only this interface address for mDNS (default: every interface that
    /// is up, loopback excepted).
    #[arg(long)]
    mdns_interface: Option<std::net::IpAddr>,
    /// Use floodsub instead of gossipsub.
    #[arg(long)]
    floodsub: bool,
    /// Under floodsub, accept signed messages only (rust-libp2p's floodsub
    /// cannot join then). gossipsub always does.
    #[arg(long)]
    strict: bool,
}

/// The last characters of a peer id: enough to tell people apart.
fn short(peer: PeerId) -> String {
    let text = peer.to_string();
    text[text.len().saturating_sub(6)..].to_owned()
}

/// The nick at the start of a chat line (`nick: text`), if there is one.
fn nick_of(text: &str) -> Option<&str> {
    let (nick, _) = text.split_once(": ")?;
    (!nick.is_empty() && nick.len() <= 32 && !nick.contains(' ')).then_some(nick)
}

/// A received line as it should print: `nick: text` as is, anything else
/// after the sender's short id.
fn line_of(message: &Message) -> String {
    let text = message.text();
    match message.source {
        Some(source) if nick_of(&text).is_none() => format!("{}: {text}", short(source)),
        _ => text,
    }
}

/// The DHT key a room's members provide: the room's name, namespaced.
fn room_key(topic: &str) -> Vec<u8> {
    format!("/strata/chat/{topic}").into_bytes()
}

/// Announces this chat as a provider of the room's key and joins the other
/// providers, now, every 20 s (new members appear; announcements last
/// 48 h and are refreshed by the DHT's own republishing), and at once when
/// this chat's addresses change (a relay reservation, a confirmed address):
/// the announcement is made again, with the new addresses.
async fn meet_through_the_dht(host: strata::Host, kad: kad::Kad, topic: String) {
    let key = room_key(&topic);
    let mut round = tokio::time::interval(std::time::Duration::from_secs(20));
    let mut changes = host.events();
    let mut announced: Option<Vec<Multiaddr>> = None;
    loop {
        tokio::select! {
            _ = round.tick() => {}
            event = changes.recv() => match event {
                Ok(
                    strata::Event::ListenAddr { .. }
                    | strata::Event::ListenAddrExpired { .. }
                    | strata::Event::ExternalAddrConfirmed { .. }
                    | strata::Event::ExternalAddrExpired { .. },
                ) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                _ => continue,
            },
        }
        if let Err(error) = kad.bootstrap().await {
            println!("* the DHT is out of reach: {error}");
            continue;
        }
        let addrs = [host.external_addrs(), host.listen_addrs()].concat();
        if announced.as_ref() != Some(&addrs) && kad.provide(&key).await.is_ok() {
            announced = Some(addrs);
        }
        let Ok(members) = kad.providers(&key).await else { continue };
        for (peer, _) in members {
            if peer != host.peer_id() && !host.is_connected(peer) {
                println!("* found {} through the DHT, joining", short(peer));
                if let Err(error) = host.dial_peer(peer).await {
                    println!("* could not reach {}: {error}", short(peer));
                }
            }
        }
    }
}

/// mDNS discovery (dialing what it finds) unless `--no-mdns`.
fn mdns_config(cli: &Cli) -> Option<mdns::Config> {
    let config = mdns::Config::default().with_auto_dial(true).with_network(cli.mdns_group, cli.mdns_interface);
    (!cli.no_mdns).then_some(config)
}

/// Who you are, where this chat listens, and how others join it.
fn welcome(cli: &Cli, host: &strata::Host, nick: &str) {
    let addrs: Vec<Multiaddr> =
        host.listen_addrs().into_iter().filter_map(|a| a.with_p2p(host.peer_id()).ok()).collect();
    let router = if cli.floodsub { "floodsub" } else { "gossipsub" };
    println!("strata chat: you are {nick} ({}), in room \"{}\" ({router}).", host.peer_id(), cli.topic);
    println!("Listening on:");
    for addr in &addrs {
        println!("  {addr}");
    }
    if let Some(join) = join_addr(&addrs) {
        let mdns = if cli.no_mdns { "" } else { " (chats on this LAN join by themselves)" };
        println!("To join from another terminal{mdns}:");
        println!("  cargo run --example chat -- --dial {join}");
    }
    let pages: Vec<&Multiaddr> = browser_addrs(&addrs).collect();
    if !pages.is_empty() {
        println!("A web page (js-libp2p) joins by dialing one of:");
        for page in pages {
            println!("  {page}");
        }
    }
}

/// The address to show for joining from this machine: loopback, plain
/// TCP first (every libp2p implementation speaks it).
fn join_addr(addrs: &[Multiaddr]) -> Option<Multiaddr> {
    let local = |a: &&Multiaddr| a.to_string().starts_with("/ip4/127.");
    addrs
        .iter()
        .filter(local)
        .find(|a| a.to_string().contains("/tcp/") && !is_websocket(a))
        .or_else(|| addrs.iter().find(local))
        .or(addrs.first())
        .cloned()
}

/// The addresses a web page on this machine dials: the loopback `/ws`
/// (js-libp2p's WebSocket transport) and `/webrtc-direct` ones (its
/// WebRTC transport: no certificate authority needed, the certificate's
/// hash is in the address).
fn browser_addrs(addrs: &[Multiaddr]) -> impl Iterator<Item = &Multiaddr> {
    let webrtc_direct = |a: &Multiaddr| a.iter().any(|c| matches!(c, multiaddr::Component::WebrtcDirect));
    addrs.iter().filter(move |a| a.to_string().starts_with("/ip4/127.") && (is_websocket(a) || webrtc_direct(a)))
}

fn is_websocket(addr: &Multiaddr) -> bool {
    addr.iter().any(|c| matches!(c, multiaddr::Component::Ws | multiaddr::Component::Wss))
}

/// The identity in `--key` (made with `--key-type` when new), or a fresh one.
fn identity(cli: &Cli) -> Result<Keypair, String> {
    match &cli.key {
        Some(path) => Keypair::load_or_generate(path, cli.key_type).map_err(|e| format!("{}: {e}", path.display())),
        None => Keypair::generate(cli.key_type).map_err(|e| format!("--key-type {}: {e}", cli.key_type)),
    }
}

/// Reachability behind a NAT: `AutoNAT` asks the peers this chat meets to
/// dial its addresses; when none can, auto-relay keeps reservations on
/// relays among them (while one can, it keeps none). Prints what happens.
fn reach_out(
    host: &strata::Host,
    relay_client: &relay::Client,
) -> Result<(autonat::Client, std::sync::Arc<relay::AutoRelay>, dcutr::Dcutr), String> {
    // One server's word, and one observer's, is enough here: a chat
    // usually knows one bootstrap node, and a wrong verdict costs at most a
    // relay reservation.
    let config = autonat::ClientConfig::default().with_confirmations(1).with_min_observers(1);
    let autonat = autonat::Client::attach(host, config).map_err(|e| format!("AutoNAT: {e}"))?;
    let auto_relay = relay::AutoRelay::attach(host, relay_client, relay::AutoRelayConfig::default())
        .map_err(|e| format!("auto-relay: {e}"))?;
    let auto_relay = std::sync::Arc::new(auto_relay);
    // Hole punching offers where the peers we met see us (the NAT's address).
    let punch = dcutr::Dcutr::attach(host, dcutr::Config::default()).map_err(|e| format!("hole punching: {e}"))?;
    let observed = autonat.clone();
    punch.observed_addrs_from(move || observed.candidates());
    let (mut verdicts, mut reservations, mut punches) = (autonat.events(), auto_relay.events(), punch.events());
    let follower = std::sync::Arc::clone(&auto_relay);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = verdicts.recv() => match event {
                    Ok(autonat::Event::Reachability { addr, reachable: true }) => println!("* others can reach you at {addr}"),
                    Ok(autonat::Event::Reachability { addr, reachable: false }) => {
                        println!("* {addr} cannot be reached from outside (a NAT or a firewall)");
                    }
                    Ok(autonat::Event::ReachabilityChanged(verdict)) => follower.set_reachability(verdict),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    _ => {}
                },
                event = reservations.recv() => match event {
                    Ok(relay::AutoRelayEvent::ReservationAdded { relay, .. }) => {
                        println!("* reachable through relay {}", short(relay));
                    }
                    Ok(relay::AutoRelayEvent::ReservationLost { relay, .. }) => println!("* relay {} is gone", short(relay)),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    _ => {}
                },
                event = punches.recv() => match event {
                    Ok(dcutr::Event::HolePunch { peer, result: Ok(done), .. }) => println!(
                        "* direct connection to {} (hole punched in {} ms), no relay in between",
                        short(peer),
                        done.elapsed.as_millis()
                    ),
                    Ok(dcutr::Event::HolePunch { peer, result: Err(failed), .. }) => println!(
                        "* no direct connection to {} ({}), staying on the relay",
                        short(peer),
                        failed.reason.as_str()
                    ),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    _ => {}
                },
            }
        }
    });
    Ok((autonat, auto_relay, punch))
}

async fn run(cli: Cli) -> Result<(), String> {
    let keypair = identity(&cli)?;
    let mut layers = strata::Layers::default();
    if let Some(key) = &cli.key {
        // Beside the identity: the WebRTC-direct certificate, so that the
        // address a web page dials stays the same across restarts.
        let certificate = strata::kept_webrtc_certificate(key).map_err(|e| e.to_string())?;
        layers = layers.with_webrtc_certificate(certificate);
    }
    let start = strata::builder_with_layers(&keypair, layers);
    let builder = cli.listen.iter().fold(start, |builder, addr| builder.listen(addr.clone()));
    let (builder, relay_client) = builder.relay_client(relay::ClientConfig::default());
    let host = builder.build().await.map_err(|e| e.to_string())?;
    relay_client.attach(&host).map_err(|e| e.to_string())?;
    ping::Ping::attach(&host, ping::Config::default()).map_err(|e| e.to_string())?;
    identify::Identify::attach(&host, identify::Config::default()).map_err(|e| e.to_string())?;
    let pubsub: PubSub = if cli.floodsub {
        let policy = if cli.strict { floodsub::SignaturePolicy::StrictSign } else { floodsub::SignaturePolicy::Lax };
        let config = floodsub::Config::default().with_signature_policy(policy);
        floodsub::Floodsub::attach(&host, config).map_err(|e| e.to_string())?.into()
    } else {
        gossipsub::Gossipsub::attach(&host, gossipsub::Config::default()).map_err(|e| e.to_string())?.into()
    };
    let mut room = pubsub.subscribe(&cli.topic);
    let mut presence = pubsub.events();
    let nick = cli.nick.clone().unwrap_or_else(|| short(host.peer_id()));

    welcome(&cli, &host, &nick);
    // Kept to the end of the chat: reachability runs while they live.
    let _reach = if cli.bootstrap.is_empty() { None } else { Some(reach_out(&host, &relay_client)?) };
    if !cli.bootstrap.is_empty() {
        let kad = kad::Kad::attach(&host, kad::Config::default()).map_err(|e| e.to_string())?;
        for addr in &cli.bootstrap {
            match host.dial(addr.clone()).await {
                Ok(peer) => kad.add_address(peer, addr),
                Err(error) => println!("* could not reach {addr}: {error}"),
            }
        }
        tokio::spawn(meet_through_the_dht(host.clone(), kad, cli.topic.clone()));
    }
    // Discovery runs while its handle lives: kept to the end of the chat.
    let discovery = match mdns_config(&cli) {
        Some(config) => Some(mdns::Mdns::attach(&host, config).map_err(|e| format!("mDNS: {e}"))?),
        None => None,
    };
    let mut found = discovery.as_ref().map(mdns::Mdns::events);
    println!("Type a line and press Enter to send it; Ctrl-C to leave.");

    for addr in &cli.dial {
        match host.dial(addr.clone()).await {
            Ok(peer) => println!("* connected to {}", short(peer)),
            Err(error) => println!("* could not reach {addr}: {error}"),
        }
    }

    // Who is who, learned from the lines people send.
    let mut nicks: std::collections::HashMap<PeerId, String> = std::collections::HashMap::new();
    let name = |nicks: &std::collections::HashMap<PeerId, String>, peer: PeerId| {
        nicks.get(&peer).cloned().unwrap_or_else(|| short(peer))
    };
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = input.next_line() => match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => {
                    if pubsub.peers(&cli.topic).is_empty() {
                        println!("(nobody else is in the room yet)");
                    }
                    if let Err(error) = pubsub.publish(&cli.topic, format!("{nick}: {}", line.trim_end())) {
                        println!("* not sent: {error}");
                    }
                }
                Ok(None) | Err(_) => break, // Ctrl-D
            },
            Some(message) = room.next() => {
                if let (Some(source), Some(nick)) = (message.source, nick_of(&message.text())) {
                    nicks.insert(source, nick.to_owned());
                }
                println!("{}", line_of(&message));
            }
            event = presence.recv() => match event {
                Ok(floodsub::Event::Subscribed { peer, topic }) if topic == cli.topic => println!("* {} joined", name(&nicks, peer)),
                Ok(floodsub::Event::Unsubscribed { peer, topic }) if topic == cli.topic => println!("* {} left", name(&nicks, peer)),
                _ => {}
            },
            Some(Ok(mdns::Event::Discovered { peer, .. })) = async { found.as_mut()?.recv().await.ok().map(Ok::<_, ()>) } => {
                if !host.is_connected(peer) {
                    println!("* found {} on the LAN, joining", name(&nicks, peer));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(room);
    drop(discovery);
    host.shutdown().await;
    println!("bye");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
