//! The seam between the exchange and the host's dialing: [`Puncher`].
//!
//! A hole punch needs things of the host that a plain `dial` does not
//! give: a **new** connection to a peer that is connected already
//! (through the relay), in a chosen **role** (spec: A is the client, B the
//! server, whoever's TCP SYN wins the simultaneous open), and for QUIC,
//! **punch packets** (B sends random UDP datagrams at A's address so that
//! A's dial gets through B's NAT). And after the upgrade, closing one
//! connection (the relayed one) while keeping the peer's others.
//!
//! [`HostPuncher`] implements it with the host's hole punch methods:
//! [`Host::dial_as`] (a new connection from the listen port, upgraded in
//! the role asked, so that two TCP dials meet in one simultaneous open)
//! and [`Host::hole_punch`] (QUIC punch packets), and closes the relayed
//! connection after a success with [`Host::close_connection`]. Tests put
//! a fake in its place ([`crate::Dcutr::attach_with`]).

use std::{future::Future, pin::Pin};

use strata_core::{Endpoint, Multiaddr, PeerId};
use strata_host::{ConnectionId, Host, WeakHost};

/// A boxed future, as [`Puncher`] returns (the trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the service dials, punches and closes: the host's methods, or a
/// fake in tests.
pub trait Puncher: Send + Sync + 'static {
    /// Makes a new direct connection to `addr`, even when the peer is
    /// connected, taking `role` on it; the remote's id.
    fn dial(&self, addr: Multiaddr, role: Endpoint) -> BoxFuture<'_, strata_host::Result<PeerId>>;

    /// Sends punch packets towards a QUIC `addr` (the spec's "UDP packets
    /// filled with random bytes … in random intervals between 10 and 200
    /// ms"); returns when done (the connection, if any, arrives through
    /// the listener). The default sends none.
    fn punch(&self, addr: Multiaddr) -> BoxFuture<'_, ()> {
        let _ = addr;
        Box::pin(std::future::ready(()))
    }

    /// Closes one connection of `peer`, keeping the others; whether it
    /// could.
    fn close(&self, peer: PeerId, connection: ConnectionId) -> BoxFuture<'_, bool>;
}

/// [`Puncher`] over a [`Host`] (held weakly: the service does not keep the
/// host alive).
#[derive(Clone, Debug)]
pub struct HostPuncher {
    host: WeakHost,
}

impl HostPuncher {
    /// Dials and punches through `host`.
    pub fn new(host: &Host) -> Self {
        Self { host: host.downgrade() }
    }
}

impl Puncher for HostPuncher {
    fn dial(&self, addr: Multiaddr, role: Endpoint) -> BoxFuture<'_, strata_host::Result<PeerId>> {
        Box::pin(async move {
            if self.host.is_shut_down() {
                return Err(strata_host::Error::ShutDown);
            }
            self.host.dial_as(addr, role).await
        })
    }

    fn punch(&self, addr: Multiaddr) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(error) = self.host.hole_punch(&addr).await {
                tracing::debug!(%addr, %error, "punching failed");
            }
        })
    }

    fn close(&self, peer: PeerId, connection: ConnectionId) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            tracing::debug!(%peer, ?connection, "closing the relayed connection");
            self.host.close_connection(connection).await
        })
    }
}
