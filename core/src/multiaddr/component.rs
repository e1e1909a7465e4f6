//! One component of a multiaddr (`/tcp/4001`), typed, with its binary and
//! text forms.
//!
//! Spec: `multiaddr.md`, "Specification": binary `<code uvarint><value>`,
//! where the value is fixed-size or `<len uvarint><bytes>` as the protocol
//! table says ([`super::table`]); text `/<name>/<value>`, or `/<name>` for
//! protocols without a value.
//!
//! Values, in text → binary:
//! - `ip4`, `ip6`: the address → 4 or 16 bytes; ports (`tcp`, `udp`, `dccp`,
//!   `sctp`): decimal → 2 bytes big-endian; `ipcidr`: decimal → 1 byte.
//! - `dns*`, `sni`, `ip6zone`, `memory`: the UTF-8 string, as is (never
//!   empty, never containing `/`). `memory` follows the CSV (variable
//!   length), not rust-libp2p's 8-byte integer.
//! - `unix`: an absolute path without empty segments. It takes the rest of
//!   the text (`/unix/tmp/a.sock` is the path `/tmp/a.sock`), so it belongs
//!   last in a multiaddr.
//! - `p2p` (`ipfs` on input): a peer id in text → its multihash bytes.
//! - `certhash`: a multibase multihash in text → the multihash bytes;
//!   written back as base64url (`u…`).

use std::{
    borrow::Cow,
    fmt,
    net::{Ipv4Addr, Ipv6Addr},
};

use super::table::{self, Size};
use crate::{Error, PeerId, Result, multibase, varint};

/// The longest string value (a DNS name, an SNI, a zone) we accept.
const MAX_NAME_LEN: usize = 255;
/// The longest `unix` path we accept.
const MAX_PATH_LEN: usize = 1024;

