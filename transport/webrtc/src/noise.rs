//! The Noise XX handshake that authenticates a WebRTC-direct connection,
//! as a sans-IO state machine.
//!
//! Spec: `libp2p-webrtc-direct.md`, "Connection Security", with
//! `libp2p-noise.md` for the handshake and its payload. DTLS gave us an
//! encrypted channel to *some* certificate; Noise proves which libp2p peer
//! holds it. It runs on data channel 0 (negotiated, both sides open it),
//! with roles reversed from the connection's:
//!
//! ```text
//! server (listener, DTLS server)  = Noise initiator: -> e            (msg 1)
//! client (dialer, DTLS client)    = Noise responder: <- e, ee, s, es (msg 2, client's identity)
//! server                                             -> s, se        (msg 3, server's identity)
//! prologue = "libp2p-webrtc-noise:" ‖ mh(client fingerprint) ‖ mh(server fingerprint)
//! ```
//!
//! The prologue makes a handshake fail unless both sides saw the same two
//! DTLS certificates, so a man in the middle of DTLS cannot relay it. Each
//! Noise message travels as `<u16 big-endian length><message>` inside the
//! data channel's framing (`message.rs`); only the handshake runs on
//! Noise: once it is done, the channel is closed and DTLS protects the
//! data.
//!
//! Bytes in, frames out; the connection driver carries them.

use prost::Message as _;
use strata_core::{Keypair, PeerId, PeerIdMismatch, PublicKey};

/// The one Noise protocol libp2p speaks.
const PROTOCOL_NAME: &str = "Noise_XX_25519_ChaChaPoly_SHA256";

/// What an identity key signs: this prefix, then the Noise static key.
const STATIC_KEY_DOMAIN: &[u8] = b"noise-libp2p-static-key:";

/// The longest handshake message we read: keys, tags and an identity
/// payload (an RSA key and signature is the largest) fit in far less.
const MAX_HANDSHAKE_MESSAGE: usize = 8 * 1024;

