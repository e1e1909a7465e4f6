//! `webrtc::Config`: the limits and timeouts of every WebRTC-direct
//! connection. Each bound says what happens when it is reached.

use std::time::Duration;

/// Limits and timeouts. Every value has a default; setters change one.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_channels: usize,
    pub(crate) max_buffered: usize,
    pub(crate) max_pending: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            max_channels: 256,
            max_buffered: 1024 * 1024,
            max_pending: 64,
        }
    }
}

impl Config {
    /// How long ICE, DTLS, SCTP and the Noise handshake of one connection
    /// may take together. A connection past it is dropped (only that one:
    /// each connection runs in its own task). Default: 10 s.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How many data channels (streams) may be open at once on one
    /// connection. A channel the remote opens past it is closed at once.
    /// Default: 256.
    #[must_use]
    pub fn with_max_channels(mut self, channels: usize) -> Self {
        self.max_channels = channels;
        self
    }

    /// How many bytes one channel may hold, received but unread by the
    /// application, and how many it may have queued to send. A remote that
    /// sends past the first has the stream reset (WebRTC data channels
    /// have no per-stream flow control to slow it down); a writer past the
    /// second waits. Default: 1 MiB.
    #[must_use]
    pub fn with_max_buffered(mut self, bytes: usize) -> Self {
        self.max_buffered = bytes;
        self
    }

    /// How many inbound connections a listener may have in their handshake
    /// at once. A STUN request from a new address past it is ignored (the
    /// spec's defence against a flood of ufrags, "Connection
    /// Establishment" step 6). Default: 64.
    #[must_use]
    pub fn with_max_pending(mut self, connections: usize) -> Self {
        self.max_pending = connections;
        self
    }
}
