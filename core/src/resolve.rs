//! `AddressResolver`: turning a name into addresses a transport can dial.
//!
//! Spec: `libp2p-addressing.md`, "IP and Name Resolution" (`/dns`,
//! `/dns4`, `/dns6`, and `/dnsaddr` links in TXT records).
//!
//! A transport dials sockets; a name (`/dnsaddr/bootstrap.example`,
//! `/dns4/node.example/udp/4001/quic-v1`) says where to find them. A host
//! with a resolver hands it each address it is asked to dial, and dials
//! what comes back, in order, until one connects:
//!
//! ```text
//! dial /dnsaddr/a.example/p2p/Qm… ─▶ resolver ─▶ /ip4/…/tcp/4001/p2p/Qm…      ─▶ the first source that serves it
//!                                            └▶ /ip4/…/udp/4001/quic-v1/p2p/Qm… (tried if the first fails)
//! ```
//!
//! The trait lives here so that the host can call a resolver knowing only
//! `core`; `strata-dns` implements it, and the `strata` facade installs it.
//! The future is boxed: the host keeps its resolver as a trait object, and
//! one allocation per dial is nothing next to a DNS query or a handshake.

use std::{future::Future, pin::Pin};

use crate::Multiaddr;

/// What resolving can fail with: the resolver's own error, boxed (downcast
/// it to the resolver's type, `strata_dns::Error` for example).
pub type ResolveError = Box<dyn std::error::Error + Send + Sync>;

/// The future [`AddressResolver::resolve`] returns.
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Multiaddr>, ResolveError>> + Send + 'a>>;

/// Expands one address into the addresses to dial in its place.
pub trait AddressResolver: Send + Sync + 'static {
    /// The addresses `addr` stands for, most preferred first. An address
    /// with nothing to resolve comes back unchanged, as the only element.
    /// A trailing `/p2p/<id>` is kept on every address resolved from it.
    /// Implementations bound the work (time, lookups, addresses) by their
    /// own configuration, and return an error rather than an empty list.
    fn resolve<'a>(&'a self, addr: &'a Multiaddr) -> ResolveFuture<'a>;
}
