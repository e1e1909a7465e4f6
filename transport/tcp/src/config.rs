//! The knobs of the TCP transport, each with its default and what happens
//! when it is reached.

use std::time::Duration;

/// Configuration of a [`crate::TcpTransport`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) connect_timeout: Duration,
    pub(crate) listen_backlog: u32,
    pub(crate) port_reuse: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(10), listen_backlog: 1024, port_reuse: true }
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

    /// Whether dials leave from the port this transport listens on
    /// (`SO_REUSEADDR` and `SO_REUSEPORT` on the listening and the dialing
    /// sockets), so that peers, and NATs on the way, see one port for the
    /// node: what identify's observed addresses and hole punching
    /// (`libp2p-relay-DCUtR.md`) rely on. Default: on. A dial with no
    /// listener of its address family, or whose socket pair is taken (a
    /// connection between the same two ports exists already), uses a
    /// fresh ephemeral port, as with the option off. `SO_REUSEPORT` exists
    /// on Unix only; elsewhere dials always use an ephemeral port.
    #[must_use]
    pub fn with_port_reuse(mut self, reuse: bool) -> Self {
        self.port_reuse = reuse;
        self
    }
}
