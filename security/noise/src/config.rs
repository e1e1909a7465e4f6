//! `noise::Config`: the Noise upgrade as core's [`SecurityUpgrade`].
//!
//! It holds the node's identity, its X25519 static key with the signed
//! identity payload (made on first use and kept: one key generation and
//! one signature per node, not per connection), and the handshake timeout.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use strata_core::{ByteStream, Keypair, PeerId, SecurityUpgrade};

use crate::{
    Error, NoiseStream, Result,
    handshake::{self, StaticKey},
};

/// The Noise security upgrade. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Config {
    identity: Arc<Keypair>,
    static_key: Arc<OnceLock<StaticKey>>,
    handshake_timeout: Duration,
}

impl Config {
    /// The upgrade for a node with this identity. The handshake timeout
    /// defaults to 10 s.
    pub fn new(identity: &Keypair) -> Self {
        Self {
            identity: Arc::new(identity.clone()),
            static_key: Arc::new(OnceLock::new()),
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// The node's static key, made on first use (clones share it).
    fn static_key(&self) -> Result<&StaticKey> {
        if let Some(key) = self.static_key.get() {
            return Ok(key);
        }
        // Two first handshakes at once may both make one; one is kept.
        let _ = self.static_key.set(StaticKey::generate(&self.identity)?);
        self.static_key.get().ok_or(Error::InvalidPayload("no static key"))
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
        let key = self.static_key()?;
        self.bounded(handshake::initiator(stream, key, expected)).await
    }

    async fn secure_inbound<S: ByteStream>(&self, stream: S) -> Result<(PeerId, NoiseStream<S>)> {
        let key = self.static_key()?;
        self.bounded(handshake::responder(stream, key)).await
    }
}
