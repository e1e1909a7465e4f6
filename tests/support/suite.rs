//! The hostile-peer attacks as functions: the quick tests
//! (`tests/hostile_streams.rs`) run them at scale 1, the `hostile` example
//! at a larger scale with a results table. Each attack checks what the
//! node must do about it and says what went wrong, if anything. Included
//! by path, after `attack.rs`.

#![allow(dead_code)] // each includer uses a part

use std::{net::SocketAddr, sync::Arc, time::Duration};

use prost::Message as _;
use strata::{
    Host, Keypair, floodsub,
    pubsub::{Rpc, rpc::MessageProto, signing},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::Mutex,
};

use strata::yamux::{Flags, Frame, Header};

use super::attack::{closed_within, frame, raw_from, wire, wire_with};

/// mplex flags, initiator side.
const NEW_STREAM: u64 = 0;
const MESSAGE: u64 = 2;

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

/// Every attack, by name: (name, what the node must do).
pub(crate) const ATTACKS: &[(&str, &str)] = &[
    ("silent sockets", "closed after the first-step deadline"),
    ("slowloris sockets", "cut at the first step"),
    ("handshakes abandoned after message 2", "hold only their address's share"),
    ("connection flood from one address", "rate-limited"),
    ("mplex stream flood", "streams past the limit reset; reading pauses"),
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
        "silent sockets" => silent_sockets(target, scale).await,
        "slowloris sockets" => slowloris(target, scale).await,
        "handshakes abandoned after message 2" => abandoned_handshakes(target, scale).await,
        "connection flood from one address" => connection_flood(target, scale).await,
        "mplex stream flood" => mplex_stream_flood(target, scale).await,
        "mplex data on unknown streams" => mplex_unknown_streams(target, scale).await,
        "mplex oversized frame" => mplex_oversized_frame(target).await,
        "mplex garbage" => mplex_garbage(target).await,
        "yamux stream flood" => yamux_stream_flood(target, scale).await,
        "yamux data past the window" => yamux_past_window(target).await,
        "yamux window overflow" => yamux_window_overflow(target).await,
        "yamux garbage" => yamux_garbage(target).await,
        "multistream 10 KB protocol name" => multistream_abuse(target, true).await,
        "multistream 100 refused proposals" => multistream_abuse(target, false).await,
        "unknown protocol stream flood" => unknown_protocols(target, scale).await,
        "ping partial payload" => ping_partial(target).await,
        "ping megabyte stream" => ping_megabyte(target, scale).await,
        "identify push 10 MiB length" => identify_huge(target).await,
        "identify push garbage" => identify_garbage(target).await,
        "floodsub topic flood" => floodsub_topics(target).await,
        "floodsub bad signatures" => floodsub_bad_signatures(target, scale).await,
        "floodsub 16 KiB seqnos" => floodsub_long_seqnos(target, scale).await,
        "floodsub 100 MiB length" => floodsub_huge(target).await,
        "floodsub stream flood" => floodsub_streams(target, scale).await,
        "identity churn" => identity_churn(target, scale).await,
        "hang-ups mid-negotiation" => hang_ups(target, scale).await,
        other => Err(format!("no attack named {other:?}")),
    }
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

/// A signed floodsub message on topic "t" whose seqno is `seqno_len` bytes.
pub(crate) fn message_with_seqno(author: &Keypair, seqno_len: usize, n: u32) -> Vec<u8> {
    let mut proto = MessageProto {
        from: Some(author.peer_id().to_bytes()),
        data: Some(n.to_be_bytes().to_vec()),
        seqno: Some([n.to_be_bytes().to_vec(), vec![0; seqno_len.saturating_sub(4)]].concat()),
        topic_ids: vec!["t".into()],
        ..MessageProto::default()
    };
    proto.signature = Some(author.sign(&signing::signed_bytes(&proto.encode_to_vec())));
    proto.encode_to_vec()
}

/// Sends one valid message from `author` and checks that it is the next
/// one the victim delivers (so nothing forged came before it).
async fn valid_message_is_next(target: &Target, attacker: &Host, n: u32) -> Outcome {
    let author = Keypair::generate_ed25519();
    let mut stream =
        attacker.open_stream(target.victim.peer_id(), &["/floodsub/1.0.0"]).await.map_err(|e| e.to_string())?;
    let raw = message_with_seqno(&author, 8, n);
    strata::core::framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![raw]).encode())
        .await
        .map_err(|e| e.to_string())?;
    drop(stream.shutdown().await);
    let mut delivered = target.delivered.lock().await;
    let next = tokio::time::timeout(Duration::from_secs(10), delivered.next()).await;
    let Ok(Some(message)) = next else { return Err("the valid message was not delivered".into()) };
    check!(message.data == n.to_be_bytes(), "a forged or oversized message was delivered");
    Ok(())
}

