//! Which addresses a DNS name in a multiaddr may stand for.
//!
//! `multiaddr-protocols.csv` and `libp2p-addressing.md`: `/dns/<name>`
//! resolves to IPv4 or IPv6 addresses (IPv6 preferred), `/dns4/<name>` to
//! IPv4 only, `/dns6/<name>` to IPv6 only. Every crate that resolves such a
//! name (the TCP transport's own dialing, the DNS resolver) filters its
//! answers through [`DnsFamily::admits`].

use std::net::IpAddr;

/// The address family a `/dns*` component asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsFamily {
    /// `/dns`: either (IPv6 preferred).
    Any,
    /// `/dns4`: IPv4 only.
    V4,
    /// `/dns6`: IPv6 only.
    V6,
}

impl DnsFamily {
    /// Whether `ip` is of the family asked for.
    pub fn admits(self, ip: IpAddr) -> bool {
        match self {
            Self::Any => true,
            Self::V4 => ip.is_ipv4(),
            Self::V6 => ip.is_ipv6(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_admits_its_addresses() {
        let (v4, v6): (IpAddr, IpAddr) = ([127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into());
        assert!(DnsFamily::Any.admits(v4) && DnsFamily::Any.admits(v6));
        assert!(DnsFamily::V4.admits(v4) && !DnsFamily::V4.admits(v6));
        assert!(DnsFamily::V6.admits(v6) && !DnsFamily::V6.admits(v4));
    }
}
