//! The knobs of the TCP transport, each with its default and what happens
//! when it is reached.

use std::time::Duration;

/// Configuration of a [`crate::TcpTransport`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) connect_timeout: Duration,
    pub(crate) listen_backlog: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(10), listen_backlog: 1024 }
    }
}

impl Config {
    /// How long one dial may take, DNS lookup and every address tried
    /// included. Default: 10 s. Past it the dial fails with
    /// [`crate::Error::ConnectTimeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many connections the kernel queues for a listener before they
    /// are accepted (it may cap the number, see `somaxconn`). Default:
    /// 1024. Past it, new connection attempts wait or are dropped by the
    /// kernel until the host accepts.
    #[must_use]
    pub fn with_listen_backlog(mut self, backlog: u32) -> Self {
        self.listen_backlog = backlog;
        self
    }
}
