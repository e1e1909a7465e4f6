//! The XX handshake, driven over a byte stream.
//!
//! Spec: `libp2p-noise.md`, "XX", "Wire Format" and "Encryption and I/O".
//! Three messages, each framed by a 2-byte big-endian length:
//!
//! ```text
//! initiator (dialer)                          responder (listener)
//!   -> e                      msg 1: ephemeral key, no payload
//!                             <- e, ee, s, es   msg 2: ephemeral + (encrypted) static key,
//!                                                      payload = responder's identity proof
//!   -> s, se                  msg 3: (encrypted) static key,
//!                                    payload = initiator's identity proof
//! ```
//!
//! After message 2 the initiator knows, and has verified, who the
//! responder is; if it is not the peer that was dialed, the initiator stops
//! there, before message 3 would reveal its own identity. After message 3
//! both sides hold two cipher states (one per direction) and the stream
//! becomes a [`NoiseStream`].

use strata_core::{ByteStream, Keypair, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::{
    Error, HandshakeMessage, HandshakeObserver, NoiseStream, Result,
    payload::{self, NoiseHandshakePayload},
    resolver::Resolver,
};

/// The one Noise protocol libp2p speaks (spec, "Noise Protocol Name").
pub(crate) const PROTOCOL_NAME: &str = "Noise_XX_25519_ChaChaPoly_SHA256";

/// The longest Noise message (spec, "Wire Format").
pub(crate) const MAX_MESSAGE_LEN: usize = 65535;

/// The longest message 1 a responder reads: the 32-byte ephemeral key and
/// room for a small payload no libp2p implementation sends.
pub(crate) const MAX_MESSAGE_1_LEN: usize = 1024;

/// The most an XX message adds to its payload: an ephemeral key (32), an
/// encrypted static key (32 + a 16-byte tag) and the payload's tag (16).
const MESSAGE_OVERHEAD: usize = 32 + 48 + 16;

/// A node's X25519 static key and its signed identity payload: made once
/// per [`crate::Config`] and used by every handshake of that node (as
/// rust-libp2p does; the spec allows the static key to live as long as the
/// identity, and each session still gets fresh ephemeral keys).
pub(crate) struct StaticKey {
    private: Zeroizing<Vec<u8>>,
    pub(crate) public: Vec<u8>,
    payload: NoiseHandshakePayload,
}

impl StaticKey {
    /// A fresh static key, signed by `identity`.
    pub(crate) fn generate(identity: &Keypair) -> Result<Self> {
        let keypair = snow::Builder::with_resolver(PROTOCOL_NAME.parse()?, Resolver::boxed()).generate_keypair()?;
        let payload = payload::signed_payload(identity, &keypair.public);
        Ok(Self { private: Zeroizing::new(keypair.private), public: keypair.public, payload })
    }
}

impl std::fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKey").finish_non_exhaustive() // nothing secret printed
    }
}

/// A handshake in progress: the Noise state, one message buffer, and who
/// to tell about each message.
struct Handshake {
    state: snow::HandshakeState,
    local_payload: NoiseHandshakePayload,
    buf: Vec<u8>,
    observer: Option<HandshakeObserver>,
    messages: u8,
}

impl Handshake {
    /// A fresh X25519 static key, signed by `identity`, in a new state.
    #[cfg(test)]
    fn new(identity: &Keypair, initiator: bool) -> Result<Self> {
        Self::with_static(&StaticKey::generate(identity)?, initiator, None)
    }

    /// A new state with the node's static key.
    fn with_static(key: &StaticKey, initiator: bool, observer: Option<HandshakeObserver>) -> Result<Self> {
        let builder =
            snow::Builder::with_resolver(PROTOCOL_NAME.parse()?, Resolver::boxed()).local_private_key(&key.private)?;
        let state = if initiator { builder.build_initiator()? } else { builder.build_responder()? };
        Ok(Self { state, local_payload: key.payload.clone(), buf: Vec::new(), observer, messages: 0 })
    }

    /// Counts a message and tells the observer, if any, what it carried.
    fn observe(&mut self, sent: bool, payload: &[u8]) {
        self.messages += 1;
        if let Some(observer) = &self.observer {
            observer(&HandshakeMessage {
                number: self.messages,
                sent,
                initiator: self.state.is_initiator(),
                payload: payload.to_vec(),
                remote_static: self.state.get_remote_static().map(<[u8]>::to_vec),
            });
        }
    }

