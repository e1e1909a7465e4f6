//! Multiaddr: self-describing network addresses such as
//! `/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…`.
//!
//! Spec: `multiaddr.md` ("Specification") and `multiaddr-protocols.csv`.
//!
//! A [`Multiaddr`] holds its binary form, `(<code uvarint><value>)+`, which
//! is what travels on the wire (in identify) and what equality compares.
//! Every way in validates it completely, so iterating the
//! [`Component`]s of a `Multiaddr` cannot fail:
//!
//! ```text
//! "/ip4/1.2.3.4/tcp/80" ──FromStr──▶ Multiaddr { 04 01020304 06 0050 } ──iter()──▶ Ip4(1.2.3.4), Tcp(80)
//!                      ◀──Display──                                ◀──push()──
//!          bytes from a peer ──try_from──▶ (validated, or a typed Error)
//! ```
//!
//! Limits: the binary form is at most [`MAX_LEN`] bytes and the text form at
//! most [`MAX_TEXT_LEN`]; unknown protocols, truncated values, bad ports and
//! addresses, empty values and trailing slashes are errors, never panics.

mod component;
mod dns;
mod scope;
mod table;

use std::{borrow::Cow, fmt, str::FromStr};

pub use component::Component;
pub use dns::DnsFamily;
pub use scope::Scope;

use crate::{Error, PeerId, Result};

/// The longest binary multiaddr accepted, in bytes.
pub const MAX_LEN: usize = 1024;
/// The longest text multiaddr accepted, in bytes. It covers the text of
/// every binary multiaddr of up to [`MAX_LEN`] bytes, so that any address
/// accepted in one form is accepted in the other: the widest component is
/// `/webrtc-direct`, 14 characters for 2 bytes.
pub const MAX_TEXT_LEN: usize = 8 * MAX_LEN;

/// A network address made of [`Component`]s, outermost protocol last.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Multiaddr {
    bytes: Vec<u8>,
}

impl Multiaddr {
    /// The multiaddr with no components.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A multiaddr from its binary form, validated component by component.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_LEN {
            return Err(Error::InvalidMultiaddr(format!("{} bytes, limit {MAX_LEN}", bytes.len())));
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            rest = Component::read_bytes(rest)?.1;
        }
        Ok(Self { bytes: bytes.to_vec() })
    }

    /// The binary form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The binary form, owned.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// Whether there are no components.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The components, first (innermost) to last.
    pub fn iter(&self) -> Iter<'_> {
        Iter { rest: &self.bytes }
    }

    /// Appends a component.
    #[allow(clippy::needless_pass_by_value)] // by value reads best: `addr.push(Component::Tcp(80))`
    pub fn push(&mut self, component: Component<'_>) {
        component.write_bytes(&mut self.bytes);
    }

    /// This multiaddr with `component` appended.
    #[must_use]
    #[allow(clippy::needless_pass_by_value)] // as `push`
    pub fn with(mut self, component: Component<'_>) -> Self {
        self.push(component);
        self
    }

    /// Removes and returns the last component.
    pub fn pop(&mut self) -> Option<Component<'static>> {
        let mut last_start = None;
        let mut rest: &[u8] = &self.bytes;
        while !rest.is_empty() {
            last_start = Some(self.bytes.len() - rest.len());
            rest = Component::read_bytes(rest).ok()?.1;
        }
        let start = last_start?;
        let (component, _) = Component::read_bytes(self.bytes.get(start..)?).ok()?;
        let component = component.into_owned();
        self.bytes.truncate(start);
        Some(component)
    }

    /// The IP a leading `/ip4/…` or `/ip6/…` component names, if the
    /// address starts with one (the IP of a connection's remote address).
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self.iter().next()? {
            Component::Ip4(ip) => Some(ip.into()),
            Component::Ip6(ip) => Some(ip.into()),
            _ => None,
        }
    }

    /// `/ip4/<a>` or `/ip6/<a>` for an IP; an IPv4-mapped IPv6 address (a
    /// v4 peer on a dual-stack socket) is written as the IPv4 address it
    /// is. Transports append their own components (`/tcp/<p>`, …).
    pub fn from_ip(ip: std::net::IpAddr) -> Self {
        match ip.to_canonical() {
            std::net::IpAddr::V4(ip) => Self::from(Component::Ip4(ip)),
            std::net::IpAddr::V6(ip) => Self::from(Component::Ip6(ip)),
        }
    }

    /// The peer id of a trailing `/p2p/<id>` component, if there is one.
    pub fn peer_id(&self) -> Option<PeerId> {
        match self.iter().last() {
            Some(Component::P2p(id)) => Some(id),
            _ => None,
        }
    }

    /// This multiaddr without its trailing `/p2p/<id>` (unchanged if it has
    /// none): the part a transport dials.
    #[must_use]
    pub fn without_peer_id(&self) -> Self {
        let mut addr = self.clone();
        if addr.peer_id().is_some() {
            addr.pop();
        }
        addr
    }

    /// This multiaddr ending in `/p2p/<peer_id>`: appended if it has no
    /// trailing peer id, unchanged if it names this one already, and
    /// `Err(self)` if it names another.
    pub fn with_p2p(self, peer_id: PeerId) -> Result<Self, Self> {
        match self.peer_id() {
            None => Ok(self.with(Component::P2p(peer_id))),
            Some(id) if id == peer_id => Ok(self),
            Some(_) => Err(self),
        }
    }
}

