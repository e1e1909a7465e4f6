//! The reachability side of `peer` (`INTEROP.md`: `--relay-server`,
//! `--relay`, `--auto-relay`, `--autonat`, and circuit addresses in
//! `dial`): serving circuit relay v2 and `AutoNAT` v2, keeping reservations
//! on relays (named, or picked by auto-relay), testing this node's
//! addresses, and what `connected` says of a connection.
//!
//! ```text
//! --relay-server ──▶ relay::Relay (hop) + autonat::Server (dial backs from a second host)
//! --relay R      ──▶ host.listen(R/p2p-circuit)                       ──▶ `reservation` {relay, addr}
//! --autonat      ──▶ autonat::Client ──▶ `reachability` {addr, reachable}
//! --upnp         ──▶ portmap::PortMapper ──▶ `port_mapped` {protocol, internal, external}
//!                         └─ external ──▶ autonat::Client::add_candidate (with --autonat)
//!                         └─ verdicts ──▶ --auto-relay: relay::AutoRelay ──▶ `reservation` {relay, addr}
//!                                         (candidates: peers serving hop, found by identify and --kad)
//! connection     ──▶ `connected` {peer_id, remote_addr, relayed}
//! ```

use std::{sync::Arc, time::Duration};

use serde_json::json;
use strata::{Host, Keypair, Multiaddr, PeerId, autonat, dcutr, kad::Kad, multiaddr::Component, portmap, relay};

use crate::{Cli, emit};

/// What keeps the reachability services running (dropped with the node).
pub(crate) struct Reach {
    _relay: Option<relay::Relay>,
    _autonat_server: Option<autonat::Server>,
    _autonat: Option<autonat::Client>,
    _auto_relay: Option<Arc<relay::AutoRelay>>,
    portmap: Option<portmap::PortMapper>,
}

impl Reach {
    /// Removes the port mappings (bounded): before the host shuts down.
    pub(crate) async fn shutdown(self) {
        if let Some(mapper) = self.portmap {
            mapper.shutdown().await;
        }
    }
}

/// Starts what the flags ask for: on a listening node all of them, on a
/// dialing one `--autonat` only.
pub(crate) async fn start(
    cli: &Cli,
    host: &Host,
    relay_client: &relay::Client,
    kad: Option<&Kad>,
    dcutr: Option<&dcutr::Dcutr>,
) -> Result<Reach, String> {
    let hop = if cli.relay_server {
        Some(relay::Relay::attach(host, relay::Config::default()).map_err(|e| format!("--relay-server: {e}"))?)
    } else {
        None
    };
    let autonat_server = if cli.relay_server { Some(autonat_server(cli, host).await?) } else { None };
    // The AutoNAT client also knows where peers observe us (identify's
    // observed addresses, translated to our listen ports): what a hole
    // punch offers. So it runs with hole punching too; only `--autonat`
    // prints its verdicts.
    let autonat = if cli.autonat || dcutr.is_some() {
        let config = autonat::ClientConfig::default().with_private_addrs(cli.private_addrs);
        let client = autonat::Client::attach(host, config).map_err(|e| format!("--autonat: {e}"))?;
        if cli.autonat {
            tokio::spawn(print_reachability(client.events()));
        }
        if let Some(dcutr) = dcutr {
            let observed = client.clone();
            dcutr.observed_addrs_from(move || observed.candidates());
        }
        Some(client)
    } else {
        None
    };
    let auto_relay = if cli.auto_relay {
        // Without AutoNAT there is no verdict to wait for: reserve at once.
        let config = relay::AutoRelayConfig::default().with_always(!cli.autonat).with_private_relays(cli.private_addrs);
        let auto = relay::AutoRelay::attach(host, relay_client, config).map_err(|e| format!("--auto-relay: {e}"))?;
        let auto = Arc::new(auto);
        tokio::spawn(print_reservations(host.peer_id(), auto.events()));
        if let Some(client) = autonat.as_ref().filter(|_| cli.autonat) {
            tokio::spawn(follow_verdicts(client.events(), Arc::clone(&auto)));
        }
        if let Some(kad) = kad {
            tokio::spawn(find_relays_in_the_dht(host.clone(), kad.clone(), Arc::clone(&auto)));
        }
        Some(auto)
    } else {
        None
    };
    for addr in &cli.relays {
        reserve(host, addr).await;
    }
    let portmap = if cli.upnp { Some(port_map(host, autonat.clone().filter(|_| cli.autonat))?) } else { None };
    Ok(Reach { _relay: hop, _autonat_server: autonat_server, _autonat: autonat, _auto_relay: auto_relay, portmap })
}

