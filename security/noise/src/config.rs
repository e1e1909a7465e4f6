//! `noise::Config`: the Noise upgrade as core's [`SecurityUpgrade`].
//!
//! It holds the node's identity and the handshake timeout; every
//! connection gets a fresh X25519 static key (the spec allows it, and
//! nothing secret outlives the connection).

use std::{sync::Arc, time::Duration};

use strata_core::{ByteStream, Keypair, PeerId, SecurityUpgrade};

use crate::{Error, NoiseStream, Result, handshake};

/// The Noise security upgrade. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Config {
    identity: Arc<Keypair>,
    handshake_timeout: Duration,
}

impl Config {
    /// The upgrade for a node with this identity. The handshake timeout
    /// defaults to 10 s.
    pub fn new(identity: &Keypair) -> Self {
        Self { identity: Arc::new(identity.clone()), handshake_timeout: Duration::from_secs(10) }
    }

    /// How long a handshake may take before it fails with
    /// [`Error::Timeout`] and the stream is dropped (a silent or slow peer
    /// costs no more than this).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Runs a handshake under the timeout. The handshake's state (some
    /// kilobytes) goes on the heap, so the futures handed out stay small.
    async fn bounded<T>(&self, handshake: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.handshake_timeout, Box::pin(handshake))
            .await
            .map_err(|_| Error::Timeout(self.handshake_timeout))?
    }
}

impl SecurityUpgrade for Config {
    const PROTOCOL_NAME: &'static str = "/noise";

    type Output<S: ByteStream> = NoiseStream<S>;
    type Error = Error;

    async fn secure_outbound<S: ByteStream>(
        &self,
        stream: S,
        expected: Option<PeerId>,
    ) -> Result<(PeerId, NoiseStream<S>)> {
        self.bounded(handshake::initiator(stream, &self.identity, expected)).await
    }

    async fn secure_inbound<S: ByteStream>(&self, stream: S) -> Result<(PeerId, NoiseStream<S>)> {
        self.bounded(handshake::responder(stream, &self.identity)).await
    }
}
