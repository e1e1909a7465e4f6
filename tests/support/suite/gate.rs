//! Attacks before and during the handshake: sockets that say nothing, say
//! it slowly, stop after Noise message 2, come too fast from one address,
//! or hang up mid-negotiation. Part of `suite.rs`.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{Outcome, Target, WAIT};
use crate::attack::{closed_within, raw_from};

/// The victim's per-address share of pending handshakes
/// (`Config::with_max_pending_upgrades_per_ip`, default 16), its upgrade
/// timeout (2 s, [`crate::attack::victim`]) and its accept rate per
/// address (`Config::with_accept_rate_per_ip`, default 50 a second).
const SHARE_PER_IP: usize = 16;
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(2);
const ACCEPT_RATE: u64 = 50;

/// The multistream answer to [`hello`]: 28 bytes; message 2 comes after.
const MULTISTREAM_ANSWER: usize = 28;

/// multistream for `/noise`, then a Noise message 1 (an ephemeral key).
fn hello() -> Vec<u8> {
    let mut hello = b"\x13/multistream/1.0.0\n\x07/noise\n".to_vec();
    hello.extend_from_slice(&32u16.to_be_bytes());
    hello.extend_from_slice(&[9u8; 32]);
    hello
}

/// Whether the victim answered [`hello`] with message 2 within `wait`
/// (`false` if it closed the socket or said nothing more).
async fn got_message_2(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() <= MULTISTREAM_ANSWER {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
    true
}

pub(super) async fn silent_sockets(target: &Target, scale: usize) -> Outcome {
    let mut silent = Vec::new();
    for _ in 0..300 * scale {
        if let Ok(stream) = raw_from(2, target.addr).await {
            silent.push(stream);
        }
    }
    // Each is closed at the first-step deadline (1 s) or, past its
    // address's share, at once: waiting on each close is waiting on the
    // deadline.
    for stream in &mut silent {
        check!(closed_within(stream, Duration::from_secs(5)).await, "a silent socket stayed open");
    }
    Ok(())
}

pub(super) async fn slowloris(target: &Target, scale: usize) -> Outcome {
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
        // The attack's pace (a byte every 200 ms per socket), not a wait:
        // slowloris is defined by the time between its bytes.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for stream in &mut slow {
        check!(closed_within(stream, Duration::from_secs(3)).await, "a slow socket stayed open");
    }
    Ok(())
}

/// Sockets that send Noise message 1 and never message 3: each one the
/// victim admits gets message 2 and holds a handshake slot until the
/// upgrade timeout; past its address's share a socket is closed before
/// any answer. So at most the share is answered per upgrade timeout, at
/// least one is (the attack reached message 2), and every one is closed
/// in the end.
pub(super) async fn abandoned_handshakes(target: &Target, scale: usize) -> Outcome {
    let started = tokio::time::Instant::now();
    let mut stuck = Vec::new();
    for _ in 0..100 * scale {
        let Ok(mut stream) = raw_from(4, target.addr).await else { continue };
        drop(stream.write_all(&hello()).await); // a refused socket may already be closed
        stuck.push(stream);
    }
    // Each slot is taken at most once per upgrade timeout while the
    // sockets are opened (none is ever freed earlier: nobody finishes).
    let windows = 1 + started.elapsed().as_millis() / UPGRADE_TIMEOUT.as_millis();
    let share = SHARE_PER_IP * usize::try_from(windows).unwrap_or(usize::MAX);
    let mut answered = 0;
    for stream in &mut stuck {
        let mut got = Vec::new();
        let read = tokio::time::timeout(UPGRADE_TIMEOUT * 5, stream.read_to_end(&mut got)).await;
        check!(read.is_ok(), "an abandoned handshake was kept past the upgrade timeout");
        if got.len() > MULTISTREAM_ANSWER {
            answered += 1;
        }
    }
    check!(answered > 0, "no socket got message 2: the attack never reached the handshake");
    check!(answered <= share, "{answered} of {} sockets got message 2; the address's share is {share}", stuck.len());
    Ok(())
}

pub(super) async fn connection_flood(target: &Target, scale: usize) -> Outcome {
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

/// The address the hang-ups come from.
const HANG_UP_FROM: u8 = 12;

/// Sockets that hang up mid-negotiation (after the multistream header).
/// Each one the victim admitted held a handshake slot of its address; the
/// hang-up must free it. So afterwards the address's whole share is free
/// again: as many handshakes as the share, from the same address at once,
/// each get message 2. A slot kept by a hang-up would refuse one of them
/// for good.
pub(super) async fn hang_ups(target: &Target, scale: usize) -> Outcome {
    for _ in 0..100 * scale {
        if let Ok(mut stream) = raw_from(HANG_UP_FROM, target.addr).await {
            drop(stream.write_all(b"\x13/multistream/1.0.0\n").await);
        }
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut most = 0;
    while tokio::time::Instant::now() < deadline {
        most = most.max(handshakes_admitted_at_once(target).await);
        if most == SHARE_PER_IP {
            return Ok(());
        }
        // The hang-ups spent the address's accept tokens (and so did this
        // try): a socket past them is refused at once, like one past the
        // share. Come back once the share's worth has refilled.
        tokio::time::sleep(Duration::from_millis(1250 * SHARE_PER_IP as u64 / ACCEPT_RATE)).await;
    }
    Err(format!(
        "after the hang-ups, at most {most} of {SHARE_PER_IP} handshakes from their address were admitted at once \
         (the hang-ups kept slots)"
    ))
}

/// How many of [`SHARE_PER_IP`] handshakes, begun at once from
/// [`HANG_UP_FROM`], the victim answers with message 2. They are abandoned
/// (hung up) afterwards.
async fn handshakes_admitted_at_once(target: &Target) -> usize {
    let mut sockets = Vec::new();
    for _ in 0..SHARE_PER_IP {
        if let Ok(mut stream) = raw_from(HANG_UP_FROM, target.addr).await {
            drop(stream.write_all(&hello()).await); // a refused socket may already be closed
            sockets.push(stream);
        }
    }
    let mut admitted = 0;
    for stream in &mut sockets {
        if got_message_2(stream, UPGRADE_TIMEOUT).await {
            admitted += 1;
        }
    }
    admitted
}
