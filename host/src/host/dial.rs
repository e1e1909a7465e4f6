//! Dialing, seen from the host's handle: an address is resolved (when the
//! host has a resolver), then each address it stands for is dialed in
//! turn, with the first source that serves it, until one connects.
//!
//! ```text
//! dial(/dnsaddr/a.example/p2p/QmA) ─▶ resolver ─▶ [/ip4/…/tcp/1/p2p/QmA, /ip4/…/udp/1/quic-v1/p2p/QmA]
//!                                                   └─ dial_one: TCP upgrader ── fails ─▶ DialFailed event, next
//!                                                                                    └─ dial_one: QUIC ── connects ─▶ QmA
//! ```

use std::{sync::Arc, time::Instant};

use strata_core::{Endpoint, Multiaddr, PeerId};

use crate::{DialError, Error, Event, Host, Result};

impl Host {
    /// Connects to `addr`. A trailing `/p2p/<id>` is checked: a remote that
    /// proves another identity fails the dial. If that peer is connected
    /// already, its connection is reused. Returns the remote's peer id.
    /// A relayed address (`…/p2p/<relay>/p2p-circuit/p2p/<id>`) reaches its
    /// source whole, trailing peer id included (the relay transport asks
    /// the relay for that peer).
    ///
    /// With a resolver ([`crate::Builder::resolver`]; the `strata` facade
    /// installs one), an address that starts with a name (`/dnsaddr/…`,
    /// `/dns4/…`) is resolved first, and the addresses it stands for are
    /// dialed one after another, in the resolver's order, until one
    /// connects. Each failed dial is reported ([`Event::DialFailed`]), and
    /// a failed resolution too ([`DialError::Resolve`]).
    ///
    /// Fails with [`Error::Dial`]: the last address's [`DialError`] (the
    /// same kinds over every transport), or
    /// [`DialError::UnsupportedAddress`] when no source serves any of
    /// them; or [`Error::ShutDown`].
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId> {
        let expected = addr.peer_id();
        if let Some(peer) = expected.filter(|peer| self.is_connected(*peer)) {
            return Ok(peer);
        }
        let targets = self.resolve(&addr).await?;
        let mut last_failure = None;
        for target in targets {
            if self.inner.shutdown.is_cancelled() {
                return Err(Error::ShutDown);
            }
            // What a `/p2p/<id>` address resolves to is that peer's.
            let target = match expected.map(|peer| target.clone().with_p2p(peer)) {
                None => target,
                Some(Ok(target)) => target,
                Some(Err(other)) => {
                    tracing::debug!(%addr, resolved = %other, "skipping a resolved address of another peer");
                    continue;
                }
            };
            match self.dial_one(target).await {
                Ok(peer) => return Ok(peer),
                Err(Error::Dial(error)) if matches!(*error, DialError::UnsupportedAddress { .. }) => {}
                Err(error @ Error::Dial(_)) => last_failure = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_failure.unwrap_or_else(|| Error::Dial(Arc::new(DialError::UnsupportedAddress { addr }))))
    }

    /// Whether one of this host's connection sources serves `addr` (a
    /// trailing `/p2p/<id>` aside): its transport is supported. Says
    /// nothing of whether a dial would connect; a name (`/dns4/…`) counts
    /// only if a source dials it as is.
    pub fn can_dial(&self, addr: &Multiaddr) -> bool {
        let target = if crate::is_relayed(addr) { addr.clone() } else { addr.without_peer_id() };
        self.inner.source_for_dial(&target).is_some()
    }

    /// The addresses to dial for `addr`: itself without a resolver.
    async fn resolve(&self, addr: &Multiaddr) -> Result<Vec<Multiaddr>> {
        let Some(resolver) = &self.inner.resolver else {
            return Ok(vec![addr.clone()]);
        };
        let outcome = tokio::select! {
            () = self.inner.shutdown.cancelled() => return Err(Error::ShutDown),
            outcome = resolver.resolve(addr) => outcome,
        };
        match outcome {
            Ok(addrs) if addrs.is_empty() => {
                let error = DialError::Resolve { addr: addr.clone(), source: "resolved to no address".into() };
                Err(self.dial_failed(error))
            }
            Ok(addrs) => {
                if addrs.len() != 1 || addrs[0] != *addr {
                    tracing::debug!(%addr, resolved = ?addrs, "resolved");
                }
                Ok(addrs)
            }
            Err(source) => Err(self.dial_failed(DialError::Resolve { addr: addr.clone(), source })),
        }
    }

    /// Dials one address that needs no resolving.
    async fn dial_one(&self, addr: Multiaddr) -> Result<PeerId> {
        let expected = addr.peer_id();
        if let Some(peer) = expected.filter(|peer| self.is_connected(*peer)) {
            return Ok(peer);
        }
        // A circuit address keeps its target (`…/p2p-circuit/p2p/<id>`): the
        // relay transport asks the relay for that peer. Any other address
        // is dialed without its peer id, which only the upgrade checks.
        let target = if crate::is_relayed(&addr) { addr.clone() } else { addr.without_peer_id() };
        let Some(source) = self.inner.source_for_dial(&target) else {
            return Err(Error::Dial(Arc::new(DialError::UnsupportedAddress { addr })));
        };
        let _slot = self.inner.pending_dials.acquire().await.map_err(|_| Error::ShutDown)?;
        let dial = source.dial(target.clone(), expected);
        let outcome = tokio::select! {
            () = self.inner.shutdown.cancelled() => return Err(Error::ShutDown),
            outcome = dial => outcome,
        };
        let upgraded = outcome.map_err(|error| self.dial_failed(DialError::classify(addr.clone(), error)))?;
        let peer = upgraded.peer;
        self.inner.peers().add_addr(peer, target.clone(), Instant::now());
        match self.inner.add_connection(upgraded, Endpoint::Dialer, target).await {
            Ok(_) => Ok(peer),
            Err(Error::ShutDown) => Err(Error::ShutDown),
            Err(error) => Err(self.dial_failed(DialError::classify(addr, error))),
        }
    }

    /// Dials `addr` for a hole punch, and upgrades the connection as
    /// `role` (`libp2p-relay-DCUtR.md`, "Simultaneous Connect": in a TCP
    /// hole punch both peers dial, and "`A` is assumed to be the client
    /// and `B` the server"; the spec's `B`, the peer that started the
    /// exchange, dials with [`Endpoint::Listener`]). Returns the remote's
    /// peer id.
    ///
    /// Unlike [`Host::dial`]: the address is dialed as it is (no resolver),
    /// always as a new connection, even beside one to the same peer (the
    /// relayed connection a hole punch replaces), and from the port the
    /// host listens on, with no fallback to another one (a dial from
    /// elsewhere punches nothing; see
    /// `strata_core::Transport::dial_from_listen_port`). With
    /// [`Endpoint::Listener`] the upgrade runs the listener's side of
    /// multistream-select and the responder's side of the security
    /// handshake on this outbound socket: it meets a peer that dials as
    /// the dialer at the same moment, in one TCP connection (a
    /// simultaneous open). A trailing `/p2p/<id>` is checked as in `dial`.
    ///
    /// The connection is reported ([`Event::ConnectionEstablished`],
    /// lifecycle hooks) with [`Endpoint::Dialer`], whatever the role: the
    /// endpoint says who opened the socket (and counts against outbound,
    /// not inbound, limits); the role only chose the sides of the
    /// handshakes (rust-libp2p reports `Dialer { role_override }` alike).
    ///
    /// Only the host's own upgraders (TCP) dial as [`Endpoint::Listener`];
    /// other sources fail with [`DialError::UnsupportedAddress`]. For
    /// QUIC, the listener's side of a hole punch is
    /// [`Host::hole_punch`]. Fails with [`Error::Dial`] or
    /// [`Error::ShutDown`], and reports [`Event::DialFailed`].
    pub async fn dial_as(&self, addr: Multiaddr, role: Endpoint) -> Result<PeerId> {
        let expected = addr.peer_id();
        let target = addr.without_peer_id();
        let Some(source) = self.inner.source_for_dial(&target) else {
            return Err(Error::Dial(Arc::new(DialError::UnsupportedAddress { addr })));
        };
        let _slot = self.inner.pending_dials.acquire().await.map_err(|_| Error::ShutDown)?;
        let dial = source.dial_as(target.clone(), expected, role);
        let outcome = tokio::select! {
            () = self.inner.shutdown.cancelled() => return Err(Error::ShutDown),
            outcome = dial => outcome,
        };
        let upgraded = outcome.map_err(|error| self.dial_failed(DialError::classify(addr.clone(), error)))?;
        let peer = upgraded.peer;
        tracing::debug!(%peer, %target, ?role, "hole punch dial connected");
        match self.inner.add_connection(upgraded, Endpoint::Dialer, target).await {
            Ok(_) => Ok(peer),
            Err(Error::ShutDown) => Err(Error::ShutDown),
            Err(error) => Err(self.dial_failed(DialError::classify(addr, error))),
        }
    }

    /// Opens the way for the peer at `addr` to connect to us, for a hole
    /// punch (`libp2p-relay-DCUtR.md`, "Simultaneous Connect", for a QUIC
    /// address: "`B` starts to send UDP packets filled with random bytes
    /// to `A`'s address" while `A` dials). The source serving `addr` does
    /// it: QUIC sends packets of random bytes from its listening socket,
    /// every 10 to 200 ms, until the remote's connection arrives or its
    /// handshake timeout passes; a TCP upgrader has nothing to do (there,
    /// both sides dial: [`Host::dial_as`]). Returns when done, `Ok` whether
    /// the connection came or not: it arrives through the listener like
    /// any inbound connection ([`Event::ConnectionEstablished`]), which is
    /// what to wait for. A trailing `/p2p/<id>` is ignored.
    ///
    /// Fails with [`Error::UnsupportedAddress`] when no source serves
    /// `addr`, [`Error::ShutDown`], or the source's error (a socket that
    /// cannot send).
    pub async fn hole_punch(&self, addr: &Multiaddr) -> Result<()> {
        let target = addr.without_peer_id();
        let Some(source) = self.inner.source_for_dial(&target) else {
            return Err(Error::UnsupportedAddress(addr.clone()));
        };
        tokio::select! {
            () = self.inner.shutdown.cancelled() => Err(Error::ShutDown),
            outcome = source.hole_punch(target) => outcome,
        }
    }

    /// Reports a failed dial, and returns the error to give.
    fn dial_failed(&self, error: DialError) -> Error {
        tracing::debug!(%error, "dial failed");
        let error = Arc::new(error);
        self.inner.emit(Event::DialFailed { addr: error.addr().clone(), error: Arc::clone(&error) });
        Error::Dial(error)
    }
}
