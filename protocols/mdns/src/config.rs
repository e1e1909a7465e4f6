//! `mdns::Config`: where to multicast (group, port, interfaces), how
//! often to ask, how long answers last, and the limits on what is kept.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4},
    time::Duration,
};

/// The mDNS IPv4 group (RFC 6762).
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// The mDNS IPv6 link-local group (RFC 6762).
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
/// The mDNS port.
pub const PORT: u16 = 5353;

/// Which interfaces to multicast on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interfaces {
    /// Every interface that is up and not loopback (the LAN).
    All,
    /// Only the interfaces that hold one of these addresses (loopback
    /// allowed: tests use `127.0.0.1`).
    Only(Vec<IpAddr>),
}

/// Configuration of [`crate::Mdns`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) group_v4: Ipv4Addr,
    pub(crate) group_v6: Option<Ipv6Addr>,
    pub(crate) port: u16,
    pub(crate) interfaces: Interfaces,
    pub(crate) query_interval: Duration,
    pub(crate) ttl: Duration,
    pub(crate) interface_poll: Duration,
    pub(crate) auto_dial: bool,
    pub(crate) max_peers: usize,
    pub(crate) max_addrs_per_peer: usize,
}

impl Default for Config {
    /// 224.0.0.251 and `ff02::fb`, port 5353, every interface; a query at
    /// start, again after 1 s, then every 5 minutes; answers last 6
    /// minutes (rust-libp2p's values); interfaces checked every 5 s; no
    /// automatic dialing; at most 1,000 peers of 16 addresses each.
    fn default() -> Self {
        Self {
            group_v4: GROUP_V4,
            group_v6: Some(GROUP_V6),
            port: PORT,
            interfaces: Interfaces::All,
            query_interval: Duration::from_mins(5),
            ttl: Duration::from_mins(6),
            interface_poll: Duration::from_secs(5),
            auto_dial: false,
            max_peers: 1000,
            max_addrs_per_peer: 16,
        }
    }
}

impl Config {
    /// The IPv4 group and the port. Tests pick an administratively scoped
    /// group (`239.255.0.0/16`) and a port of their own so that several
    /// networks share a machine without hearing each other or the LAN.
    #[must_use]
    pub fn with_group(mut self, group: Ipv4Addr, port: u16) -> Self {
        self.group_v4 = group;
        self.port = port;
        self
    }

    /// A network of its own where given (command-line flags): the IPv4
    /// `group` and port, IPv4 only ([`Config::with_group`]), and only the
    /// interface holding `interface` ([`Interfaces::Only`]).
    #[must_use]
    pub fn with_network(mut self, group: Option<SocketAddrV4>, interface: Option<IpAddr>) -> Self {
        if let Some(group) = group {
            self = self.with_group(*group.ip(), group.port()).with_group_v6(None);
        }
        if let Some(interface) = interface {
            self = self.with_interfaces(Interfaces::Only(vec![interface]));
        }
        self
    }

    /// The IPv6 group, or `None` for IPv4 only. Default: `ff02::fb`.
    #[must_use]
    pub fn with_group_v6(mut self, group: Option<Ipv6Addr>) -> Self {
        self.group_v6 = group;
        self
    }

    /// Which interfaces to use. Default: [`Interfaces::All`].
    #[must_use]
    pub fn with_interfaces(mut self, interfaces: Interfaces) -> Self {
        self.interfaces = interfaces;
        self
    }

    /// How often to ask for peers (after the first two queries, 1 s
    /// apart). Default: 5 minutes.
    #[must_use]
    pub fn with_query_interval(mut self, interval: Duration) -> Self {
        self.query_interval = interval.max(Duration::from_millis(100));
        self
    }

    /// How long our answers say they last, and so how long a peer that
    /// stopped answering is kept before it is reported expired. Default:
    /// 6 minutes. Keep it above the query interval.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How often the interface list is read again (interfaces that came
    /// up are joined and asked on). Default: 5 s.
    #[must_use]
    pub fn with_interface_poll(mut self, interval: Duration) -> Self {
        self.interface_poll = interval.max(Duration::from_millis(100));
        self
    }

    /// Whether newly discovered peers are dialed. Default: no.
    #[must_use]
    pub fn with_auto_dial(mut self, on: bool) -> Self {
        self.auto_dial = on;
        self
    }

    /// At most this many peers are kept (a LAN full of peers, or a hostile
    /// sender inventing them, cannot grow memory). Default: 1,000.
    #[must_use]
    pub fn with_max_peers(mut self, max: usize) -> Self {
        self.max_peers = max.max(1);
        self
    }
}