/// The `AutoNAT` server: its dial backs come from a second host of its own
/// (a fresh identity, the same transports), so that each is a new
/// connection, as go-libp2p does it.
async fn autonat_server(cli: &Cli, host: &Host) -> Result<autonat::Server, String> {
    let dialer_key = Keypair::generate_ed25519();
    let (dialer, _relay_client) = crate::build_host(crate::host_builder(cli, &dialer_key)).await?;
    let config =
        autonat::ServerConfig::default().with_private_addrs(cli.private_addrs).with_serve_always(cli.private_addrs);
    autonat::Server::attach(host, dialer, config).map_err(|e| format!("--relay-server (AutoNAT): {e}"))
}

/// `--upnp`: maps the listen ports on the gateway; prints `port_mapped`
/// for each mapping (and hands its address to `AutoNAT` to test), `error`
/// for each failure (the mapper retries).
fn port_map(host: &Host, autonat: Option<autonat::Client>) -> Result<portmap::PortMapper, String> {
    let mapper = portmap::PortMapper::attach(host, portmap::Config::default()).map_err(|e| format!("--upnp: {e}"))?;
    let mut events = mapper.events();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(portmap::Event::Mapped { protocol, internal, external }) => {
                    emit(
                        "port_mapped",
                        json!({ "protocol": protocol.to_string(), "internal": internal.to_string(), "external": external.to_string() }),
                    );
                    if let Some(autonat) = &autonat {
                        autonat.add_candidate(&external);
                    }
                }
                Ok(portmap::Event::Failed { internal, reason }) => {
                    let on = internal.map(|addr| format!(" for {addr}")).unwrap_or_default();
                    emit("error", json!({ "reason": format!("port mapping{on}: {reason}") }));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            }
        }
    });
    Ok(mapper)
}

/// Prints `reachability` for each verdict on one of our addresses.
async fn print_reachability(mut events: tokio::sync::broadcast::Receiver<autonat::Event>) {
    loop {
        match events.recv().await {
            Ok(autonat::Event::Reachability { addr, reachable }) => {
                emit("reachability", json!({ "addr": addr.to_string(), "reachable": reachable }));
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
        }
    }
}

/// Prints `reservation` for each circuit address auto-relay gains (as
/// this node's address: `…/p2p-circuit/p2p/<local>`).
async fn print_reservations(local: PeerId, mut events: tokio::sync::broadcast::Receiver<relay::AutoRelayEvent>) {
    loop {
        match events.recv().await {
            Ok(relay::AutoRelayEvent::ReservationAdded { relay, addrs }) => {
                for addr in addrs {
                    let addr = addr.clone().with_p2p(local).unwrap_or(addr);
                    emit("reservation", json!({ "relay": relay.to_string(), "addr": addr.to_string() }));
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
        }
    }
}

/// Forwards `AutoNAT`'s overall verdict to auto-relay: unreachable keeps
/// reservations, reachable lets them go.
async fn follow_verdicts(mut events: tokio::sync::broadcast::Receiver<autonat::Event>, auto: Arc<relay::AutoRelay>) {
    loop {
        match events.recv().await {
            Ok(autonat::Event::ReachabilityChanged(verdict)) => auto.set_reachability(verdict),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
        }
    }
}

/// Walks the DHT now and then: the peers a lookup meets are dialed and
/// identified, and those that serve hop become auto-relay's candidates.
async fn find_relays_in_the_dht(host: Host, kad: Kad, auto: Arc<relay::AutoRelay>) {
    let mut round = tokio::time::interval(Duration::from_secs(30));
    loop {
        round.tick().await;
        let Ok((peers, _)) = kad.closest_peers(&host.peer_id().to_bytes()).await else { continue };
        let relays = peers.into_iter().filter(|peer| {
            host.peer_info(*peer).is_some_and(|info| info.protocols.iter().any(|p| p == relay::HOP_PROTOCOL))
        });
        auto.add_candidates(relays);
    }
}

/// Keeps a reservation on the relay at `addr` (which names the relay's
/// `/p2p/<id>`), printing `reservation`, or `error` when the relay
/// refuses; the node runs on either way.
async fn reserve(host: &Host, addr: &Multiaddr) {
    let Some(relay) = addr.peer_id() else {
        emit("error", json!({ "reason": format!("--relay {addr}: the address must end in /p2p/<relay id>") }));
        return;
    };
    let mut circuit = addr.clone();
    if !strata::host::is_relayed(&circuit) {
        circuit.push(Component::P2pCircuit);
    }
    match host.listen(circuit).await {
        Ok(addrs) => {
            for addr in addrs {
                let addr = addr.clone().with_p2p(host.peer_id()).unwrap_or(addr);
                emit("reservation", json!({ "relay": relay.to_string(), "addr": addr.to_string() }));
            }
        }
        Err(error) => emit("error", json!({ "reason": format!("reservation on {relay} failed: {error}") })),
    }
}

/// Prints `connected` for a connection to `peer` at `remote_addr`.
pub(crate) fn connected(peer: PeerId, remote_addr: &Multiaddr) {
    emit(
        "connected",
        json!({
            "peer_id": peer.to_string(),
            "remote_addr": remote_addr.to_string(),
            "relayed": strata::host::is_relayed(remote_addr),
        }),
    );
}
