//! `noise::Config`: the Noise upgrade as core's [`SecurityUpgrade`].
//!
//! It holds the node's identity, its X25519 static key with the signed
//! identity payload (made on first use and kept: one key generation and
//! one signature per node, not per connection), the handshake timeout, and
//! an optional observer of handshake messages.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use strata_core::{ByteStream, Keypair, PeerId, SecurityUpgrade};

use crate::{
    Error, NoiseStream, Result,
    handshake::{self, StaticKey},
};

/// One handshake message as one side saw it: what
/// [`Config::with_handshake_observer`] reports. The wire shows only
/// ciphertext from message 2 on; this is the plaintext, for debugging and
/// teaching (the anatomy example decodes it).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HandshakeMessage {
    /// 1, 2 or 3: `-> e`, `<- e, ee, s, es`, `-> s, se`.
    pub number: u8,
    /// Whether this side wrote it (otherwise it read it).
    pub sent: bool,
    /// Whether this side is the initiator (the dialer).
    pub initiator: bool,
    /// The payload in plaintext: empty for message 1, the encoded
    /// `NoiseHandshakePayload` (identity key and signature) for 2 and 3.
    pub payload: Vec<u8>,
    /// The remote's X25519 static key, once the handshake has carried it
    /// (from message 2 at the initiator, message 3 at the responder).
    pub remote_static: Option<Vec<u8>>,
}

/// A callback told of every handshake message (see
/// [`Config::with_handshake_observer`]).
pub type HandshakeObserver = Arc<dyn Fn(&HandshakeMessage) + Send + Sync>;

/// The Noise security upgrade. Cheap to clone.
#[derive(Clone)]
pub struct Config {
    identity: Arc<Keypair>,
    static_key: Arc<OnceLock<StaticKey>>,
    handshake_timeout: Duration,
    observer: Option<HandshakeObserver>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("peer", &self.identity.peer_id())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The upgrade for a node with this identity. The handshake timeout
    /// defaults to 10 s.
    pub fn new(identity: &Keypair) -> Self {
        Self {
            identity: Arc::new(identity.clone()),
            static_key: Arc::new(OnceLock::new()),
            handshake_timeout: Duration::from_secs(10),
            observer: None,
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

    /// The node's X25519 static public key: the key every handshake of
    /// this node proves, signed by its identity. Made now if no handshake
    /// has made it yet (so a program can fix the moment it is drawn).
    pub fn static_public_key(&self) -> Result<Vec<u8>> {
        Ok(self.static_key()?.public.clone())
    }

    /// How long a handshake may take before it fails with
    /// [`Error::Timeout`] and the stream is dropped (a silent or slow peer
    /// costs no more than this).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Tells `observer` of every handshake message this node sends or
    /// receives, with its plaintext payload (the identity proofs) and the
    /// remote's static key once known. For debugging and teaching: it sees
    /// what the encryption hides from the wire, though nothing secret.
    #[must_use]
    pub fn with_handshake_observer(mut self, observer: impl Fn(&HandshakeMessage) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Runs a handshake under the timeout. The handshake's state (some
    /// kilobytes) goes on the heap, so the futures handed out stay small.
    async fn bounded<T>(&self, handshake: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.handshake_timeout, Box::pin(handshake))
            .await
            .map_err(|source| Error::Timeout { after: self.handshake_timeout, source })?
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
        self.bounded(handshake::initiator(stream, key, expected, self.observer.clone())).await
    }

    async fn secure_inbound<S: ByteStream>(&self, stream: S) -> Result<(PeerId, NoiseStream<S>)> {
        let key = self.static_key()?;
        self.bounded(handshake::responder(stream, key, self.observer.clone())).await
    }
}
