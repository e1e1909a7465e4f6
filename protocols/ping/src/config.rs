//! `ping::Config`: the timeout of a ping and the optional keep-alive.

use std::time::Duration;

/// Configuration of [`crate::Ping`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) timeout: Duration,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) max_failures: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(20), keep_alive: None, max_failures: 3 }
    }
}

impl Config {
    /// How long one ping (opening the stream included) may take. Default:
    /// 20 s. Past it the ping fails with [`crate::Error::Timeout`] and its
    /// stream is dropped.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Pings every connected peer every `interval`, and closes the
    /// connections to a peer after [`Config::with_max_failures`]
    /// consecutive failures. Off by default.
    #[must_use]
    pub fn with_keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = Some(interval);
        self
    }

    /// How many consecutive keep-alive failures close the connection.
    /// Default: 3.
    #[must_use]
    pub fn with_max_failures(mut self, failures: u32) -> Self {
        self.max_failures = failures.max(1);
        self
    }
}
