//! Channel 0 of a WebRTC-direct connection: the Noise handshake that
//! proves which libp2p peer holds the remote DTLS certificate (spec:
//! `libp2p-webrtc-direct.md`, "Connection Security"). Started once DTLS
//! has given both fingerprints; the handshake itself is `noise.rs`, this
//! is the connection's side of it: frames in and out of channel 0, then
//! the channel closed with a FIN and the connection open.

use strata_core::PeerId;

use super::{Inner, Phase};
use crate::{
    Error, Fingerprint,
    message::{Decoder, Flag},
    noise::Handshake,
    rtc::Role,
};

impl Inner {
    /// Channel 0 is open: both fingerprints are known (DTLS is done), so
    /// the Noise handshake can start.
    pub(super) fn start_noise(&mut self) {
        let remote = self.rtc.direct_api().remote_dtls_fingerprint().and_then(Fingerprint::from_str0m);
        let Some(remote) = remote else {
            self.fail(Error::UnsupportedCerthash);
            return;
        };
        let (initiator, prologue, expected) = match &self.role {
            Role::Server { .. } => (true, crate::noise_prologue(remote, self.local_fingerprint), None),
            Role::Client { server, expected, .. } => {
                if remote != *server {
                    self.fail(Error::CerthashMismatch);
                    return;
                }
                (false, crate::noise_prologue(self.local_fingerprint, remote), *expected)
            }
        };
        let mut frames = Vec::new();
        let started = Handshake::new(&self.identity, initiator, &prologue, expected)
            .and_then(|mut handshake| handshake.start(&mut frames).map(|()| handshake));
        match started {
            Ok(handshake) => self.handshake = Some(handshake),
            Err(error) => return self.fail(error.into()),
        }
        self.send_noise(&frames);
    }

    fn send_noise(&mut self, frames: &[Vec<u8>]) {
        for frame in frames {
            if !matches!(self.send(self.noise_channel, None, frame, usize::MAX), Ok(true)) {
                self.fail(Error::Closed);
                return;
            }
        }
    }

    pub(super) fn noise_data(&mut self, data: &[u8]) {
        self.noise_decoder.extend(data);
        loop {
            let message = match self.noise_decoder.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => return,
                Err(error) if self.handshake.is_some() => return self.fail(error.into()),
                Err(_) => {
                    // After the handshake, channel 0 is done with: drop it.
                    self.noise_decoder = Decoder::new();
                    return;
                }
            };
            let Some(handshake) = self.handshake.as_mut() else {
                // After the handshake only the remote's FIN comes (the
                // spec closes the channel); acknowledge it, as on any
                // stream, for a peer that waits for the FIN_ACK.
                if message.flag == Some(Flag::Fin) {
                    let _ = self.send(self.noise_channel, Some(Flag::FinAck), &[], usize::MAX);
                }
                continue;
            };
            let mut frames = Vec::new();
            let done = handshake.on_data(&message.data, &mut frames);
            self.send_noise(&frames);
            match done {
                Ok(None) => {}
                Ok(Some(peer)) => return self.authenticated(peer),
                Err(error) => return self.fail(error.into()),
            }
        }
    }

    fn authenticated(&mut self, peer: PeerId) {
        self.handshake = None;
        // The spec closes the handshake's channel: our half, with a FIN.
        let _ = self.send(self.noise_channel, Some(Flag::Fin), &[], usize::MAX);
        tracing::debug!(%peer, "webrtc: noise handshake complete");
        self.phase = Phase::Open;
        let claimed = self.outcome.take().is_some_and(|outcome| outcome.send(Ok(peer)).is_ok());
        if !claimed {
            self.close_requested = true; // nobody waits for this connection
        }
    }
}
