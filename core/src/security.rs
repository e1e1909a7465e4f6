//! `SecurityUpgrade`: authenticating and encrypting a raw stream.
//!
//! The second layer of a connection (`libp2p-connections.md`, "Upgrading
//! connections"): after multistream-select has agreed on the upgrade's
//! protocol name (`/noise`), the upgrade runs its handshake over the raw
//! stream and yields an encrypted stream together with the remote's
//! *verified* [`PeerId`]: proven by a signature of the remote's identity
//! key, not taken on its word.
//!
//! ```text
//! raw stream ──secure_outbound(expected)──▶ (remote PeerId, encrypted stream)
//! ```
//!
//! The upgrade holds the local identity ([`crate::Keypair`]) in its own
//! configuration.

use std::future::Future;

use crate::{ByteStream, PeerId};

/// A security protocol: a handshake that turns a raw stream into an
/// encrypted, authenticated one.
pub trait SecurityUpgrade: Clone + Send + Sync + 'static {
    /// The protocol name negotiated with multistream-select (`"/noise"`).
    const PROTOCOL_NAME: &'static str;

    /// The encrypted stream over an `S`.
    type Output<S: ByteStream>: ByteStream;
    /// What a handshake can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs the handshake as the dialer (initiator). When `expected` is
    /// `Some`, a remote that authenticates as any other peer is an error
    /// and the stream is closed (a dial of a `/p2p/<id>` address).
    fn secure_outbound<S: ByteStream>(
        &self,
        stream: S,
        expected: Option<PeerId>,
    ) -> impl Future<Output = Result<(PeerId, Self::Output<S>), Self::Error>> + Send;

    /// Runs the handshake as the listener (responder).
    fn secure_inbound<S: ByteStream>(
        &self,
        stream: S,
    ) -> impl Future<Output = Result<(PeerId, Self::Output<S>), Self::Error>> + Send;
}