// ----- before the handshake -----

async fn silent_sockets(target: &Target, scale: usize) -> Outcome {
    let mut silent = Vec::new();
    for _ in 0..300 * scale {
        if let Ok(stream) = raw_from(2, target.addr).await {
            silent.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for stream in &mut silent {
        check!(closed_within(stream, Duration::from_secs(5)).await, "a silent socket stayed open");
    }
    Ok(())
}

async fn slowloris(target: &Target, scale: usize) -> Outcome {
    let header = b"\x13/multistream/1.0.0\n\x07/noise\n";
    let mut slow = Vec::new();
    for _ in 0..50 * scale {
        if let Ok(stream) = raw_from(3, target.addr).await {
            slow.push(stream);
        }
    }
    for byte in header.iter().cycle().take(20) {
        for stream in &mut slow {
            drop(stream.write_all(&[*byte]).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for stream in &mut slow {
        check!(closed_within(stream, Duration::from_secs(3)).await, "a slow socket stayed open");
    }
    Ok(())
}

async fn abandoned_handshakes(target: &Target, scale: usize) -> Outcome {
    let mut stuck = Vec::new();
    for _ in 0..100 * scale {
        let Ok(mut stream) = raw_from(4, target.addr).await else { continue };
        let mut hello = b"\x13/multistream/1.0.0\n\x07/noise\n".to_vec();
        hello.extend_from_slice(&32u16.to_be_bytes());
        hello.extend_from_slice(&[9u8; 32]);
        if stream.write_all(&hello).await.is_ok() {
            stuck.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

async fn connection_flood(target: &Target, scale: usize) -> Outcome {
    let mut streams = Vec::new();
    for _ in 0..500 * scale {
        if let Ok(stream) = raw_from(7, target.addr).await {
            streams.push(stream);
        }
    }
    let mut closed_at_once = 0;
    for stream in &mut streams {
        if closed_within(stream, Duration::from_millis(20)).await {
            closed_at_once += 1;
        }
    }
    check!(closed_at_once * 2 >= streams.len(), "only {closed_at_once} of {} refused at once", streams.len());
    Ok(())
}

// ----- the muxer -----

async fn mplex_stream_flood(target: &Target, scale: usize) -> Outcome {
    let (_, mut io) = wire(10, target.addr).await;
    let opens: Vec<u8> = (0..(5000 * scale) as u64).flat_map(|id| frame(id, NEW_STREAM, b"")).collect();
    drop(tokio::time::timeout(Duration::from_secs(2), io.write_all(&opens)).await);
    Ok(())
}

async fn mplex_unknown_streams(target: &Target, scale: usize) -> Outcome {
    let (_, mut io) = wire(10, target.addr).await;
    let stray: Vec<u8> = (0..(10_000 * scale) as u64).flat_map(|id| frame(100_000 + id, MESSAGE, &[0; 100])).collect();
    drop(tokio::time::timeout(Duration::from_secs(2), io.write_all(&stray)).await);
    Ok(())
}

async fn mplex_oversized_frame(target: &Target) -> Outcome {
    let (_, mut io) = wire(10, target.addr).await;
    drop(io.write_all(&[0x02, 0x80, 0x80, 0x80, 0x04]).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "an oversized mplex frame left the connection open");
    Ok(())
}

async fn mplex_garbage(target: &Target) -> Outcome {
    let (_, mut io) = wire(10, target.addr).await;
    drop(io.write_all(&[0xff; 4096]).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "garbage left the connection open");
    Ok(())
}

/// yamux frames, encoded.
fn yamux_frames(frames: impl IntoIterator<Item = Frame>) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    for frame in frames {
        frame.encode(&mut out);
    }
    out.to_vec()
}

async fn yamux_stream_flood(target: &Target, scale: usize) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    let ids = (0..u32::try_from(5000 * scale).unwrap_or(u32::MAX)).map(|n| 2 * n + 1);
    let opens = yamux_frames(ids.map(|id| Frame::control(Header::window_update(id, Flags::SYN, 0))));
    drop(tokio::time::timeout(Duration::from_secs(2), io.write_all(&opens)).await);
    Ok(())
}

async fn yamux_past_window(target: &Target) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    let over = vec![0u8; strata::yamux::INITIAL_WINDOW as usize + 1];
    let bytes = yamux_frames([Frame::data(Header::data(1, Flags::SYN, 0), over.into())]);
    drop(io.write_all(&bytes).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "data past the window left the connection open");
    Ok(())
}

async fn yamux_window_overflow(target: &Target) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    let bytes = yamux_frames([
        Frame::control(Header::window_update(1, Flags::SYN, 0)),
        Frame::control(Header::window_update(1, Flags::NONE, u32::MAX)),
    ]);
    drop(io.write_all(&bytes).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "a window overflow left the connection open");
    Ok(())
}

async fn yamux_garbage(target: &Target) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    drop(io.write_all(&[0xff; 4096]).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "garbage left the connection open");
    Ok(())
}

// ----- stream negotiation -----

async fn multistream_abuse(target: &Target, long_name: bool) -> Outcome {
    let (_, mut io) = wire(11, target.addr).await;
    let mut bytes = b"\x13/multistream/1.0.0\n".to_vec();
    if long_name {
        strata::core::framing::encode_length_prefixed(&vec![b'a'; 10_000], &mut bytes);
    } else {
        for n in 0..100 {
            strata::core::framing::encode_length_prefixed(format!("/nope/{n}\n").as_bytes(), &mut bytes);
        }
    }
    let mut frames = frame(1, NEW_STREAM, b"");
    frames.extend(frame(1, MESSAGE, &bytes));
    io.write_all(&frames).await.map_err(|e| e.to_string())?;
    io.flush().await.map_err(|e| e.to_string())?;
    check!(!wire_closed(&mut io, Duration::from_millis(300)).await, "a bad negotiation cost the connection");
    Ok(())
}

async fn unknown_protocols(target: &Target, scale: usize) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    for _ in 0..300 * scale {
        check!(
            attacker.open_stream(target.victim.peer_id(), &["/unknown/1.0.0"]).await.is_err(),
            "an unknown protocol was agreed"
        );
    }
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}

// ----- ping -----

async fn ping_partial(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream =
        attacker.open_stream(target.victim.peer_id(), &["/ipfs/ping/1.0.0"]).await.map_err(|e| e.to_string())?;
    stream.write_all(&[1; 31]).await.map_err(|e| e.to_string())?;
    drop(stream.shutdown().await);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    check!(read.is_ok(), "the stream was neither closed nor reset");
    check!(rest.is_empty(), "{} bytes echoed for a partial payload", rest.len());
    attacker.shutdown().await;
    Ok(())
}

async fn ping_megabyte(target: &Target, scale: usize) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let stream =
        attacker.open_stream(target.victim.peer_id(), &["/ipfs/ping/1.0.0"]).await.map_err(|e| e.to_string())?;
    let (mut read, mut write) = tokio::io::split(stream);
    let total = scale << 20;
    let echo = tokio::spawn(async move {
        let mut sink = vec![0u8; 64 * 1024];
        let mut got = 0;
        while let Ok(n) = read.read(&mut sink).await {
            got += n;
            if n == 0 || got >= total {
                break;
            }
        }
        got
    });
    write.write_all(&vec![7u8; total]).await.map_err(|e| e.to_string())?;
    drop(write.shutdown().await);
    let echoed = tokio::time::timeout(Duration::from_secs(30), echo).await.map_err(|_| "no end to the echo")?;
    check!(echoed.unwrap_or(0) == total, "not every round was echoed");
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}

// ----- identify/push -----

async fn identify_huge(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream =
        attacker.open_stream(target.victim.peer_id(), &["/ipfs/id/push/1.0.0"]).await.map_err(|e| e.to_string())?;
    let mut huge = Vec::new();
    strata::core::varint::encode(10 << 20, &mut huge);
    drop(stream.write_all(&huge).await);
    drop(stream.write_all(&vec![0; 100_000]).await);
    drop(stream);
    check!(target.victim.peer_info(attacker.peer_id()).and_then(|info| info.agent_version).is_none(), "accepted");
    attacker.shutdown().await;
    Ok(())
}

async fn identify_garbage(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream =
        attacker.open_stream(target.victim.peer_id(), &["/ipfs/id/push/1.0.0"]).await.map_err(|e| e.to_string())?;
    let mut garbage = vec![100];
    garbage.extend_from_slice(&[0xff; 100]);
    drop(stream.write_all(&garbage).await);
    drop(stream.shutdown().await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    check!(target.victim.peer_info(attacker.peer_id()).and_then(|info| info.agent_version).is_none(), "accepted");
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}

// ----- floodsub -----

async fn floodsub_stream(attacker: &Host, target: &Target) -> Result<strata::Stream, String> {
    attacker.open_stream(target.victim.peer_id(), &["/floodsub/1.0.0"]).await.map_err(|e| e.to_string())
}

async fn floodsub_topics(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream = floodsub_stream(&attacker, target).await?;
    let names: Vec<String> = (0..5000).map(|n| format!("topic-{n}")).collect();
    let rpc = Rpc::subscriptions(names.iter().map(|name| (name.as_str(), true))).encode();
    strata::core::framing::write_length_prefixed(&mut stream, &rpc).await.map_err(|e| e.to_string())?;
    drop(stream.shutdown().await); // a reset would discard the unread RPC
    let kept = tokio::time::timeout(Duration::from_secs(10), async {
        while !target.pubsub.peers("topic-1023").contains(&attacker.peer_id()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    check!(kept.is_ok(), "the first 1,024 topics were not kept");
    check!(!target.pubsub.peers("topic-1024").contains(&attacker.peer_id()), "a topic past the limit was kept");
    attacker.shutdown().await;
    Ok(())
}

async fn floodsub_bad_signatures(target: &Target, scale: usize) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let forger = Keypair::generate_ed25519();
    let mut stream = floodsub_stream(&attacker, target).await?;
    for n in 0..1000 * scale {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let mut raw = message_with_seqno(&forger, 8, n);
        let last = raw.len() - 1;
        raw[last] ^= 0xff; // inside the signature, the last field
        let rpc = Rpc::messages(vec![raw]).encode();
        if strata::core::framing::write_length_prefixed(&mut stream, &rpc).await.is_err() {
            break; // cut (over its message budget): fine
        }
    }
    drop(stream.shutdown().await);
    valid_message_is_next(target, &attacker, 4242).await?;
    attacker.shutdown().await;
    Ok(())
}

async fn floodsub_long_seqnos(target: &Target, scale: usize) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let forger = Keypair::generate_ed25519();
    let mut stream = floodsub_stream(&attacker, target).await?;
    for n in 0..200 * scale {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let raw = message_with_seqno(&forger, 16 * 1024, n);
        if strata::core::framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![raw]).encode()).await.is_err()
        {
            break;
        }
    }
    drop(stream.shutdown().await);
    valid_message_is_next(target, &attacker, 4343).await?;
    attacker.shutdown().await;
    Ok(())
}

async fn floodsub_huge(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream = floodsub_stream(&attacker, target).await?;
    let mut huge = Vec::new();
    strata::core::varint::encode(100 << 20, &mut huge);
    drop(stream.write_all(&huge).await);
    drop(stream.write_all(&[0; 4096]).await);
    drop(stream);
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}

async fn floodsub_streams(target: &Target, scale: usize) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut streams = Vec::new();
    for _ in 0..100 * scale {
        if let Ok(stream) = floodsub_stream(&attacker, target).await {
            streams.push(stream);
        }
    }
    drop(streams);
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}

// ----- identities -----

async fn identity_churn(target: &Target, scale: usize) -> Outcome {
    use futures::StreamExt as _;

    let addr = target.victim.listen_addrs()[0].clone().with_p2p(target.victim.peer_id()).map_err(|e| e.to_string())?;
    // Eight in flight: below the per-address handshake share, which the
    // well-behaved peer (also on 127.0.0.1) needs too. This attack is about
    // identities coming and going; the gate has attacks of its own.
    futures::stream::iter(0..50 * scale)
        .for_each_concurrent(8, |_| {
            let addr = addr.clone();
            async move {
                let Ok(host) = strata::builder(&Keypair::generate_ed25519()).build().await else { return };
                drop(host.dial(addr).await);
                host.shutdown().await;
            }
        })
        .await;
    Ok(())
}

async fn hang_ups(target: &Target, scale: usize) -> Outcome {
    for _ in 0..100 * scale {
        if let Ok(mut stream) = raw_from(12, target.addr).await {
            drop(stream.write_all(b"\x13/multistream/1.0.0\n").await);
        }
    }
    Ok(())
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
