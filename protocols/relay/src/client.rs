//! The client's half of each exchange, over any byte stream: reserving
//! and connecting on a hop stream, and accepting a circuit on a stop
//! stream.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Reservation", "Connection
//! Initiation" and "Stop Protocol". Each function writes its request (or
//! reads the relay's), reads the answer, and turns every outcome other than
//! `OK` into an [`Error`]:
//!
//! ```text
//! reserve(hop)         RESERVE ─▶ ◀─ STATUS OK + Reservation (+ Limit)   ─▶ (Reservation, Limit)
//! connect(hop, B)      CONNECT B ─▶ ◀─ STATUS OK (+ Limit)               ─▶ the stream is now the circuit
//! accept_stop(stop)    ◀─ CONNECT from B (+ Limit) ─▶ STATUS OK          ─▶ the stream is now the circuit
//! ```
//!
//! After `connect` and `accept_stop` the stream carries the relayed bytes;
//! the caller upgrades it (Noise, a muxer) like any raw connection. These
//! are the building blocks of the client source (the `/p2p-circuit`
//! dialer and listener), which drives them on host streams.

use strata_core::PeerId;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Error, HopMessage, Limit, Peer, Reservation, Result, Status, StopMessage, codec};

/// Asks the relay at the other end of `hop` for a reservation (or renews
/// it); returns it and the limits the relay applies to circuits.
pub async fn reserve<S>(hop: &mut S) -> Result<(Reservation, Option<Limit>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    codec::write_hop(hop, &HopMessage::Reserve).await?;
    match codec::read_hop(hop).await? {
        HopMessage::Status { status: Status::Ok, reservation: Some(reservation), limit } => Ok((reservation, limit)),
        HopMessage::Status { status: Status::Ok, reservation: None, .. } => Err(Error::MissingReservation),
        HopMessage::Status { status, .. } => Err(Error::Refused(status)),
        _ => Err(Error::Unexpected { wanted: "STATUS" }),
    }
}

/// Asks the relay at the other end of `hop` for a circuit to `target`;
/// on success `hop` is the circuit, and the limits of it are returned.
pub async fn connect<S>(hop: &mut S, target: PeerId) -> Result<Option<Limit>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    codec::write_hop(hop, &HopMessage::Connect { peer: Peer { id: target, addrs: Vec::new() } }).await?;
    match codec::read_hop(hop).await? {
        HopMessage::Status { status: Status::Ok, limit, .. } => Ok(limit),
        HopMessage::Status { status, .. } => Err(Error::Refused(status)),
        _ => Err(Error::Unexpected { wanted: "STATUS" }),
    }
}

/// Takes the relay's `CONNECT` on a `stop` stream and accepts it; on
/// success `stop` is the circuit, and the initiator and the limits are
/// returned. A message of another type is answered `UNEXPECTED_MESSAGE`,
/// an undecodable one `MALFORMED_MESSAGE`.
pub async fn accept_stop<S>(stop: &mut S) -> Result<(PeerId, Option<Limit>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (peer, limit) = match codec::read_stop(stop).await {
        Ok(StopMessage::Connect { peer, limit }) => (peer.id, limit),
        Ok(StopMessage::Status(_)) => {
            codec::write_stop(stop, &StopMessage::Status(Status::UnexpectedMessage)).await?;
            return Err(Error::Unexpected { wanted: "CONNECT" });
        }
        Err(Error::Decode(error)) => {
            codec::write_stop(stop, &StopMessage::Status(Status::MalformedMessage)).await?;
            return Err(Error::Decode(error));
        }
        Err(error) => return Err(error),
    };
    codec::write_stop(stop, &StopMessage::Status(Status::Ok)).await?;
    Ok((peer, limit))
}

#[cfg(test)]
mod tests;