/// Iterator over the components of a [`Multiaddr`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = Component<'a>;

    fn next(&mut self) -> Option<Component<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // The bytes were validated when the multiaddr was built.
        let (component, rest) = Component::read_bytes(self.rest).ok()?;
        self.rest = rest;
        Some(component)
    }
}

impl<'a> IntoIterator for &'a Multiaddr {
    type Item = Component<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> FromIterator<Component<'a>> for Multiaddr {
    fn from_iter<I: IntoIterator<Item = Component<'a>>>(components: I) -> Self {
        let mut addr = Self::empty();
        for component in components {
            addr.push(component);
        }
        addr
    }
}

impl From<Component<'_>> for Multiaddr {
    fn from(component: Component<'_>) -> Self {
        Self::empty().with(component)
    }
}

impl TryFrom<Vec<u8>> for Multiaddr {
    type Error = Error;

    fn try_from(bytes: Vec<u8>) -> Result<Self> {
        Self::from_bytes(&bytes)
    }
}

impl TryFrom<&[u8]> for Multiaddr {
    type Error = Error;

    fn try_from(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes(bytes)
    }
}

impl FromStr for Multiaddr {
    type Err = Error;

    /// Parses the text form. The empty string is the empty multiaddr;
    /// anything else starts with `/`, and has no empty segment (so no
    /// trailing slash).
    fn from_str(text: &str) -> Result<Self> {
        if text.len() > MAX_TEXT_LEN {
            return Err(Error::InvalidMultiaddr(format!("text longer than {MAX_TEXT_LEN} bytes")));
        }
        let mut addr = Self::empty();
        if text.is_empty() {
            return Ok(addr);
        }
        let mut segments = text.split('/');
        if segments.next() != Some("") {
            return Err(Error::InvalidMultiaddr("must start with '/'".into()));
        }
        while let Some(name) = segments.next() {
            if name.is_empty() {
                return Err(Error::InvalidMultiaddr("empty segment (a trailing or doubled '/')".into()));
            }
            let value: Cow<'_, str> = match table::by_name(name).map(|spec| (spec.code, spec.size)) {
                None => return Err(Error::UnknownProtocol(name.to_owned())),
                Some((_, table::Size::Zero)) => Cow::Borrowed(""),
                Some((table::UNIX, _)) => {
                    // A path: the rest of the text is its value.
                    let path: Vec<&str> = segments.by_ref().collect();
                    if path.iter().any(|segment| segment.is_empty()) {
                        return Err(Error::InvalidMultiaddr("/unix: empty path segment".into()));
                    }
                    Cow::Owned(format!("/{}", path.join("/")))
                }
                Some(_) => match segments.next() {
                    Some(value) if !value.is_empty() => Cow::Borrowed(value),
                    _ => return Err(Error::InvalidMultiaddr(format!("/{name} needs a value"))),
                },
            };
            addr.push(Component::from_text(name, value)?);
        }
        if addr.bytes.len() > MAX_LEN {
            return Err(Error::InvalidMultiaddr(format!("binary form over {MAX_LEN} bytes")));
        }
        Ok(addr)
    }
}

impl fmt::Display for Multiaddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.iter().try_for_each(|component| write!(f, "{component}"))
    }
}

impl fmt::Debug for Multiaddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Multiaddr({self})")
    }
}
