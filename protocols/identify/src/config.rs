//! `identify::Config`: what a host says of itself, and the limits of what
//! it reads.

use std::time::Duration;

/// Configuration of [`crate::Identify`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) protocol_version: String,
    pub(crate) agent_version: String,
    pub(crate) max_message_len: usize,
    pub(crate) timeout: Duration,
    pub(crate) push: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            protocol_version: "ipfs/0.1.0".into(),
            agent_version: concat!("strata/", env!("CARGO_PKG_VERSION")).into(),
            max_message_len: 64 * 1024,
            timeout: Duration::from_secs(10),
            push: true,
        }
    }
}

impl Config {
    /// The protocol family announced. Default: `ipfs/0.1.0`, what
    /// rust-libp2p and go-libp2p announce.
    #[must_use]
    pub fn with_protocol_version(mut self, version: impl Into<String>) -> Self {
        self.protocol_version = version.into();
        self
    }

    /// The implementation announced. Default: `strata/<version>`.
    #[must_use]
    pub fn with_agent_version(mut self, version: impl Into<String>) -> Self {
        self.agent_version = version.into();
        self
    }

    /// The largest `Identify` message read. Default: 64 KiB. A larger one
    /// is refused ([`crate::Error`]) and its stream dropped.
    #[must_use]
    pub fn with_max_message_len(mut self, bytes: usize) -> Self {
        self.max_message_len = bytes;
        self
    }

    /// How long one exchange (opening the stream included) may take.
    /// Default: 10 s.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether changes to the host's listen addresses or protocols are
    /// pushed to connected peers. Default: yes.
    #[must_use]
    pub fn with_push(mut self, push: bool) -> Self {
        self.push = push;
        self
    }
}
