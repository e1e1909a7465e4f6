//! Hole punching in `peer` (`INTEROP.md`: `hole_punch`, `--no-hole-punch`,
//! `dial --listen`): `DCUtR` on every node unless `--no-hole-punch`, so
//! that a connection made through a relay is upgraded to a direct one
//! when both sides can be punched through.
//!
//! ```text
//! relayed connection ──▶ dcutr::Dcutr (the side that accepted it initiates)
//!                           └─▶ `hole_punch` {peer_id, result, addr, attempts, ms, reason}
//!                           └─▶ a direct connection: `connected` {relayed: false}
//! ```

use std::time::Duration;

use serde_json::json;
use strata::{Host, Multiaddr, PeerId, dcutr};

use crate::{Cli, emit};

/// `DCUtR` on `host`, printing every outcome; `None` with `--no-hole-punch`.
pub(crate) fn start(cli: &Cli, host: &Host) -> Result<Option<dcutr::Dcutr>, String> {
    if cli.no_hole_punch {
        return Ok(None);
    }
    let config = dcutr::Config::default().with_private_addrs(cli.private_addrs);
    let dcutr = dcutr::Dcutr::attach(host, config).map_err(|e| format!("DCUtR: {e}"))?;
    tokio::spawn(print_outcomes(dcutr.events()));
    Ok(Some(dcutr))
}

async fn print_outcomes(mut events: tokio::sync::broadcast::Receiver<dcutr::Event>) {
    loop {
        match events.recv().await {
            Ok(dcutr::Event::HolePunch { peer, result, .. }) => print_outcome(peer, &result),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
        }
    }
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

fn print_outcome(peer: PeerId, result: &dcutr::Outcome) {
    let fields = match result {
        Ok(success) => json!({
            "peer_id": peer.to_string(),
            "result": "ok",
            "addr": success.addr.to_string(),
            "attempts": success.attempts,
            "ms": millis(success.elapsed),
        }),
        Err(failure) => json!({
            "peer_id": peer.to_string(),
            "result": "failed",
            "reason": failure.reason.as_str(),
            "attempts": failure.attempts,
            "ms": millis(failure.elapsed),
        }),
    };
    emit("hole_punch", fields);
}

/// Waits at most `limit` for the hole punch with `peer` to end (subscribe
/// with `events` before the relayed connection is made, so that an outcome
/// is not missed); the direct connection's address if it worked.
pub(crate) async fn settled(
    mut events: tokio::sync::broadcast::Receiver<dcutr::Event>,
    peer: PeerId,
    limit: Duration,
) -> Option<Multiaddr> {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(dcutr::Event::HolePunch { peer: with, result, .. }) if with == peer => {
                    return result.ok().map(|success| success.addr);
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                _ => {}
            }
        }
    };
    tokio::time::timeout(limit, wait).await.ok().flatten()
}
