//! `quic::Config`: the limits and timeouts of every QUIC connection.
//!
//! The defaults are rust-libp2p's (`libp2p-quic`), so that the two behave
//! alike on the same network.

use std::time::Duration;

/// Limits and timeouts. Every value has a default; setters change one.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) keep_alive: Duration,
    pub(crate) max_streams: u32,
    pub(crate) stream_receive_window: u32,
    pub(crate) connection_receive_window: u32,
    pub(crate) hole_punch_duration: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
            max_streams: 256,
            stream_receive_window: 10_000_000,
            connection_receive_window: 15_000_000,
            hole_punch_duration: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// How long the QUIC and TLS handshake of a dial or an accepted
    /// connection may take. Default: 5 s.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a connection may hear nothing before it is dropped.
    /// Default: 10 s (kept alive by [`with_keep_alive`](Self::with_keep_alive)).
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How often an otherwise silent connection sends a packet, so that
    /// the idle timeout does not end a connection the host keeps. Default:
    /// 5 s.
    #[must_use]
    pub fn with_keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// How many streams the remote may have open at once on one
    /// connection. Default: 256.
    #[must_use]
    pub fn with_max_streams(mut self, streams: u32) -> Self {
        self.max_streams = streams;
        self
    }

    /// How many bytes one stream may have in flight to us, unread. Default:
    /// 10 MB.
    #[must_use]
    pub fn with_stream_receive_window(mut self, bytes: u32) -> Self {
        self.stream_receive_window = bytes;
        self
    }

    /// How many bytes all streams of a connection together may have in
    /// flight to us, unread. Default: 15 MB.
    #[must_use]
    pub fn with_connection_receive_window(mut self, bytes: u32) -> Self {
        self.connection_receive_window = bytes;
        self
    }

    /// How long the listener's side of a hole punch sends its packets at
    /// most, when the remote's connection does not arrive sooner
    /// (`libp2p-relay-DCUtR.md` sets no limit; rust-libp2p stops at its
    /// handshake timeout). Default: 5 s, at most 500 packets (one each
    /// 10 to 200 ms).
    #[must_use]
    pub fn with_hole_punch_duration(mut self, duration: Duration) -> Self {
        self.hole_punch_duration = duration;
        self
    }

    /// The quinn transport parameters.
    pub(crate) fn transport(&self) -> quinn::TransportConfig {
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_concurrent_bidi_streams(self.max_streams.into())
            // libp2p uses bidirectional streams only.
            .max_concurrent_uni_streams(0u32.into())
            .stream_receive_window(self.stream_receive_window.into())
            .receive_window(self.connection_receive_window.into())
            .keep_alive_interval(Some(self.keep_alive))
            .max_idle_timeout(quinn::IdleTimeout::try_from(self.idle_timeout).ok());
        transport
    }
}
