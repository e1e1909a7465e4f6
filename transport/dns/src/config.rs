//! `dns::Config`: where queries go, and every bound of a resolution, with
//! its default and what happens when it is reached.

use std::{net::SocketAddr, time::Duration};

/// Configuration of a [`crate::Resolver`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) nameserver: Option<SocketAddr>,
    pub(crate) timeout: Duration,
    pub(crate) max_depth: usize,
    pub(crate) max_addrs: usize,
    pub(crate) max_txt_records: usize,
    pub(crate) max_lookups: usize,
    pub(crate) resolve_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            nameserver: None,
            timeout: Duration::from_secs(5),
            max_depth: 4,
            max_addrs: 64,
            max_txt_records: 64,
            max_lookups: 32,
            resolve_timeout: Duration::from_secs(15),
        }
    }
}

impl Config {
    /// Sends every query to this server, and to no other: over UDP, and
    /// over TCP when an answer does not fit a datagram. The system's
    /// configuration (`/etc/resolv.conf`, `/etc/hosts`) is then never read.
    /// Default: none, which means the system's resolver: names (`/dns*`)
    /// resolve as the operating system resolves them (`getaddrinfo`, as
    /// the TCP transport does), and TXT records (`/dnsaddr`) are asked of
    /// the servers in `/etc/resolv.conf`, read at the first `/dnsaddr`.
    #[must_use]
    pub fn with_nameserver(mut self, server: SocketAddr) -> Self {
        self.nameserver = Some(server);
        self
    }

    /// How long one lookup (one name, one record type) may take, retries
    /// included. Default: 5 s. Past it the lookup fails with
    /// [`crate::Error::Timeout`].
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many `/dnsaddr` links may be followed one inside another.
    /// Default: 4, as go-libp2p. A link deeper than that is not looked up
    /// ([`crate::Error::TooDeep`] if nothing else resolves); a loop of
    /// links ends at the first name seen twice ([`crate::Error::Loop`]).
    #[must_use]
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// How many addresses one resolution returns at most. Default: 64.
    /// Past it, the addresses found first are kept and the rest dropped;
    /// no further lookup is made.
    #[must_use]
    pub fn with_max_addrs(mut self, max: usize) -> Self {
        self.max_addrs = max.max(1);
        self
    }

    /// How many TXT records of one `_dnsaddr` name are read, in the
    /// order the server gave them. Default: 64. The rest are ignored.
    #[must_use]
    pub fn with_max_txt_records(mut self, max: usize) -> Self {
        self.max_txt_records = max.max(1);
        self
    }

    /// How many DNS lookups one resolution may make in all (TXT, A and
    /// AAAA), so that records fanning out to many names cost a bounded
    /// amount. Default: 32. Past it no lookup is made: the addresses found
    /// so far are returned, or [`crate::Error::TooManyLookups`] if none.
    #[must_use]
    pub fn with_max_lookups(mut self, max: usize) -> Self {
        self.max_lookups = max.max(1);
        self
    }

    /// How long one whole resolution may take, every lookup of every link
    /// together (without it, 32 lookups of 5 s each could hold a dial for
    /// minutes). Default: 15 s. Past it no lookup is made: the addresses
    /// found so far are returned, or [`crate::Error::Timeout`] for the
    /// dialed address if none.
    #[must_use]
    pub fn with_resolve_timeout(mut self, timeout: Duration) -> Self {
        self.resolve_timeout = timeout;
        self
    }

    /// The server every query goes to, if one is set.
    pub fn nameserver(&self) -> Option<SocketAddr> {
        self.nameserver
    }
}
