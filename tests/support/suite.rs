//! The hostile-peer attacks as functions: the quick tests
//! (`tests/hostile_streams.rs`, `tests/hostile.rs`) run them at scale 1,
//! the `hostile` example at a larger scale with a results table. Each
//! attack checks what the node must do about it and says what went wrong,
//! if anything. Included by path, after `attack.rs`; the attacks are in
//! `suite/`, by what they aim at:
//!
//! | module | attacks |
//! |---|---|
//! | `gate.rs` | sockets before and during the handshake, hang-ups |
//! | `muxers.rs` | raw mplex and yamux frames |
//! | `protocols.rs` | stream negotiation, ping, identify/push |
//! | `pubsub.rs` | floodsub |
//! | `identities.rs` | identities coming and going |

#![allow(dead_code)] // each includer uses a part

use std::{sync::Arc, time::Duration};

use std::net::SocketAddr;
use strata::{Host, Keypair, floodsub};
use tokio::{io::AsyncReadExt, sync::Mutex};

/// The node under attack, as the attacks see it.
pub(crate) struct Target {
    pub(crate) victim: Host,
    pub(crate) addr: SocketAddr,
    pub(crate) pubsub: floodsub::Floodsub,
    /// The victim's subscription to "t", where forged messages must not
    /// arrive.
    pub(crate) delivered: Mutex<floodsub::Subscription>,
}

/// What one attack found: `Err` names the expectation that failed.
pub(crate) type Outcome = Result<(), String>;

macro_rules! check {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

#[path = "suite/gate.rs"]
mod gate;
#[path = "suite/identities.rs"]
mod identities;
#[path = "suite/muxers.rs"]
mod muxers;
#[path = "suite/protocols.rs"]
mod protocols;
#[path = "suite/pubsub.rs"]
mod pubsub;

/// Every attack, by name: (name, what the node must do).
pub(crate) const ATTACKS: &[(&str, &str)] = &[
    ("silent sockets", "closed after the first-step deadline"),
    ("slowloris sockets", "cut at the first step"),
    ("handshakes abandoned after message 2", "hold only their address's share"),
    ("connection flood from one address", "rate-limited"),
    ("mplex stream flood", "streams past the limit reset"),
    ("mplex data on unknown streams", "ignored"),
    ("mplex oversized frame", "connection closed"),
    ("mplex garbage", "connection closed"),
    ("yamux stream flood", "streams past the limit reset"),
    ("yamux data past the window", "connection closed"),
    ("yamux window overflow", "connection closed"),
    ("yamux garbage", "connection closed"),
    ("multistream 10 KB protocol name", "stream refused, connection kept"),
    ("multistream 100 refused proposals", "stream refused, connection kept"),
    ("unknown protocol stream flood", "na each time, connection kept"),
    ("ping partial payload", "no echo"),
    ("ping megabyte stream", "echoed in rounds, connection kept"),
    ("identify push 10 MiB length", "cut before reading it"),
    ("identify push garbage", "refused"),
    ("floodsub topic flood", "1,024 topics kept, stream cut"),
    ("floodsub bad signatures", "dropped"),
    ("floodsub 16 KiB seqnos", "dropped"),
    ("floodsub 100 MiB length", "cut before reading it"),
    ("floodsub stream flood", "at most 32 read at once"),
    ("identity churn", "every peer forgotten"),
    ("hang-ups mid-negotiation", "nothing kept"),
];

/// Runs attack `name` at `scale` (1 for the quick tests).
pub(crate) async fn run(target: &Target, name: &str, scale: usize) -> Outcome {
    match name {
        "silent sockets" => gate::silent_sockets(target, scale).await,
        "slowloris sockets" => gate::slowloris(target, scale).await,
        "handshakes abandoned after message 2" => gate::abandoned_handshakes(target, scale).await,
        "connection flood from one address" => gate::connection_flood(target, scale).await,
        "mplex stream flood" => muxers::mplex_stream_flood(target, scale).await,
        "mplex data on unknown streams" => muxers::mplex_unknown_streams(target, scale).await,
        "mplex oversized frame" => muxers::mplex_oversized_frame(target).await,
        "mplex garbage" => muxers::mplex_garbage(target).await,
        "yamux stream flood" => muxers::yamux_stream_flood(target, scale).await,
        "yamux data past the window" => muxers::yamux_past_window(target).await,
        "yamux window overflow" => muxers::yamux_window_overflow(target).await,
        "yamux garbage" => muxers::yamux_garbage(target).await,
        "multistream 10 KB protocol name" => protocols::multistream_abuse(target, true).await,
        "multistream 100 refused proposals" => protocols::multistream_abuse(target, false).await,
        "unknown protocol stream flood" => protocols::unknown_protocols(target, scale).await,
        "ping partial payload" => protocols::ping_partial(target).await,
        "ping megabyte stream" => protocols::ping_megabyte(target, scale).await,
        "identify push 10 MiB length" => protocols::identify_huge(target).await,
        "identify push garbage" => protocols::identify_garbage(target).await,
        "floodsub topic flood" => pubsub::floodsub_topics(target).await,
        "floodsub bad signatures" => pubsub::floodsub_bad_signatures(target, scale).await,
        "floodsub 16 KiB seqnos" => pubsub::floodsub_long_seqnos(target, scale).await,
        "floodsub 100 MiB length" => pubsub::floodsub_huge(target).await,
        "floodsub stream flood" => pubsub::floodsub_streams(target, scale).await,
        "identity churn" => identities::identity_churn(target, scale).await,
        "hang-ups mid-negotiation" => gate::hang_ups(target, scale).await,
        other => Err(format!("no attack named {other:?}")),
    }
}

/// How long a check waits for the victim to get where it must: generous,
/// since each wait ends as soon as the victim gets there.
const WAIT: Duration = Duration::from_secs(10);

/// Whether `condition` holds within [`WAIT`], looking again every 10 ms:
/// for state no event announces (`strata_testkit::eventually`, as an
/// answer rather than a panic, so that the example's table goes on).
async fn holds_within(mut condition: impl AsyncFnMut() -> bool) -> bool {
    tokio::time::timeout(WAIT, async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok()
}

/// A peer of the attacker's own (a strata host, no protocols), connected.
async fn attacker_host(victim: &Host) -> Result<Host, String> {
    let host = strata::builder(&Keypair::generate_ed25519()).build().await.map_err(|e| e.to_string())?;
    let addr = victim.listen_addrs()[0].clone().with_p2p(victim.peer_id()).map_err(|e| e.to_string())?;
    host.dial(addr).await.map_err(|e| e.to_string())?;
    Ok(host)
}

/// Whether the victim ended a raw connection within `wait`.
async fn wire_closed(io: &mut (impl AsyncReadExt + Unpin), wait: Duration) -> bool {
    let mut sink = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, io.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Builds the target: a victim with ping, identify and floodsub (subscribed
/// to "t"), listening on 127.0.0.1.
pub(crate) async fn target(config: strata::host::Config) -> (Target, strata::ping::Ping) {
    let (victim, ping, addr) = super::attack::victim(config).await;
    let pubsub = floodsub::Floodsub::attach(&victim, floodsub::Config::default()).unwrap_or_else(|e| panic!("{e}"));
    let delivered = Mutex::new(pubsub.subscribe("t"));
    (Target { victim, addr, pubsub, delivered }, ping)
}

/// Shared by the example and the tests.
pub(crate) type SharedTarget = Arc<Target>;
