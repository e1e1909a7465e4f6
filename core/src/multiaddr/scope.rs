//! Where an address can be reached from: the loopback, a private network,
//! the public internet, or nowhere.
//!
//! Used wherever a node decides what to tell whom (identify never
//! advertises a loopback or private address to a public peer) and what to
//! test (`AutoNAT` dials back only public addresses). The ranges are the
//! IANA special-purpose registries' (RFC 6890 and its updates) that a NAT
//! sits in front of:
//!
//! ```text
//! Loopback    127.0.0.0/8, ::1
//! Private     10/8, 172.16/12, 192.168/16 (RFC 1918), 100.64/10 (RFC 6598, carrier NAT),
//!             169.254/16 and fe80::/10 (link-local), fc00::/7 (unique local)
//! Unroutable  0/8 ("this network", 0.0.0.0 included) and ::, multicast 224/4 and ff00::/8,
//!             240/4 (reserved, 255.255.255.255 broadcast included)
//! Public      everything else, 198.18.0.0/15 (the NAT lab's internet) included
//! ```
//!
//! An IPv4 address inside IPv6 has the IPv4 address's scope: IPv4-mapped
//! (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`, RFC 6052), so that
//! `64:ff9b::10.0.0.1` is private, not public.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Component, Multiaddr};

/// Where an address can be reached from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Only from this machine.
    Loopback,
    /// Only from the same private network (behind the same NAT).
    Private,
    /// From anywhere (as far as the address says).
    Public,
    /// The address names no IP (a DNS name, a memory address): it says
    /// nothing of its reach.
    Unknown,
    /// No peer can reach it: an unspecified address (`0.0.0.0`, `::`, what
    /// a wildcard listener binds), the rest of `0/8`, multicast,
    /// broadcast, reserved. Told to no one ([`Scope::may_tell`] is false
    /// for every peer), nor dialed back.
    Unroutable,
}

impl Scope {
    /// The scope of an IP address.
    pub fn of_ip(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(ip) => of_v4(ip),
            IpAddr::V6(ip) => of_v6(ip),
        }
    }

    /// Whether an address of this scope may be told to a peer of scope
    /// `to`: public and unknown addresses to anyone, private ones to
    /// private and loopback peers, loopback ones to loopback peers only,
    /// unroutable ones to no one.
    pub fn may_tell(self, to: Self) -> bool {
        match self {
            Self::Public | Self::Unknown => true,
            Self::Private => matches!(to, Self::Private | Self::Loopback),
            Self::Loopback => to == Self::Loopback,
            Self::Unroutable => false,
        }
    }
}

fn of_v4(ip: Ipv4Addr) -> Scope {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Scope::Loopback
    } else if a == 0 || a >= 224 {
        // 0/8, multicast 224/4, reserved 240/4 with the broadcast address.
        Scope::Unroutable
    } else if ip.is_private() || ip.is_link_local() || (a == 100 && (64..128).contains(&b)) {
        Scope::Private
    } else {
        Scope::Public
    }
}

/// The NAT64 well-known prefix, `64:ff9b::/96` (RFC 6052).
const NAT64: [u16; 6] = [0x64, 0xff9b, 0, 0, 0, 0];

fn of_v6(ip: Ipv6Addr) -> Scope {
    let segments = ip.segments();
    let first = segments[0];
    if ip.is_loopback() {
        Scope::Loopback
    } else if segments[..6] == NAT64 {
        let [.., a, b, c, d] = ip.octets();
        of_v4(Ipv4Addr::new(a, b, c, d))
    } else if ip.is_unspecified() || ip.is_multicast() {
        Scope::Unroutable
    } else if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 {
        Scope::Private
    } else {
        Scope::Public
    }
}