/// What can go wrong in the handshake.
#[derive(Debug, thiserror::Error)]
pub enum NoiseError {
    /// The Noise state machine refused a message (decryption failed: a
    /// different prologue, i.e. different certificates, lands here).
    #[error("noise: {0}")]
    Noise(#[from] snow::Error),
    /// A handshake message over the limit.
    #[error("noise handshake message of {0} bytes is too long")]
    TooLong(usize),
    /// The payload is malformed.
    #[error("invalid noise handshake payload: {0}")]
    InvalidPayload(&'static str),
    /// The payload's signature does not cover the Noise static key.
    #[error("the identity signature of {peer} does not match its noise key")]
    BadSignature {
        /// Who claimed it.
        peer: PeerId,
    },
    /// The remote proved another identity than the one dialed.
    #[error(transparent)]
    PeerIdMismatch(#[from] PeerIdMismatch),
}

/// `NoiseHandshakePayload` (extensions unused here).
#[derive(Clone, PartialEq, prost::Message)]
struct Payload {
    #[prost(bytes = "vec", optional, tag = "1")]
    identity_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    identity_sig: Option<Vec<u8>>,
}

/// One side's handshake in progress.
pub(crate) struct Handshake {
    state: snow::HandshakeState,
    payload: Vec<u8>,
    inbox: Vec<u8>,
    expected: Option<PeerId>,
    received: u8,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake").field("received", &self.received).finish_non_exhaustive()
    }
}

impl Handshake {
    /// A handshake for `identity`, with a fresh static key. The server is
    /// the `initiator`; `expected` is who a dialer dialed.
    pub(crate) fn new(
        identity: &Keypair,
        initiator: bool,
        prologue: &[u8],
        expected: Option<PeerId>,
    ) -> Result<Self, NoiseError> {
        let params = PROTOCOL_NAME.parse()?;
        let static_key = snow::Builder::new(PROTOCOL_NAME.parse()?).generate_keypair()?;
        let builder = snow::Builder::new(params).prologue(prologue)?.local_private_key(&static_key.private)?;
        let state = if initiator { builder.build_initiator()? } else { builder.build_responder()? };
        let signature = identity.sign(&[STATIC_KEY_DOMAIN, &static_key.public].concat());
        let payload =
            Payload { identity_key: Some(identity.public().encode_protobuf()), identity_sig: Some(signature) };
        Ok(Self { state, payload: payload.encode_to_vec(), inbox: Vec::new(), expected, received: 0 })
    }

    /// The initiator's first message (nothing for the responder).
    pub(crate) fn start(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), NoiseError> {
        if self.state.is_initiator() {
            out.push(self.write(&[])?);
        }
        Ok(())
    }

    /// Takes received bytes; pushes frames to send onto `out`; returns the
    /// remote's peer id once the handshake is complete.
    pub(crate) fn on_data(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) -> Result<Option<PeerId>, NoiseError> {
        self.inbox.extend_from_slice(data);
        loop {
            let Some(&[high, low]) = self.inbox.get(..2) else { return Ok(None) };
            let len = usize::from(u16::from_be_bytes([high, low]));
            if len > MAX_HANDSHAKE_MESSAGE {
                return Err(NoiseError::TooLong(len));
            }
            let Some(message) = self.inbox.get(2..2 + len) else { return Ok(None) };
            let mut buf = vec![0; len];
            let payload_len = self.state.read_message(message, &mut buf)?;
            self.inbox.drain(..2 + len);
            self.received += 1;
            match (self.state.is_initiator(), self.received) {
                // The responder's msg 2: verify it, answer with msg 3.
                (true, 1) => {
                    let remote = self.verify(&buf[..payload_len])?;
                    let payload = self.payload.clone();
                    out.push(self.write(&payload)?);
                    return Ok(Some(remote));
                }
                // The initiator's msg 1: answer with msg 2.
                (false, 1) => {
                    let payload = self.payload.clone();
                    out.push(self.write(&payload)?);
                }
                // The initiator's msg 3.
                (false, 2) => {
                    let remote = self.verify(&buf[..payload_len])?;
                    if let Some(expected) = self.expected.filter(|expected| *expected != remote) {
                        return Err(PeerIdMismatch { expected, actual: remote }.into());
                    }
                    return Ok(Some(remote));
                }
                _ => return Err(NoiseError::InvalidPayload("message after the handshake")),
            }
        }
    }

    fn write(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let mut buf = vec![0; payload.len() + 128];
        let len = self.state.write_message(payload, &mut buf)?;
        let len16 = u16::try_from(len).map_err(|_| NoiseError::TooLong(len))?;
        let mut frame = Vec::with_capacity(2 + len);
        frame.extend_from_slice(&len16.to_be_bytes());
        frame.extend_from_slice(&buf[..len]);
        Ok(frame)
    }

    /// Checks the remote's payload against the static key Noise
    /// authenticated; returns the identity it proves.
    fn verify(&self, payload: &[u8]) -> Result<PeerId, NoiseError> {
        let remote_static = self.state.get_remote_static().ok_or(NoiseError::InvalidPayload("no remote static key"))?;
        let payload = Payload::decode(payload).map_err(|_| NoiseError::InvalidPayload("not a payload"))?;
        let key = payload.identity_key.ok_or(NoiseError::InvalidPayload("no identity key"))?;
        let signature = payload.identity_sig.ok_or(NoiseError::InvalidPayload("no identity signature"))?;
        let key = PublicKey::decode_protobuf(&key).map_err(|_| NoiseError::InvalidPayload("bad identity key"))?;
        if !key.verify(&[STATIC_KEY_DOMAIN, remote_static].concat(), &signature) {
            return Err(NoiseError::BadSignature { peer: key.to_peer_id() });
        }
        Ok(key.to_peer_id())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Runs both sides to the end (or the first error), passing frames.
    fn run(server: &mut Handshake, client: &mut Handshake) -> Result<(PeerId, PeerId), NoiseError> {
        let mut to_client = Vec::new();
        server.start(&mut to_client)?;
        let mut to_server = Vec::new();
        client.start(&mut to_server)?;
        assert!(to_server.is_empty(), "the client (responder) speaks second");
        let (mut server_done, mut client_done) = (None, None);
        for _ in 0..4 {
            for frame in std::mem::take(&mut to_client) {
                // Split frames in two: the handshake reads a byte stream.
                let (a, b) = frame.split_at(frame.len() / 2);
                assert_eq!(client.on_data(a, &mut to_server)?, None);
                client_done = client_done.or(client.on_data(b, &mut to_server)?);
            }
            for frame in std::mem::take(&mut to_server) {
                server_done = server_done.or(server.on_data(&frame, &mut to_client)?);
            }
        }
        Ok((server_done.unwrap(), client_done.unwrap()))
    }

    #[test]
    fn both_sides_learn_each_other() {
        let (server_key, client_key) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let prologue = b"libp2p-webrtc-noise:same";
        let mut server = Handshake::new(&server_key, true, prologue, None).unwrap();
        let mut client = Handshake::new(&client_key, false, prologue, Some(server_key.peer_id())).unwrap();
        let (server_saw, client_saw) = run(&mut server, &mut client).unwrap();
        assert_eq!((server_saw, client_saw), (client_key.peer_id(), server_key.peer_id()));
    }

    #[test]
    fn different_prologues_fail() {
        let (server_key, client_key) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let mut server = Handshake::new(&server_key, true, b"one", None).unwrap();
        let mut client = Handshake::new(&client_key, false, b"two", None).unwrap();
        assert!(matches!(run(&mut server, &mut client), Err(NoiseError::Noise(_))));
    }

    #[test]
    fn a_dialer_refuses_an_unexpected_peer() {
        let (server_key, client_key) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let wanted = Keypair::generate_ed25519().peer_id();
        let mut server = Handshake::new(&server_key, true, b"p", None).unwrap();
        let mut client = Handshake::new(&client_key, false, b"p", Some(wanted)).unwrap();
        match run(&mut server, &mut client) {
            Err(NoiseError::PeerIdMismatch(mismatch)) => {
                assert_eq!((mismatch.expected, mismatch.actual), (wanted, server_key.peer_id()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_and_garbage_messages_are_refused() {
        let key = Keypair::generate_ed25519();
        let mut client = Handshake::new(&key, false, b"p", None).unwrap();
        let mut out = Vec::new();
        assert!(matches!(client.on_data(&[0xff, 0xff], &mut out), Err(NoiseError::TooLong(65535))));
        let mut client = Handshake::new(&key, false, b"p", None).unwrap();
        assert!(client.on_data(&[0, 3, 1, 2, 3], &mut out).is_err());
        assert!(out.is_empty());
    }
}
