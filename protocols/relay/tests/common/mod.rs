//! Helpers for the hop service tests: a client that reserves and connects
//! through `strata_relay::client`, one that speaks the hop protocol by
//! hand, and a target that accepts circuits and echoes.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // each test file uses a part

use strata_core::PeerId;
use strata_host::{Host, Stream};
use strata_relay::{Error, HOP_PROTOCOL, HopMessage, STOP_PROTOCOL, Status, client, codec};
use strata_testkit::{address_of, within};
use tokio::{io::AsyncWriteExt, sync::mpsc};

/// A new hop stream from `client` to `relay` (dialing it first).
pub async fn hop_stream(client: &Host, relay: &Host) -> Stream {
    within(client.dial(address_of(relay))).await.unwrap();
    within(client.open_stream(relay.peer_id(), &[HOP_PROTOCOL])).await.unwrap()
}

/// Sends `request` on a new hop stream and returns the stream and the answer.
pub async fn hop(client: &Host, relay: &Host, request: &HopMessage) -> (Stream, HopMessage) {
    let mut stream = hop_stream(client, relay).await;
    codec::write_hop(&mut stream, request).await.unwrap();
    let answer = within(codec::read_hop(&mut stream)).await.unwrap();
    (stream, answer)
}

/// The status of an answer.
pub fn status_of(answer: &HopMessage) -> Status {
    match answer {
        HopMessage::Status { status, .. } => *status,
        other => panic!("not a status: {other:?}"),
    }
}

/// The status an exchange ended with.
fn outcome<T>(result: Result<T, Error>) -> Status {
    match result {
        Ok(_) => Status::Ok,
        Err(Error::Refused(status)) => status,
        Err(error) => panic!("exchange failed: {error}"),
    }
}

/// `client` reserves on `relay`; returns the status.
pub async fn reserve(client: &Host, relay: &Host) -> Status {
    let mut stream = hop_stream(client, relay).await;
    outcome(within(client::reserve(&mut stream)).await)
}

/// `client` asks `relay` for a circuit to `target`; returns the stream (a
/// circuit on `OK`) and the status.
pub async fn connect(client: &Host, relay: &Host, target: PeerId) -> (Stream, Status) {
    let mut stream = hop_stream(client, relay).await;
    let status = outcome(within(client::connect(&mut stream, target)).await);
    (stream, status)
}

/// Makes `target` accept every circuit and echo what comes through it;
/// each initiator's id goes to the returned channel.
pub fn accept_and_echo(target: &Host) -> mpsc::UnboundedReceiver<PeerId> {
    let (tx, rx) = mpsc::unbounded_channel();
    target
        .handle(STOP_PROTOCOL, move |mut stream| {
            let tx = tx.clone();
            async move {
                let (initiator, _limit) = client::accept_stop(&mut stream).await.map_err(std::io::Error::other)?;
                let _ = tx.send(initiator);
                let (mut reader, mut writer) = tokio::io::split(stream);
                tokio::io::copy(&mut reader, &mut writer).await?;
                writer.shutdown().await
            }
        })
        .unwrap();
    rx
}
