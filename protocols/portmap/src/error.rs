//! `portmap::Error`: what attaching a port mapper and talking to a gateway
//! can fail with, one enum for the crate.

use std::time::Duration;

/// What a port mapper can fail with. Failures of the running mapper are
/// reported as [`crate::Event::Failed`], carrying one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`crate::PortMapper::attach`] was called outside a tokio runtime.
    #[error("no tokio runtime: attach the port mapper from inside one")]
    NoRuntime,
    /// No gateway answered the SSDP search.
    #[error("gateway discovery: {0}")]
    Search(#[from] igd_next::SearchError),
    /// The gateway would not say its external IP.
    #[error("the gateway's external IP: {0}")]
    ExternalIp(#[from] igd_next::GetExternalIpError),
    /// The gateway's external IP is not an IPv4 address (mappings here
    /// are IPv4 only).
    #[error("the gateway reports a non-IPv4 external address {0}")]
    NotIpv4(std::net::IpAddr),
    /// The gateway refused the mapping (same port, then any port).
    #[error("adding the mapping: {0}")]
    Add(#[from] igd_next::AddAnyPortError),
    /// The gateway refused to renew the mapping on its port.
    #[error("renewing the mapping: {0}")]
    Renew(#[from] igd_next::AddPortError),
    /// The gateway refused to remove a mapping.
    #[error("removing the mapping: {0}")]
    Remove(#[from] igd_next::RemovePortError),
    /// No route to the gateway from this host (its LAN address is unknown).
    #[error("no local address routes to the gateway: {0}")]
    NoRoute(#[source] std::io::Error),
    /// A gateway request took longer than the bound.
    #[error("the gateway did not answer within {0:?}")]
    Timeout(Duration),
    /// The mapper holds [`crate::Config::with_max_mappings`] mappings already.
    #[error("at most {0} mappings")]
    TooManyMappings(usize),
}

/// The result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
