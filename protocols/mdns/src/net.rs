//! The sockets: one receiver per address family bound to the mDNS port
//! (shared with other nodes on the machine through `SO_REUSEPORT`) and
//! joined to the group on each interface, and one sender per interface
//! (multicast out of that interface, looped back so that nodes on the
//! same machine hear each other). Interfaces are read with `if-addrs`.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::{Config, Interfaces};

/// An interface address discovery runs on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Iface {
    /// The interface's address (IPv4), or one of them (IPv6).
    pub(crate) ip: IpAddr,
    /// Its prefix length, to tell which queries came from its link.
    pub(crate) prefix: u8,
    /// The interface index (IPv6 multicast needs it).
    pub(crate) index: u32,
    pub(crate) loopback: bool,
}

impl Iface {
    /// Whether `ip` is on this interface's subnet.
    pub(crate) fn has_on_link(&self, ip: IpAddr) -> bool {
        strata_host::IpRange::new(self.ip, self.prefix).contains(ip)
    }
}

/// The interfaces the config selects, now: up, and not loopback unless
/// named; IPv6 ones (one per interface index) only with an IPv6 group.
pub(crate) fn interfaces(config: &Config) -> Vec<Iface> {
    let all = match if_addrs::get_if_addrs() {
        Ok(all) => all,
        Err(error) => {
            tracing::debug!(%error, "mdns: cannot list interfaces");
            return Vec::new();
        }
    };
    let mut chosen: Vec<Iface> = Vec::new();
    for interface in all {
        let ip = interface.ip();
        let wanted = match &config.interfaces {
            Interfaces::All => !interface.is_loopback() && interface.is_oper_up(),
            Interfaces::Only(ips) => ips.contains(&ip),
        };
        let v6_wanted = config.group_v6.is_some() || !ip.is_ipv6();
        let Some(index) = interface.index.filter(|_| wanted && v6_wanted) else { continue };
        if ip.is_ipv6() && chosen.iter().any(|iface| iface.ip.is_ipv6() && iface.index == index) {
            continue;
        }
        let prefix = match &interface.addr {
            if_addrs::IfAddr::V4(v4) => v4.prefixlen,
            if_addrs::IfAddr::V6(v6) => v6.prefixlen,
        };
        chosen.push(Iface { ip, prefix, index, loopback: interface.is_loopback() });
    }
    chosen.sort_by_key(|iface| (iface.index, iface.ip));
    chosen
}

fn reusable(domain: Domain) -> io::Result<Socket> {
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The IPv4 receiver: bound to the group and port (so that it hears that
/// group only), joined on no interface yet.
pub(crate) fn receiver_v4(group: Ipv4Addr, port: u16) -> io::Result<UdpSocket> {
    let socket = reusable(Domain::IPV4)?;
    // Binding to the group filters out other groups on the same port
    // (Linux); elsewhere the wildcard address is what binding allows.
    let bound = if cfg!(target_os = "linux") { group } else { Ipv4Addr::UNSPECIFIED };
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(bound, port)).into())?;
    socket.set_multicast_loop_v4(true)?;
    UdpSocket::from_std(socket.into())
}

/// The IPv6 receiver, bound to `[::]:port`.
pub(crate) fn receiver_v6(port: u16) -> io::Result<UdpSocket> {
    let socket = reusable(Domain::IPV6)?;
    socket.set_only_v6(true)?;
    socket.bind(&SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)).into())?;
    socket.set_multicast_loop_v6(true)?;
    UdpSocket::from_std(socket.into())
}

/// A sender multicasting out of `iface` (it also hears the unicast
/// answers to what it sends: read them through a clone). A plain
/// non-blocking socket: a datagram is sent at once or dropped, from any
/// code, with no readiness to wait for.
pub(crate) fn sender(iface: &Iface) -> io::Result<std::net::UdpSocket> {
    let socket = match iface.ip {
        IpAddr::V4(ip) => {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_multicast_if_v4(&ip)?;
            socket.set_multicast_ttl_v4(255)?;
            socket.set_multicast_loop_v4(true)?;
            socket.bind(&SocketAddr::V4(SocketAddrV4::new(ip, 0)).into())?;
            socket
        }
        IpAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_only_v6(true)?;
            socket.set_multicast_if_v6(iface.index)?;
            socket.set_multicast_hops_v6(255)?;
            socket.set_multicast_loop_v6(true)?;
            socket.bind(&SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0)).into())?;
            socket
        }
    };
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Where multicasts to `iface` go.
pub(crate) fn group_addr(config: &Config, iface: &Iface) -> Option<SocketAddr> {
    match iface.ip {
        IpAddr::V4(_) => Some(SocketAddr::V4(SocketAddrV4::new(config.group_v4, config.port))),
        IpAddr::V6(_) => Some(SocketAddr::V6(SocketAddrV6::new(config.group_v6?, config.port, 0, iface.index))),
    }
}

/// Joins (or leaves) the group on `iface` with the family's receiver.
pub(crate) fn membership(receiver: &UdpSocket, config: &Config, iface: &Iface, join: bool) -> io::Result<()> {
    match (iface.ip, config.group_v6) {
        (IpAddr::V4(ip), _) if join => receiver.join_multicast_v4(config.group_v4, ip),
        (IpAddr::V4(ip), _) => receiver.leave_multicast_v4(config.group_v4, ip),
        (IpAddr::V6(_), Some(group)) if join => receiver.join_multicast_v6(&group, iface.index),
        (IpAddr::V6(_), Some(group)) => receiver.leave_multicast_v6(&group, iface.index),
        (IpAddr::V6(_), None) => Ok(()),
    }
}