    /// Writes the next handshake message carrying `payload`, with its
    /// length, in one write.
    async fn send<S: ByteStream>(&mut self, io: &mut S, payload: &[u8]) -> Result<()> {
        // Room for the payload and what XX adds to it (two keys, two tags),
        // never more than a message may hold: a few hundred bytes, not 64 KiB.
        self.buf.resize((payload.len() + MESSAGE_OVERHEAD).min(MAX_MESSAGE_LEN), 0);
        let len = self.state.write_message(payload, &mut self.buf)?;
        let len16 = u16::try_from(len).map_err(|_| Error::InvalidPayload("handshake message over 65535 bytes"))?;
        let mut frame = Vec::with_capacity(2 + len);
        frame.extend_from_slice(&len16.to_be_bytes());
        frame.extend_from_slice(&self.buf[..len]);
        io.write_all(&frame).await?;
        io.flush().await?;
        self.observe(true, payload);
        Ok(())
    }

    /// Reads the next handshake message; returns its decrypted payload.
    async fn recv<S: ByteStream>(&mut self, io: &mut S) -> Result<Vec<u8>> {
        self.recv_at_most(io, MAX_MESSAGE_LEN).await
    }

    /// Reads the next handshake message, refusing one longer than `max`
    /// bytes before reading its body.
    async fn recv_at_most<S: ByteStream>(&mut self, io: &mut S, max: usize) -> Result<Vec<u8>> {
        let len = usize::from(io.read_u16().await?);
        if len > max {
            return Err(Error::InvalidPayload("handshake message longer than it may be"));
        }
        let mut message = vec![0; len];
        io.read_exact(&mut message).await?;
        self.buf.resize(len, 0); // a payload is never longer than its message
        let payload_len = self.state.read_message(&message, &mut self.buf)?;
        let payload = self.buf[..payload_len].to_vec();
        self.observe(false, &payload);
        Ok(payload)
    }

    /// Verifies the remote's payload against the static key Noise received.
    fn verify_remote(&self, remote_payload: &[u8]) -> Result<PeerId> {
        let remote_static = self.state.get_remote_static().ok_or(Error::InvalidPayload("no remote static key"))?;
        Ok(payload::verify_payload(remote_payload, remote_static)?.to_peer_id())
    }

    fn finish<S>(self, io: S) -> Result<NoiseStream<S>> {
        Ok(NoiseStream::new(io, self.state.into_transport_mode()?))
    }
}

/// The dialer's side: messages 1 and 3. With `expected`, a responder that
/// proves another identity fails the handshake before message 3.
pub(crate) async fn initiator<S: ByteStream>(
    io: S,
    key: &StaticKey,
    expected: Option<PeerId>,
    observer: Option<HandshakeObserver>,
) -> Result<(PeerId, NoiseStream<S>)> {
    initiator_with(io, Handshake::with_static(key, true, observer)?, expected).await
}

async fn initiator_with<S: ByteStream>(
    mut io: S,
    mut handshake: Handshake,
    expected: Option<PeerId>,
) -> Result<(PeerId, NoiseStream<S>)> {
    handshake.send(&mut io, &[]).await?;
    let remote_payload = handshake.recv(&mut io).await?;
    let remote = handshake.verify_remote(&remote_payload)?;
    if let Some(expected) = expected.filter(|expected| *expected != remote) {
        tracing::debug!(%expected, actual = %remote, "noise: unexpected peer; closing before message 3");
        return Err(Error::PeerIdMismatch(strata_core::PeerIdMismatch { expected, actual: remote }));
    }
    let local_payload = handshake.local_payload.encode();
    handshake.send(&mut io, &local_payload).await?;
    tracing::debug!(peer = %remote, "noise: handshake complete (initiator)");
    Ok((remote, handshake.finish(io)?))
}

/// The listener's side: message 2.
pub(crate) async fn responder<S: ByteStream>(
    io: S,
    key: &StaticKey,
    observer: Option<HandshakeObserver>,
) -> Result<(PeerId, NoiseStream<S>)> {
    responder_with(io, Handshake::with_static(key, false, observer)?).await
}

async fn responder_with<S: ByteStream>(mut io: S, mut handshake: Handshake) -> Result<(PeerId, NoiseStream<S>)> {
    // Message 1 is the initiator's ephemeral key (32 bytes). XX allows a
    // payload beside it; libp2p sends none. Anything much larger is not a
    // libp2p dialer: refuse it before reading it or answering with
    // message 2 (the costly half of our work).
    handshake.recv_at_most(&mut io, MAX_MESSAGE_1_LEN).await?;
    let local_payload = handshake.local_payload.encode();
    handshake.send(&mut io, &local_payload).await?;
    let remote_payload = handshake.recv(&mut io).await?;
    let remote = handshake.verify_remote(&remote_payload)?;
    tracing::debug!(peer = %remote, "noise: handshake complete (responder)");
    Ok((remote, handshake.finish(io)?))
}

#[cfg(test)]
mod tests;
