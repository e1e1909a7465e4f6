//! Hostile peers that get past the handshake (quick versions): eighteen
//! attacks on the muxer, on stream negotiation and on each protocol, run
//! one after another against one live node while a well-behaved peer
//! dials and pings it every 200 ms. The node must stay up, serve every
//! round of the well-behaved peer, keep the attacker's connection where
//! only a stream was at fault, and end within a memory bound of where it
//! started. (The handshake-level attacks are in `hostile.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{net::SocketAddr, time::Duration};

use prost::Message as _;
use strata::{
    Host, Keypair, PeerId, floodsub,
    host::Config,
    pubsub::{Rpc, rpc::MessageProto, signing},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use attack::*;

#[path = "support/attack.rs"]
mod attack;

/// mplex flags, initiator side.
const NEW_STREAM: u64 = 0;
const MESSAGE: u64 = 2;

/// A peer of the attacker's own (a strata host, no protocols), connected.
async fn attacker_host(victim: &Host) -> Host {
    let host = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
    host.dial(victim.listen_addrs()[0].clone().with_p2p(victim.peer_id()).unwrap()).await.unwrap();
    host
}

/// Whether the victim ended the raw connection within `wait`.
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

/// A signed floodsub message whose seqno is `seqno_len` bytes.
fn message_with_seqno(author: &Keypair, seqno_len: usize, n: u32) -> Vec<u8> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, attack after attack
async fn eighteen_attacks_after_the_handshake() {
    let (victim, _ping, addr) = victim(Config::default()).await;
    let pubsub = floodsub::Floodsub::attach(&victim, floodsub::Config::default()).unwrap();
    let mut delivered = pubsub.subscribe("t");
    let (stop, pinger) = well_behaved(&victim, Duration::from_millis(200));
    let rss_before = rss_kib();
    let mut ran = Vec::new();

    // --- the muxer ---
    // 1. 5,000 stream opens past the 256-stream limit, never reading.
    let (_, mut io) = wire(10, addr).await;
    let opens: Vec<u8> = (0..5000).flat_map(|id| frame(id, NEW_STREAM, b"")).collect();
    drop(tokio::time::timeout(Duration::from_secs(2), io.write_all(&opens)).await);
    drop(io);
    ran.push("mplex stream flood");
    // 2. 10,000 data frames on streams never opened.
    let (_, mut io) = wire(10, addr).await;
    let stray: Vec<u8> = (0..10_000).flat_map(|id| frame(100_000 + id, MESSAGE, &[0; 100])).collect();
    drop(tokio::time::timeout(Duration::from_secs(2), io.write_all(&stray)).await);
    drop(io);
    ran.push("mplex data on unknown streams");
    // 3. A frame announcing 8 MiB: the connection ends.
    let (_, mut io) = wire(10, addr).await;
    io.write_all(&[0x02, 0x80, 0x80, 0x80, 0x04]).await.unwrap();
    io.flush().await.unwrap();
    assert!(wire_closed(&mut io, Duration::from_secs(3)).await, "an oversized mplex frame ends the connection");
    ran.push("mplex oversized frame");
    // 4. Garbage instead of mplex frames: the connection ends.
    let (_, mut io) = wire(10, addr).await;
    drop(io.write_all(&[0xff; 4096]).await);
    drop(io.flush().await);
    assert!(wire_closed(&mut io, Duration::from_secs(3)).await, "garbage ends the connection");
    ran.push("mplex garbage");

    // --- stream negotiation ---
    // 5. A 10 KB protocol name; 6. a hundred refused proposals.
    let (_, mut io) = wire(11, addr).await;
    let mut long = b"\x13/multistream/1.0.0\n".to_vec();
    strata::core::framing::encode_length_prefixed(&vec![b'a'; 10_000], &mut long);
    let mut many = b"\x13/multistream/1.0.0\n".to_vec();
    for n in 0..100 {
        strata::core::framing::encode_length_prefixed(format!("/nope/{n}\n").as_bytes(), &mut many);
    }
    let mut frames = frame(1, NEW_STREAM, b"");
    frames.extend(frame(1, MESSAGE, &long));
    frames.extend(frame(3, NEW_STREAM, b""));
    frames.extend(frame(3, MESSAGE, &many));
    io.write_all(&frames).await.unwrap();
    io.flush().await.unwrap();
    assert!(
        !wire_closed(&mut io, Duration::from_millis(300)).await,
        "a bad negotiation costs a stream, not the connection"
    );
    drop(io);
    ran.push("multistream 10 KB protocol name");
    ran.push("multistream 100 refused proposals");
    // 7. 300 streams proposing a protocol nobody serves.
    let attacker = attacker_host(&victim).await;
    for _ in 0..300 {
        assert!(attacker.open_stream(victim.peer_id(), &["/unknown/1.0.0"]).await.is_err());
    }
    assert!(attacker.is_connected(victim.peer_id()));
    ran.push("unknown protocol stream flood");

    // --- ping ---
    // 8. 31 bytes and an end; 9. a megabyte that is not a ping.
    let mut stream = attacker.open_stream(victim.peer_id(), &["/ipfs/ping/1.0.0"]).await.unwrap();
    stream.write_all(&[1; 31]).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    assert!(within(stream.read_to_end(&mut rest)).await.is_err() || rest.is_empty(), "no echo for a partial payload");
    ran.push("ping partial payload");
    let stream = attacker.open_stream(victim.peer_id(), &["/ipfs/ping/1.0.0"]).await.unwrap();
    let (mut read, mut write) = tokio::io::split(stream);
    let echo = tokio::spawn(async move {
        let mut sink = vec![0u8; 64 * 1024];
        let mut total = 0;
        while let Ok(n) = read.read(&mut sink).await {
            if n == 0 || total + n >= 1 << 20 {
                break;
            }
            total += n;
        }
    });
    write.write_all(&vec![7u8; 1 << 20]).await.unwrap();
    write.shutdown().await.unwrap();
    within(echo).await.unwrap();
    assert!(attacker.is_connected(victim.peer_id()));
    ran.push("ping megabyte stream");

    // --- identify/push ---
    // 10. A 10 MiB length prefix; 11. 100 bytes of garbage.
    let mut stream = attacker.open_stream(victim.peer_id(), &["/ipfs/id/push/1.0.0"]).await.unwrap();
    let mut huge = Vec::new();
    strata::core::varint::encode(10 << 20, &mut huge);
    stream.write_all(&huge).await.unwrap();
    drop(stream.write_all(&vec![0; 100_000]).await);
    drop(stream);
    ran.push("identify push 10 MiB length");
    stream = attacker.open_stream(victim.peer_id(), &["/ipfs/id/push/1.0.0"]).await.unwrap();
    let mut garbage = vec![100];
    garbage.extend_from_slice(&[0xff; 100]);
    stream.write_all(&garbage).await.unwrap();
    stream.shutdown().await.unwrap();
    drop(stream);
    assert!(victim.peer_info(attacker.peer_id()).and_then(|info| info.agent_version).is_none());
    ran.push("identify push garbage");

    // --- floodsub ---
    let open_floodsub = || attacker.open_stream(victim.peer_id(), &["/floodsub/1.0.0"]);
    // 12. One RPC subscribing to 5,000 topics.
    let mut stream = open_floodsub().await.unwrap();
    let names: Vec<String> = (0..5000).map(|n| format!("topic-{n}")).collect();
    let rpc = Rpc::subscriptions(names.iter().map(|name| (name.as_str(), true))).encode();
    strata::core::framing::write_length_prefixed(&mut stream, &rpc).await.unwrap();
    drop(stream.shutdown().await); // a reset would discard the unread RPC
    within(async {
        while !pubsub.peers("topic-1023").contains(&attacker.peer_id()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(pubsub.peers("topic-1024").is_empty(), "the 1,025th topic is past the limit");
    ran.push("floodsub topic flood");
    // 13. 1,000 messages with broken signatures; 14. 200 with 16 KiB seqnos.
    let forger = Keypair::generate_ed25519();
    let mut stream = open_floodsub().await.unwrap();
    for n in 0..1000 {
        let mut raw = message_with_seqno(&forger, 8, n);
        let last = raw.len() - 1;
        raw[last] ^= 0xff; // inside the signature, the last field
        strata::core::framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![raw]).encode()).await.unwrap();
    }
    ran.push("floodsub bad signatures");
    for n in 0..200 {
        let raw = message_with_seqno(&forger, 16 * 1024, n);
        strata::core::framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![raw]).encode()).await.unwrap();
    }
    stream.shutdown().await.unwrap();
    ran.push("floodsub 16 KiB seqnos");
    // 15. A 100 MiB length prefix.
    let mut stream = open_floodsub().await.unwrap();
    let mut huge = Vec::new();
    strata::core::varint::encode(100 << 20, &mut huge);
    stream.write_all(&huge).await.unwrap();
    drop(stream.write_all(&[0; 4096]).await);
    drop(stream);
    ran.push("floodsub 100 MiB length");
    // 16. 100 floodsub streams at once.
    let mut streams = Vec::new();
    for _ in 0..100 {
        if let Ok(stream) = open_floodsub().await {
            streams.push(stream);
        }
    }
    drop(streams);
    ran.push("floodsub stream flood");
    // A valid message after all that is delivered, and it is the first.
    let mut stream = open_floodsub().await.unwrap();
    let valid = message_with_seqno(&forger, 8, 4242);
    strata::core::framing::write_length_prefixed(&mut stream, &Rpc::messages(vec![valid]).encode()).await.unwrap();
    stream.shutdown().await.unwrap();
    let first = within(delivered.next()).await.unwrap();
    assert_eq!(first.data, 4242u32.to_be_bytes(), "a forged or oversized message was delivered first");
    assert!(attacker.is_connected(victim.peer_id()), "stream-level abuse cost streams, not the connection");

    // --- identities ---
    // 17. 50 fresh identities connect and leave at once; 18. 100 sockets
    // that open a negotiation and hang up.
    let mut churn = Vec::new();
    for _ in 0..50 {
        let target = victim.listen_addrs()[0].clone().with_p2p(victim.peer_id()).unwrap();
        churn.push(tokio::spawn(async move {
            let host = strata::builder(&Keypair::generate_ed25519()).build().await.unwrap();
            drop(host.dial(target).await);
            host.shutdown().await;
        }));
    }
    for task in churn {
        within(task).await.unwrap();
    }
    ran.push("identity churn");
    for _ in 0..100 {
        if let Ok(mut stream) = raw_from(12, addr).await {
            drop(stream.write_all(b"\x13/multistream/1.0.0\n").await);
        }
    }
    ran.push("hang-ups mid-negotiation");

    assert_eq!(ran.len(), 18, "{ran:?}");
    attacker.shutdown().await;
    served_throughout(stop, pinger).await;
    // Everyone left: nothing of the attackers stays behind.
    let peers_left = within(async {
        loop {
            let left: Vec<PeerId> = victim.connected_peers();
            if left.is_empty() {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(peers_left.is_empty());
    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    eprintln!("hostile streams: the process grew by {grown_mib} MiB over the attacks");
    assert!(grown_mib < 96, "the process grew by {grown_mib} MiB over the attacks");
    let _: SocketAddr = addr;
    victim.shutdown().await;
}