/// One protocol of a multiaddr with its value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant is the protocol of the same name
pub enum Component<'a> {
    Ip4(Ipv4Addr),
    Ip6(Ipv6Addr),
    Ip6zone(Cow<'a, str>),
    Ipcidr(u8),
    Tcp(u16),
    Udp(u16),
    Dccp(u16),
    Sctp(u16),
    Dns(Cow<'a, str>),
    Dns4(Cow<'a, str>),
    Dns6(Cow<'a, str>),
    Dnsaddr(Cow<'a, str>),
    Unix(Cow<'a, str>),
    P2p(PeerId),
    Tls,
    Sni(Cow<'a, str>),
    Noise,
    Quic,
    QuicV1,
    Webtransport,
    /// A multihash of a certificate (its binary multihash bytes).
    Certhash(Cow<'a, [u8]>),
    Http,
    Https,
    Ws,
    Wss,
    WebrtcDirect,
    Webrtc,
    P2pCircuit,
    Utp,
    Udt,
    Memory(Cow<'a, str>),
}

fn invalid(code: u64, what: impl fmt::Display) -> Error {
    let name = table::by_code(code).map_or("?", |spec| spec.name);
    Error::InvalidMultiaddr(format!("/{name}: {what}"))
}

/// A string value: UTF-8, not empty, no `/`, at most 255 bytes.
fn name_value(code: u64, text: &str) -> Result<&str> {
    if text.is_empty() || text.len() > MAX_NAME_LEN || text.contains('/') {
        return Err(invalid(code, "value must be 1 to 255 bytes without '/'"));
    }
    Ok(text)
}

fn port_value(code: u64, text: &str) -> Result<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(code, format!("{text:?} is not a port")));
    }
    text.parse().map_err(|_| invalid(code, format!("{text:?} is not a port")))
}

/// A `unix` path: absolute, 2 to 1024 bytes, no empty segment (so no `//`
/// and no trailing `/`). The text form can write exactly these paths, which
/// is what makes every accepted binary path round-trip through text.
fn unix_path(code: u64, path: &str) -> Result<()> {
    let segments = path.strip_prefix('/').map(|rest| rest.split('/'));
    let well_formed = segments.is_some_and(|mut segments| segments.all(|segment| !segment.is_empty()));
    if !well_formed || path.len() > MAX_PATH_LEN {
        return Err(invalid(code, "path must be absolute, at most 1024 bytes, without empty segments"));
    }
    Ok(())
}

/// Checks that `bytes` is exactly one multihash: `<code><len><digest>`.
fn check_multihash(code: u64, bytes: &[u8]) -> Result<()> {
    let (_, rest) = varint::decode(bytes).map_err(|e| invalid(code, e))?;
    let (len, digest) = varint::decode_len(rest).map_err(|e| invalid(code, e))?;
    if digest.len() != len {
        return Err(invalid(code, "multihash length does not match its digest"));
    }
    Ok(())
}

impl<'a> Component<'a> {
    /// The protocol code.
    pub fn code(&self) -> u64 {
        match self {
            Self::Ip4(_) => table::IP4,
            Self::Ip6(_) => table::IP6,
            Self::Ip6zone(_) => table::IP6ZONE,
            Self::Ipcidr(_) => table::IPCIDR,
            Self::Tcp(_) => table::TCP,
            Self::Udp(_) => table::UDP,
            Self::Dccp(_) => table::DCCP,
            Self::Sctp(_) => table::SCTP,
            Self::Dns(_) => table::DNS,
            Self::Dns4(_) => table::DNS4,
            Self::Dns6(_) => table::DNS6,
            Self::Dnsaddr(_) => table::DNSADDR,
            Self::Unix(_) => table::UNIX,
            Self::P2p(_) => table::P2P,
            Self::Tls => table::TLS,
            Self::Sni(_) => table::SNI,
            Self::Noise => table::NOISE,
            Self::Quic => table::QUIC,
            Self::QuicV1 => table::QUIC_V1,
            Self::Webtransport => table::WEBTRANSPORT,
            Self::Certhash(_) => table::CERTHASH,
            Self::Http => table::HTTP,
            Self::Https => table::HTTPS,
            Self::Ws => table::WS,
            Self::Wss => table::WSS,
            Self::WebrtcDirect => table::WEBRTC_DIRECT,
            Self::Webrtc => table::WEBRTC,
            Self::P2pCircuit => table::P2P_CIRCUIT,
            Self::Utp => table::UTP,
            Self::Udt => table::UDT,
            Self::Memory(_) => table::MEMORY,
        }
    }

    /// The protocol name, as written in text (`"tcp"`).
    pub fn name(&self) -> &'static str {
        table::by_code(self.code()).map_or("?", |spec| spec.name)
    }

    /// The component with its borrowed values copied, so that it outlives
    /// the multiaddr it came from.
    pub fn into_owned(self) -> Component<'static> {
        fn own(s: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(s.into_owned())
        }
        match self {
            Self::Ip6zone(s) => Component::Ip6zone(own(s)),
            Self::Dns(s) => Component::Dns(own(s)),
            Self::Dns4(s) => Component::Dns4(own(s)),
            Self::Dns6(s) => Component::Dns6(own(s)),
            Self::Dnsaddr(s) => Component::Dnsaddr(own(s)),
            Self::Unix(s) => Component::Unix(own(s)),
            Self::Sni(s) => Component::Sni(own(s)),
            Self::Memory(s) => Component::Memory(own(s)),
            Self::Certhash(b) => Component::Certhash(Cow::Owned(b.into_owned())),
            Self::Ip4(a) => Component::Ip4(a),
            Self::Ip6(a) => Component::Ip6(a),
            Self::Ipcidr(n) => Component::Ipcidr(n),
            Self::Tcp(p) => Component::Tcp(p),
            Self::Udp(p) => Component::Udp(p),
            Self::Dccp(p) => Component::Dccp(p),
            Self::Sctp(p) => Component::Sctp(p),
            Self::P2p(id) => Component::P2p(id),
            Self::Tls => Component::Tls,
            Self::Noise => Component::Noise,
            Self::Quic => Component::Quic,
            Self::QuicV1 => Component::QuicV1,
            Self::Webtransport => Component::Webtransport,
            Self::Http => Component::Http,
            Self::Https => Component::Https,
            Self::Ws => Component::Ws,
            Self::Wss => Component::Wss,
            Self::WebrtcDirect => Component::WebrtcDirect,
            Self::Webrtc => Component::Webrtc,
            Self::P2pCircuit => Component::P2pCircuit,
            Self::Utp => Component::Utp,
            Self::Udt => Component::Udt,
        }
    }

    /// The value's bytes in the binary form (without a length prefix).
    fn value_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Self::Ip4(a) => Cow::Owned(a.octets().to_vec()),
            Self::Ip6(a) => Cow::Owned(a.octets().to_vec()),
            Self::Ipcidr(n) => Cow::Owned(vec![*n]),
            Self::Tcp(p) | Self::Udp(p) | Self::Dccp(p) | Self::Sctp(p) => Cow::Owned(p.to_be_bytes().to_vec()),
            Self::Ip6zone(s)
            | Self::Dns(s)
            | Self::Dns4(s)
            | Self::Dns6(s)
            | Self::Dnsaddr(s)
            | Self::Unix(s)
            | Self::Sni(s)
            | Self::Memory(s) => Cow::Borrowed(s.as_bytes()),
            Self::P2p(id) => Cow::Borrowed(id.as_bytes()),
            Self::Certhash(b) => Cow::Borrowed(b),
            _ => Cow::Borrowed(&[]),
        }
    }

    /// Appends the binary form to `out`.
    pub(crate) fn write_bytes(&self, out: &mut Vec<u8>) {
        let code = self.code();
        varint::encode(code, out);
        let value = self.value_bytes();
        if table::by_code(code).is_some_and(|spec| spec.size == Size::Var) {
            varint::encode(value.len() as u64, out);
        }
        out.extend_from_slice(&value);
    }

    /// Decodes the first component of `bytes`; returns it and the rest.
    pub(crate) fn read_bytes(bytes: &'a [u8]) -> Result<(Self, &'a [u8])> {
        let (code, rest) = varint::decode(bytes).map_err(|e| Error::InvalidMultiaddr(format!("protocol code: {e}")))?;
        let spec = table::by_code(code).ok_or_else(|| Error::UnknownProtocol(format!("code {code}")))?;
        let (len, rest) = match spec.size {
            Size::Zero => (0, rest),
            Size::Fixed(len) => (len, rest),
            Size::Var => varint::decode_len(rest).map_err(|e| invalid(code, e))?,
        };
        if rest.len() < len {
            return Err(invalid(code, format!("value needs {len} bytes, {} left", rest.len())));
        }
        let (value, rest) = rest.split_at(len);
        Ok((Self::from_value_bytes(code, value)?, rest))
    }

    fn from_value_bytes(code: u64, value: &'a [u8]) -> Result<Self> {
        let text = || std::str::from_utf8(value).map(Cow::Borrowed).map_err(|_| invalid(code, "value is not UTF-8"));
        let name = || -> Result<Cow<'a, str>> {
            let s = text()?;
            name_value(code, &s)?;
            Ok(s)
        };
        let port = || value.try_into().map(u16::from_be_bytes).map_err(|_| invalid(code, "port is not 2 bytes"));
        Ok(match code {
            table::IP4 => Self::Ip4(<[u8; 4]>::try_from(value).map_err(|_| invalid(code, "not 4 bytes"))?.into()),
            table::IP6 => Self::Ip6(<[u8; 16]>::try_from(value).map_err(|_| invalid(code, "not 16 bytes"))?.into()),
            table::IPCIDR => Self::Ipcidr(*value.first().ok_or_else(|| invalid(code, "empty"))?),
            table::TCP => Self::Tcp(port()?),
            table::UDP => Self::Udp(port()?),
            table::DCCP => Self::Dccp(port()?),
            table::SCTP => Self::Sctp(port()?),
            table::IP6ZONE => Self::Ip6zone(name()?),
            table::DNS => Self::Dns(name()?),
            table::DNS4 => Self::Dns4(name()?),
            table::DNS6 => Self::Dns6(name()?),
            table::DNSADDR => Self::Dnsaddr(name()?),
            table::SNI => Self::Sni(name()?),
            table::MEMORY => Self::Memory(name()?),
            table::UNIX => {
                let path = text()?;
                unix_path(code, &path)?;
                Self::Unix(path)
            }
            table::P2P => Self::P2p(PeerId::from_bytes(value).map_err(|e| invalid(code, e))?),
            table::CERTHASH => {
                check_multihash(code, value)?;
                Self::Certhash(Cow::Borrowed(value))
            }
            table::TLS => Self::Tls,
            table::NOISE => Self::Noise,
            table::QUIC => Self::Quic,
            table::QUIC_V1 => Self::QuicV1,
            table::WEBTRANSPORT => Self::Webtransport,
            table::HTTP => Self::Http,
            table::HTTPS => Self::Https,
            table::WS => Self::Ws,
            table::WSS => Self::Wss,
            table::WEBRTC_DIRECT => Self::WebrtcDirect,
            table::WEBRTC => Self::Webrtc,
            table::P2P_CIRCUIT => Self::P2pCircuit,
            table::UTP => Self::Utp,
            table::UDT => Self::Udt,
            _ => return Err(Error::UnknownProtocol(format!("code {code}"))),
        })
    }

    /// Parses a component from its name and the text of its value (empty
    /// for protocols without one).
    pub(crate) fn from_text(name: &str, value: Cow<'a, str>) -> Result<Self> {
        let spec = table::by_name(name).ok_or_else(|| Error::UnknownProtocol(name.to_owned()))?;
        let code = spec.code;
        if spec.size == Size::Zero {
            return Self::from_value_bytes(code, &[]);
        }
        let owned_name = |value: Cow<'a, str>| -> Result<Cow<'a, str>> {
            name_value(code, &value)?;
            Ok(value)
        };
        Ok(match code {
            table::IP4 => {
                Self::Ip4(value.parse().map_err(|_| invalid(code, format!("{value:?} is not an IPv4 address")))?)
            }
            table::IP6 => {
                Self::Ip6(value.parse().map_err(|_| invalid(code, format!("{value:?} is not an IPv6 address")))?)
            }
            table::IPCIDR => {
                Self::Ipcidr(port_value(code, &value)?.try_into().map_err(|_| invalid(code, "mask above 255"))?)
            }
            table::TCP => Self::Tcp(port_value(code, &value)?),
            table::UDP => Self::Udp(port_value(code, &value)?),
            table::DCCP => Self::Dccp(port_value(code, &value)?),
            table::SCTP => Self::Sctp(port_value(code, &value)?),
            table::IP6ZONE => Self::Ip6zone(owned_name(value)?),
            table::DNS => Self::Dns(owned_name(value)?),
            table::DNS4 => Self::Dns4(owned_name(value)?),
            table::DNS6 => Self::Dns6(owned_name(value)?),
            table::DNSADDR => Self::Dnsaddr(owned_name(value)?),
            table::SNI => Self::Sni(owned_name(value)?),
            table::MEMORY => Self::Memory(owned_name(value)?),
            table::UNIX => {
                unix_path(code, &value)?;
                Self::Unix(value)
            }
            table::P2P => Self::P2p(value.parse().map_err(|e| invalid(code, e))?),
            table::CERTHASH => {
                let bytes = multibase::decode(&value).ok_or_else(|| invalid(code, "not multibase"))?;
                check_multihash(code, &bytes)?;
                Self::Certhash(Cow::Owned(bytes))
            }
            _ => return Err(Error::UnknownProtocol(name.to_owned())),
        })
    }
}

impl fmt::Display for Component<'_> {
    /// `/<name>` or `/<name>/<value>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.name())?;
        match self {
            Self::Ip4(a) => write!(f, "/{a}"),
            Self::Ip6(a) => write!(f, "/{a}"),
            Self::Ipcidr(n) => write!(f, "/{n}"),
            Self::Tcp(p) | Self::Udp(p) | Self::Dccp(p) | Self::Sctp(p) => write!(f, "/{p}"),
            Self::Ip6zone(s)
            | Self::Dns(s)
            | Self::Dns4(s)
            | Self::Dns6(s)
            | Self::Dnsaddr(s)
            | Self::Sni(s)
            | Self::Memory(s) => {
                write!(f, "/{s}")
            }
            Self::Unix(path) => f.write_str(path), // absolute: it brings its own '/'

            Self::P2p(id) => write!(f, "/{id}"),
            Self::Certhash(b) => write!(f, "/{}", multibase::encode(multibase::Base::Base64Url, b)),
            _ => Ok(()),
        }
    }
}
