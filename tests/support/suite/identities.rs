//! Identities coming and going: many peers, each connecting once and
//! leaving. Part of `suite.rs`.

use std::time::Duration;

use futures::StreamExt as _;
use strata::{Keypair, PeerId};

use super::{Outcome, Target, holds_within};

/// Peers of fresh identities connect and leave, eight at a time; once they
/// have left, the victim holds no connection of any, and its pubsub keeps
/// state for no peer but the connected ones. (Its peer store remembers
/// them on purpose, within its bounds: entries, bytes, a time to live.)
pub(super) async fn identity_churn(target: &Target, scale: usize) -> Outcome {
    let addr = target.victim.listen_addrs()[0].clone().with_p2p(target.victim.peer_id()).map_err(|e| e.to_string())?;
    let tried = 50 * scale;
    // Eight in flight, one starting every 25 ms at most: below the
    // per-address handshake share and accept rate (16, and 50 a second),
    // which the well-behaved peer (also on 127.0.0.1) needs too, during
    // this attack and the next. This attack is about identities coming and
    // going; the gate has attacks of its own.
    let started = tokio::time::Instant::now();
    let churned: Vec<PeerId> = futures::stream::iter(0..tried)
        .map(|n| {
            let addr = addr.clone();
            let start = started + Duration::from_millis(25) * u32::try_from(n).unwrap_or(u32::MAX);
            async move {
                // The attack's pace, not a wait on anything.
                tokio::time::sleep_until(start).await;
                let host = strata::builder(&Keypair::generate_ed25519()).build().await.ok()?;
                let connected = host.dial(addr).await.is_ok();
                host.shutdown().await;
                connected.then(|| host.peer_id())
            }
        })
        .buffer_unordered(8)
        .filter_map(std::future::ready)
        .collect()
        .await;
    check!(!churned.is_empty(), "none of {tried} identities connected: the attack never reached the node");
    let victim = &target.victim;
    let still_connected = || churned.iter().filter(|peer| victim.connection_count(**peer) > 0).count();
    check!(
        holds_within(async || still_connected() == 0).await,
        "{} of {} peers that left are still connected",
        still_connected(),
        churned.len()
    );
    // The well-behaved peer comes and goes meanwhile: pubsub may know it
    // a moment longer than the host, never for good.
    let tracked_beyond_connected = || target.pubsub.tracked_peers().saturating_sub(victim.connected_peers().len());
    check!(
        holds_within(async || tracked_beyond_connected() == 0).await,
        "pubsub keeps state for {} peers that are not connected",
        tracked_beyond_connected()
    );
    Ok(())
}
