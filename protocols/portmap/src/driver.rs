//! The driver: the one task that talks to the gateway. It follows the
//! host's listen addresses, asks the [`Table`] what is due, and does it
//! with `igd-next` (SSDP search, `AddPortMapping`, `DeletePortMapping`),
//! every request bounded by [`Config::with_request_timeout`].
//!
//! ```text
//! host events (listen addr added/expired) ─┐
//! the table's next deadline ───────────────┼─▶ search gateway? ─▶ map / renew ─▶ Event, Shared
//! handle dropped / shutdown / host gone ───┘─▶ remove every mapping (bounded) ─▶ stop
//! ```

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket},
    sync::Arc,
    time::Duration,
};

use igd_next::{
    SearchOptions,
    aio::{Gateway as IgdGateway, tokio::Tokio},
};
use strata_host::WeakHost;
use tokio::{
    sync::{broadcast, mpsc, oneshot},
    time::{Instant, timeout},
};

use crate::{
    Config, Discovery, Error, Event, Mapping, Result,
    mapper::{Command, Shared},
    table::{Due, Gone, Key, Table, external_addr, targets},
};

/// A gateway found: how to reach it, our address on its LAN, its
/// external IP.
struct Gateway {
    igd: IgdGateway<Tokio>,
    local: Ipv4Addr,
    external: Ipv4Addr,
}

pub(crate) struct Driver {
    host: WeakHost,
    config: Config,
    table: Table,
    gateway: Option<Gateway>,
    /// When the next search may run (after a failed one).
    next_search: Instant,
    shared: Arc<Shared>,
    events: broadcast::Sender<Event>,
    commands: mpsc::Receiver<Command>,
    host_gone: oneshot::Receiver<()>,
}

impl Driver {
    pub(crate) fn new(
        host: WeakHost,
        config: Config,
        shared: Arc<Shared>,
        events: broadcast::Sender<Event>,
        commands: mpsc::Receiver<Command>,
        host_gone: oneshot::Receiver<()>,
    ) -> Self {
        let table = Table::new(config.lease, config.retry, config.max_mappings);
        Self { host, config, table, gateway: None, next_search: Instant::now(), shared, events, commands, host_gone }
    }

