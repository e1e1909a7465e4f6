//! Attacks on floodsub: topic floods, forged and oversized messages,
//! huge RPC lengths and stream floods. Part of `suite.rs`.

use std::time::Duration;

use futures::FutureExt as _;
use prost::Message as _;
use strata::{
    Host, Keypair,
    pubsub::{Rpc, rpc::MessageProto, signing},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Outcome, Target, attacker_host, holds_within};

/// How many inbound pubsub streams of one peer the victim reads at once
/// (`pubsub::Config::with_max_inbound_streams_per_peer`, default 32).
const MAX_INBOUND_STREAMS: usize = 32;

/// A signed floodsub message on topic "t" whose seqno is `seqno_len` bytes.
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

async fn floodsub_stream(attacker: &Host, target: &Target) -> Result<strata::Stream, String> {
    attacker.open_stream(target.victim.peer_id(), &["/floodsub/1.0.0"]).await.map_err(|e| e.to_string())
}

pub(super) async fn floodsub_topics(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream = floodsub_stream(&attacker, target).await?;
    let names: Vec<String> = (0..5000).map(|n| format!("topic-{n}")).collect();
    let rpc = Rpc::subscriptions(names.iter().map(|name| (name.as_str(), true))).encode();
    strata::core::framing::write_length_prefixed(&mut stream, &rpc).await.map_err(|e| e.to_string())?;
    drop(stream.shutdown().await); // a reset would discard the unread RPC
    // The RPC's subscriptions are applied in order: topic-1023 known means
    // the whole RPC was read.
    let mut events = target.pubsub.events();
    let kept = tokio::time::timeout(Duration::from_secs(10), async {
        while !target.pubsub.peers("topic-1023").contains(&attacker.peer_id()) {
            if let Err(tokio::sync::broadcast::error::RecvError::Closed) = events.recv().await {
                return false;
            }
        }
        true
    })
    .await;
    check!(kept == Ok(true), "the first 1,024 topics were not kept");
    check!(!target.pubsub.peers("topic-1024").contains(&attacker.peer_id()), "a topic past the limit was kept");
    attacker.shutdown().await;
    Ok(())
}

pub(super) async fn floodsub_bad_signatures(target: &Target, scale: usize) -> Outcome {
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

pub(super) async fn floodsub_long_seqnos(target: &Target, scale: usize) -> Outcome {
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

pub(super) async fn floodsub_huge(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream = floodsub_stream(&attacker, target).await?;
    let mut huge = Vec::new();
    strata::core::varint::encode(100 << 20, &mut huge);
    drop(stream.write_all(&huge).await);
    drop(stream.write_all(&[0; 4096]).await);
    drop(stream.flush().await);
    // Cut before reading it: the victim ends the stream although 100 MiB
    // were announced and 4 KiB sent.
    let cut = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut Vec::new())).await;
    check!(cut.is_ok(), "an RPC announcing 100 MiB was waited on");
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}

/// Whether the victim ended `stream` (reset or closed it) by now.
fn ended(stream: &mut strata::Stream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte).now_or_never(), Some(Ok(0) | Err(_)))
}

/// Subscribes the attacker to `topic` over `stream`.
async fn subscribe_over(stream: &mut strata::Stream, topic: &str) -> Outcome {
    let rpc = Rpc::subscriptions([(topic, true)]).encode();
    strata::core::framing::write_length_prefixed(stream, &rpc).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())
}

/// 100 floodsub streams held open at once: the victim reads the first 32
/// (a subscription sent on each is applied) and drops the rest at once;
/// once they are gone, a new stream is read again; the connection stays.
pub(super) async fn floodsub_streams(target: &Target, scale: usize) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let known = |topic: &str| target.pubsub.peers(topic).contains(&attacker.peer_id());
    let mut kept = Vec::new();
    for _ in 0..100 * scale {
        // Past the muxer's stream limit opening fails: fine, 32 is the point.
        if let Ok(stream) = floodsub_stream(&attacker, target).await {
            kept.push(stream);
        }
    }
    let opened = kept.len();
    check!(opened > MAX_INBOUND_STREAMS, "only {opened} streams opened");
    let dropped_past_the_limit = holds_within(async || {
        kept.retain_mut(|stream| !ended(stream));
        kept.len() <= MAX_INBOUND_STREAMS
    })
    .await;
    check!(
        dropped_past_the_limit,
        "{} of {opened} streams open at once; the limit is {MAX_INBOUND_STREAMS}",
        kept.len()
    );
    check!(kept.len() == MAX_INBOUND_STREAMS, "only {} of {opened} streams kept", kept.len());
    for (n, stream) in kept.iter_mut().enumerate() {
        subscribe_over(stream, &format!("kept-{n}")).await?;
    }
    let all_read = holds_within(async || (0..MAX_INBOUND_STREAMS).all(|n| known(&format!("kept-{n}")))).await;
    check!(all_read, "a stream within the limit was not read");
    // The kept streams end (reset): their places free up, and a new
    // stream is read. One the victim drops (it has not seen the resets
    // yet) is tried again.
    drop(kept);
    let mut read_again = false;
    for _ in 0..100 {
        let mut stream = floodsub_stream(&attacker, target).await?;
        if subscribe_over(&mut stream, "after-the-flood").await.is_err() {
            continue; // dropped before it was written to
        }
        let answered = holds_within(async || known("after-the-flood") || ended(&mut stream)).await;
        read_again = known("after-the-flood");
        if read_again || !answered {
            break;
        }
    }
    check!(read_again, "no stream was read after the flood's streams ended");
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}
