//! Attacks on stream negotiation and the small protocols: multistream
//! abuse, unknown protocols, ping and identify/push. Part of `suite.rs`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Outcome, Target, attacker_host, wire_closed};
use crate::attack::{frame, wire};

/// mplex flags, initiator side.
const NEW_STREAM: u64 = 0;
const MESSAGE: u64 = 2;

pub(super) async fn multistream_abuse(target: &Target, long_name: bool) -> Outcome {
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

pub(super) async fn unknown_protocols(target: &Target, scale: usize) -> Outcome {
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

pub(super) async fn ping_partial(target: &Target) -> Outcome {
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

pub(super) async fn ping_megabyte(target: &Target, scale: usize) -> Outcome {
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

pub(super) async fn identify_huge(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream =
        attacker.open_stream(target.victim.peer_id(), &["/ipfs/id/push/1.0.0"]).await.map_err(|e| e.to_string())?;
    let mut huge = Vec::new();
    strata::core::varint::encode(10 << 20, &mut huge);
    drop(stream.write_all(&huge).await);
    drop(stream.flush().await);
    // Cut before reading it: the victim ends the stream although 10 MiB
    // were announced and none sent.
    let cut = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut Vec::new())).await;
    check!(cut.is_ok(), "a push announcing 10 MiB was waited on");
    check!(target.victim.peer_info(attacker.peer_id()).and_then(|info| info.agent_version).is_none(), "accepted");
    attacker.shutdown().await;
    Ok(())
}

pub(super) async fn identify_garbage(target: &Target) -> Outcome {
    let attacker = attacker_host(&target.victim).await?;
    let mut stream =
        attacker.open_stream(target.victim.peer_id(), &["/ipfs/id/push/1.0.0"]).await.map_err(|e| e.to_string())?;
    let mut garbage = vec![100];
    garbage.extend_from_slice(&[0xff; 100]);
    drop(stream.write_all(&garbage).await);
    drop(stream.shutdown().await);
    // The victim has read the push and decided once it ends the stream.
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut Vec::new())).await;
    check!(ended.is_ok(), "the garbage push was never ended");
    check!(target.victim.peer_info(attacker.peer_id()).and_then(|info| info.agent_version).is_none(), "accepted");
    check!(attacker.is_connected(target.victim.peer_id()), "the connection was lost");
    attacker.shutdown().await;
    Ok(())
}
