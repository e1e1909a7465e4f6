//! The upgrader: from a raw byte stream to a multiplexed, authenticated
//! connection.
//!
//! Spec: `libp2p-connections.md`, "Upgrading connections". Both steps are
//! negotiated with multistream-select before they run:
//!
//! ```text
//! raw stream ── multistream "/noise" ── Noise handshake ──▶ (PeerId, encrypted stream)
//!   encrypted ── multistream "/mplex/6.7.0" ── muxer ──▶ multiplexed connection
//! ```
//!
//! The dialer proposes, the listener accepts; the caller bounds the whole
//! upgrade with one timeout.

use strata_core::{ByteStream, Endpoint, PeerId, SecurityUpgrade, StreamMuxer, multistream};

use crate::{Error, Result};

/// The connection an upgrade of an `S` gives.
pub(crate) type Upgraded<Sec, Mux, S> = <Mux as StreamMuxer>::Connection<<Sec as SecurityUpgrade>::Output<S>>;

/// Upgrades a stream we dialed. With `expected`, a remote that proves
/// another identity fails the upgrade.
pub(crate) async fn outbound<S, Sec, Mux>(
    mut raw: S,
    security: &Sec,
    muxer: &Mux,
    expected: Option<PeerId>,
) -> Result<(PeerId, Upgraded<Sec, Mux, S>)>
where
    S: ByteStream,
    Sec: SecurityUpgrade,
    Mux: StreamMuxer,
{
    multistream::dialer_select(&mut raw, [Sec::PROTOCOL_NAME]).await.map_err(Error::negotiation)?;
    let (peer, mut secure) = security.secure_outbound(raw, expected).await.map_err(Error::security)?;
    multistream::dialer_select(&mut secure, [Mux::PROTOCOL_NAME]).await.map_err(Error::negotiation)?;
    let connection = muxer.upgrade(secure, Endpoint::Dialer).await.map_err(Error::muxer)?;
    Ok((peer, connection))
}

/// Upgrades a stream we accepted.
pub(crate) async fn inbound<S, Sec, Mux>(
    mut raw: S,
    security: &Sec,
    muxer: &Mux,
) -> Result<(PeerId, Upgraded<Sec, Mux, S>)>
where
    S: ByteStream,
    Sec: SecurityUpgrade,
    Mux: StreamMuxer,
{
    multistream::listener_select(&mut raw, &[Sec::PROTOCOL_NAME]).await.map_err(Error::negotiation)?;
    let (peer, mut secure) = security.secure_inbound(raw).await.map_err(Error::security)?;
    multistream::listener_select(&mut secure, &[Mux::PROTOCOL_NAME]).await.map_err(Error::negotiation)?;
    let connection = muxer.upgrade(secure, Endpoint::Listener).await.map_err(Error::muxer)?;
    Ok((peer, connection))
}
