//! The protocol table: code, name and value size of every multiaddr
//! protocol strata understands, from `multiaddr-protocols.csv`.
//!
//! This is the one place a protocol is declared; [`super::Component`]
//! interprets the values. A code or name missing here is
//! `Error::UnknownProtocol`, never a guess.

/// How a protocol's value is laid out in the binary form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Size {
    /// No value (`/tls`, `/ws`).
    Zero,
    /// A fixed number of bytes (`/ip4`: 4, `/tcp`: 2).
    Fixed(usize),
    /// A varint length, then that many bytes (`/dns`, `/p2p`).
    Var,
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) code: u64,
    pub(crate) name: &'static str,
    pub(crate) size: Size,
}

macro_rules! table {
    ($($konst:ident = $code:literal, $name:literal, $size:expr;)*) => {
        $(pub(crate) const $konst: u64 = $code;)*
        const TABLE: &[Spec] = &[$(Spec { code: $code, name: $name, size: $size }),*];
    };
}

table! {
    IP4 = 4, "ip4", Size::Fixed(4);
    TCP = 6, "tcp", Size::Fixed(2);
    UDP = 273, "udp", Size::Fixed(2);
    DCCP = 33, "dccp", Size::Fixed(2);
    IP6 = 41, "ip6", Size::Fixed(16);
    IP6ZONE = 42, "ip6zone", Size::Var;
    IPCIDR = 43, "ipcidr", Size::Fixed(1);
    DNS = 53, "dns", Size::Var;
    DNS4 = 54, "dns4", Size::Var;
    DNS6 = 55, "dns6", Size::Var;
    DNSADDR = 56, "dnsaddr", Size::Var;
    SCTP = 132, "sctp", Size::Fixed(2);
    UDT = 301, "udt", Size::Zero;
    UTP = 302, "utp", Size::Zero;
    UNIX = 400, "unix", Size::Var;
    P2P = 421, "p2p", Size::Var;
    TLS = 448, "tls", Size::Zero;
    SNI = 449, "sni", Size::Var;
    NOISE = 454, "noise", Size::Zero;
    QUIC = 460, "quic", Size::Zero;
    QUIC_V1 = 461, "quic-v1", Size::Zero;
    WEBTRANSPORT = 465, "webtransport", Size::Zero;
    CERTHASH = 466, "certhash", Size::Var;
    HTTP = 480, "http", Size::Zero;
    HTTPS = 443, "https", Size::Zero;
    WS = 477, "ws", Size::Zero;
    WSS = 478, "wss", Size::Zero;
    WEBRTC_DIRECT = 280, "webrtc-direct", Size::Zero;
    WEBRTC = 281, "webrtc", Size::Zero;
    P2P_CIRCUIT = 290, "p2p-circuit", Size::Zero;
    MEMORY = 777, "memory", Size::Var;
}

/// The row of `code`.
pub(crate) fn by_code(code: u64) -> Option<&'static Spec> {
    TABLE.iter().find(|spec| spec.code == code)
}

/// The row of `name`; `ipfs` is accepted as the old name of `p2p`.
pub(crate) fn by_name(name: &str) -> Option<&'static Spec> {
    let name = if name == "ipfs" { "p2p" } else { name };
    TABLE.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert_ne!(a.code, b.code, "{} and {}", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(by_name("ipfs").unwrap().code, P2P);
    }
}
