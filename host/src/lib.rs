#![doc = include_str!("../README.md")]

mod admission;
mod builder;
mod config;
mod connection;
mod connections;
mod error;
mod event;
mod host;
mod lifecycle;
mod listener;
mod peer_store;
mod protocol;
mod request;
mod source;
mod stream;
mod upgrader;
mod weak;

pub use admission::{IpRange, Refusal};
pub use builder::Builder;
pub use config::Config;
pub use error::{BoxError, DialError, Error, Result};
pub use event::{ConnectionId, Event};
pub use host::{Host, MAX_EXTERNAL_ADDRS};
pub use lifecycle::{ConnectionEvent, Lifecycle, is_relayed};
pub use peer_store::PeerInfo;
pub use request::{RequestConfig, RequestError, Requester};
pub use source::{BoxConnection, BoxStream, ByteStreamObject};
pub use stream::Stream;
pub use upgrader::Upgrader;
pub use weak::WeakHost;

/// Whether this node can be dialed directly from the internet: one verdict
/// for all its addresses together.
///
/// **Who decides.** `AutoNAT` (`strata-autonat`'s `Client`) asks other peers
/// to dial each candidate address back, and concludes `Public` once one
/// address is confirmed, `Private` once none is and at least one is
/// confirmed unreachable. The host itself decides nothing: it keeps the
/// confirmed addresses ([`Host::external_addrs`]) and names the verdict.
///
/// **Who follows.** Auto-relay (`strata-relay`'s `AutoRelay`) keeps
/// reservations on relays while `Private` and lets them go once `Public`.
/// The two crates do not depend on each other: the application forwards
/// `AutoNAT`'s `ReachabilityChanged` verdict to `AutoRelay::set_reachability`
/// as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reachability {
    /// No verdict yet (nothing tested, or every verdict expired). Auto-relay
    /// keeps the reservations it has and makes none.
    #[default]
    Unknown,
    /// At least one address is confirmed reachable: peers can dial this node
    /// directly, no relay is needed.
    Public,
    /// No address is reachable, and at least one is confirmed unreachable
    /// (a NAT or firewall in the way): time for a relay.
    Private,
}