impl Multiaddr {
    /// The scope of the address's leading IP ([`Scope::Unknown`] when it
    /// starts with no IP). A relayed address (`…/p2p-circuit/…`) has the
    /// relay's scope.
    pub fn scope(&self) -> Scope {
        match self.iter().next() {
            Some(Component::Ip4(ip)) => Scope::of_ip(ip.into()),
            Some(Component::Ip6(ip)) => Scope::of_ip(ip.into()),
            _ => Scope::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(text: &str) -> Scope {
        text.parse::<Multiaddr>().map_or(Scope::Unknown, |addr| addr.scope())
    }

    #[test]
    fn ranges() {
        assert_eq!(scope("/ip4/127.0.0.1/tcp/1"), Scope::Loopback);
        assert_eq!(scope("/ip6/::1/tcp/1"), Scope::Loopback);
        for private in [
            "/ip4/10.1.2.3/tcp/1",
            "/ip4/172.16.0.1/tcp/1",
            "/ip4/172.31.255.1/tcp/1",
            "/ip4/192.168.1.2/tcp/1",
            "/ip4/100.64.0.1/tcp/1",
            "/ip4/100.127.255.1/tcp/1",
            "/ip4/169.254.1.1/tcp/1",
            "/ip6/fd00::1/tcp/1",
            "/ip6/fe80::1/tcp/1",
            "/ip6/64:ff9b::10.0.0.1/tcp/1",
            "/ip6/64:ff9b::192.168.1.1/udp/1/quic-v1",
        ] {
            assert_eq!(scope(private), Scope::Private, "{private}");
        }
        for public in [
            "/ip4/8.8.8.8/tcp/1",
            "/ip4/172.32.0.1/tcp/1",
            "/ip4/100.128.0.1/tcp/1",
            "/ip4/198.18.0.5/tcp/1",
            "/ip6/2001:db8::1/udp/1/quic-v1",
            "/ip4/1.2.3.4/tcp/1/p2p-circuit",
            "/ip4/223.255.255.254/tcp/1",
            "/ip4/1.0.0.1/tcp/1",
            "/ip6/64:ff9b::8.8.8.8/tcp/1",
            "/ip6/64:ff9b:1::a00:1/tcp/1", // the local-use NAT64 prefix is not the well-known one
        ] {
            assert_eq!(scope(public), Scope::Public, "{public}");
        }
        for unroutable in [
            "/ip4/0.0.0.0/tcp/1",
            "/ip4/0.1.2.3/tcp/1",
            "/ip6/::/tcp/1",
            "/ip4/224.0.0.251/udp/5353",
            "/ip4/239.255.255.250/udp/1900",
            "/ip4/240.0.0.1/tcp/1",
            "/ip4/255.255.255.255/udp/1",
            "/ip6/ff02::fb/udp/5353",
            "/ip6/ff0e::1/udp/1",
            "/ip6/64:ff9b::e000:fb/udp/1", // NAT64 around 224.0.0.251
        ] {
            assert_eq!(scope(unroutable), Scope::Unroutable, "{unroutable}");
        }
        assert_eq!(scope("/ip6/64:ff9b::7f00:1/tcp/1"), Scope::Loopback, "NAT64 around 127.0.0.1");
        assert_eq!(scope("/dns4/example.com/tcp/1"), Scope::Unknown);
        assert_eq!(scope("/memory/7"), Scope::Unknown);
        // An IPv4-mapped IPv6 address has the IPv4 address's scope.
        assert_eq!(
            Scope::of_ip("::ffff:192.168.0.1".parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))),
            Scope::Private
        );
    }

    #[test]
    fn who_may_be_told_what() {
        use Scope::{Loopback, Private, Public, Unknown};
        assert!(Public.may_tell(Public) && Public.may_tell(Loopback) && Unknown.may_tell(Public));
        assert!(Private.may_tell(Private) && Private.may_tell(Loopback) && !Private.may_tell(Public));
        assert!(Loopback.may_tell(Loopback) && !Loopback.may_tell(Private) && !Loopback.may_tell(Public));
        assert!(!Private.may_tell(Unknown), "a peer of unknown reach is told no private address");
        for to in [Loopback, Private, Public, Unknown, Scope::Unroutable] {
            assert!(!Scope::Unroutable.may_tell(to), "an unroutable address is told to no one ({to:?})");
        }
    }
}