    pub(crate) async fn run(mut self) {
        let mut host_events = self.host.events();
        let done = loop {
            self.work().await;
            let deadline = self.deadline();
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(done)) => break Some(done),
                    None => break None,
                },
                _ = &mut self.host_gone => break None,
                event = host_events.recv() => match event {
                    Ok(strata_host::Event::ListenAddr { .. } | strata_host::Event::ListenAddrExpired { .. })
                    | Err(broadcast::error::RecvError::Lagged(_)) => self.sync(),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Closed) => break None,
                },
                () = sleep_until(deadline) => {}
            }
        };
        self.remove_all().await;
        if let Some(done) = done {
            let _ = done.send(());
        }
        tracing::debug!("port mapper stopped");
    }

    /// When to wake up by ourselves: the table's next deadline, or the
    /// next search when there is something to map and no gateway.
    fn deadline(&self) -> Option<Instant> {
        match &self.gateway {
            Some(_) => self.table.next_deadline().map(Instant::from_std),
            None if self.has_candidates() => Some(self.next_search),
            None => None,
        }
    }

    /// Whether some listen address could be mapped (a private IPv4 over
    /// TCP or UDP), which is worth a gateway search.
    fn has_candidates(&self) -> bool {
        self.host.listen_addrs().iter().any(|addr| match addr.ip() {
            // `targets` with the address's own IP: the checks but "on the
            // gateway's LAN", which needs the gateway.
            Some(IpAddr::V4(ip)) => !targets(std::slice::from_ref(addr), ip).is_empty(),
            _ => false,
        })
    }

    /// Searches the gateway if needed, then does what is due.
    async fn work(&mut self) {
        if self.gateway.is_none() && self.has_candidates() && Instant::now() >= self.next_search {
            match self.search().await {
                Ok(gateway) => {
                    tracing::info!(gateway = %gateway.igd.addr, local = %gateway.local, external = %gateway.external, "found the gateway");
                    self.gateway = Some(gateway);
                    self.sync();
                }
                Err(error) => {
                    tracing::debug!(%error, "no gateway");
                    self.next_search = Instant::now() + self.config.retry;
                    self.emit(Event::Failed { internal: None, reason: Arc::new(error) });
                }
            }
        }
        let Some(gateway) = &self.gateway else { return };
        let mut forget = false;
        for due in self.table.due(std::time::Instant::now()) {
            let (key, result) = match due {
                Due::Map(key) => (key, self.map(gateway, key).await),
                Due::Renew(key, port) => (key, self.renew(gateway, key, port).await.map(|()| port)),
            };
            let now = std::time::Instant::now();
            match result {
                Ok(port) => {
                    let external = SocketAddrV4::new(gateway.external, port);
                    if let Some((internal, true)) = self.table.mapped(key, port, now) {
                        let external = external_addr(&internal, external);
                        tracing::info!(protocol = %key.0, %internal, %external, "mapped");
                        let mapping = Mapping { protocol: key.0, internal, external };
                        self.shared.insert(mapping.clone());
                        let Mapping { protocol, internal, external } = mapping;
                        self.emit(Event::Mapped { protocol, internal, external });
                    }
                }
                Err(error) => {
                    let internal = self.table.addr(key).cloned();
                    tracing::debug!(protocol = %key.0, internal = ?internal, %error, "mapping failed");
                    if let Some(gone) = self.table.failed(key, now) {
                        self.lost(gateway.external, gone);
                    }
                    self.emit(Event::Failed { internal, reason: Arc::new(error) });
                    forget = true;
                }
            }
        }
        if forget {
            // The gateway may have gone or changed (a new router, a new
            // address): search again before the retry.
            self.gateway = None;
            self.next_search = Instant::now() + self.config.retry;
        }
    }

    /// Follows the host's listen addresses: new ones are wanted, mappings
    /// of gone ones are removed (in the background, bounded).
    fn sync(&mut self) {
        let Some(gateway) = &self.gateway else { return };
        let (local, external, igd) = (gateway.local, gateway.external, gateway.igd.clone());
        let (gone, refused) =
            self.table.set_targets(targets(&self.host.listen_addrs(), local), std::time::Instant::now());
        for target in refused {
            let reason = Arc::new(Error::TooManyMappings(self.config.max_mappings));
            self.emit(Event::Failed { internal: Some(target.addr), reason });
        }
        for gone in gone {
            let (protocol, port, limit) = (gone.key.0, gone.external_port, self.config.request_timeout);
            let igd = igd.clone();
            tokio::spawn(async move {
                if let Err(error) = remove(&igd, protocol.into(), port, limit).await {
                    tracing::debug!(%error, port, "removing a mapping failed");
                }
            });
            self.lost(external, gone);
        }
    }

    fn lost(&self, external_ip: Ipv4Addr, gone: Gone) {
        let external = external_addr(&gone.addr, SocketAddrV4::new(external_ip, gone.external_port));
        tracing::info!(protocol = %gone.key.0, internal = %gone.addr, %external, "unmapped");
        self.shared.remove(gone.key.0, &gone.addr);
        self.emit(Event::Unmapped { protocol: gone.key.0, internal: gone.addr, external });
    }

    async fn search(&self) -> Result<Gateway> {
        let mut options = SearchOptions { timeout: Some(self.config.search_timeout), ..SearchOptions::default() };
        if let Discovery::Gateway(addr) = self.config.discovery {
            options.broadcast_address = addr;
        }
        let igd = igd_next::aio::tokio::search_gateway(options).await?;
        let local = local_ip_towards(igd.addr)?;
        let external = match timeout(self.config.request_timeout, igd.get_external_ip()).await {
            Err(_) => return Err(Error::Timeout(self.config.request_timeout)),
            Ok(Ok(IpAddr::V4(ip))) => ip,
            Ok(Ok(other)) => return Err(Error::NotIpv4(other)),
            Ok(Err(error)) => return Err(error.into()),
        };
        Ok(Gateway { igd, local, external })
    }

    /// Maps `key` on the same external port, or else on any.
    async fn map(&self, gateway: &Gateway, (protocol, internal): Key) -> Result<u16> {
        let limit = self.config.request_timeout;
        match self.renew(gateway, (protocol, internal), internal.port()).await {
            Ok(()) => return Ok(internal.port()),
            Err(Error::Timeout(limit)) => return Err(Error::Timeout(limit)),
            Err(error) => tracing::debug!(%error, "the same port is refused: asking for any"),
        }
        let any =
            gateway.igd.add_any_port(protocol.into(), internal.into(), self.lease_secs(), &self.config.description);
        timeout(limit, any).await.map_err(|_| Error::Timeout(limit))?.map_err(Error::from)
    }

    /// `AddPortMapping` on `port`: a new mapping, or a renewal of ours.
    async fn renew(&self, gateway: &Gateway, (protocol, internal): Key, port: u16) -> Result<()> {
        let limit = self.config.request_timeout;
        let add =
            gateway.igd.add_port(protocol.into(), port, internal.into(), self.lease_secs(), &self.config.description);
        timeout(limit, add).await.map_err(|_| Error::Timeout(limit))?.map_err(Error::from)
    }

    fn lease_secs(&self) -> u32 {
        u32::try_from(self.config.lease.as_secs()).unwrap_or(u32::MAX)
    }

    /// Removes every mapping, within the removal timeout in all.
    async fn remove_all(&mut self) {
        let gone = self.table.take_mapped();
        let Some(gateway) = &self.gateway else { return };
        let limit = self.config.request_timeout.min(self.config.removal_timeout);
        let removals = async {
            for gone in &gone {
                if let Err(error) = remove(&gateway.igd, gone.key.0.into(), gone.external_port, limit).await {
                    tracing::debug!(%error, port = gone.external_port, "removing a mapping failed");
                }
            }
        };
        if timeout(self.config.removal_timeout, removals).await.is_err() {
            tracing::warn!(limit = ?self.config.removal_timeout, "removing the mappings timed out: they expire with their lease");
        }
        for gone in gone {
            self.lost(gateway.external, gone);
        }
    }

    fn emit(&self, event: Event) {
        // No subscriber is fine: the state is in `Shared` too.
        let _ = self.events.send(event);
    }
}

async fn remove(
    igd: &IgdGateway<Tokio>,
    protocol: igd_next::PortMappingProtocol,
    port: u16,
    limit: Duration,
) -> Result<()> {
    timeout(limit, igd.remove_port(protocol, port)).await.map_err(|_| Error::Timeout(limit))?.map_err(Error::from)
}

/// The address this host sends from towards `gateway`: the internal client
/// a mapping names. A connected UDP socket sends nothing.
fn local_ip_towards(gateway: SocketAddr) -> Result<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(Error::NoRoute)?;
    socket.connect(gateway).map_err(Error::NoRoute)?;
    match socket.local_addr().map_err(Error::NoRoute)?.ip() {
        IpAddr::V4(ip) => Ok(ip),
        IpAddr::V6(ip) => Err(Error::NoRoute(std::io::Error::other(format!("an IPv6 route ({ip})")))),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
