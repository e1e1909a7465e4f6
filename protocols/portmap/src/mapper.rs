//! `PortMapper`: the handle an application keeps. It starts the driver
//! ([`crate::driver`]) and reads what it shares: the mappings held and the
//! events.

use std::sync::{Arc, Mutex, PoisonError};

use strata_core::Multiaddr;
use strata_host::Host;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Config, Error, Protocol, Result, driver::Driver};

/// How many events a slow subscriber may fall behind before it misses
/// some ([`broadcast::error::RecvError::Lagged`]).
const EVENT_CAPACITY: usize = 64;

/// What the mapper did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A listen address is mapped on the gateway: `external` (the
    /// gateway's external IP and the mapped port) reaches `internal`.
    /// Hand `external` to `AutoNAT` to confirm it.
    Mapped {
        /// TCP or UDP.
        protocol: Protocol,
        /// The listen address mapped.
        internal: Multiaddr,
        /// The address on the gateway's outside.
        external: Multiaddr,
    },
    /// A mapping is gone: its listen address went, renewing it failed, or
    /// the mapper stopped.
    Unmapped {
        /// TCP or UDP.
        protocol: Protocol,
        /// The listen address.
        internal: Multiaddr,
        /// The external address that no longer reaches it.
        external: Multiaddr,
    },
    /// Finding the gateway, or mapping a listen address, failed; the
    /// mapper tries again after [`Config::with_retry`].
    Failed {
        /// The listen address concerned (`None`: finding the gateway).
        internal: Option<Multiaddr>,
        /// Why.
        reason: Arc<Error>,
    },
}

/// One mapping held on the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The listen address.
    pub internal: Multiaddr,
    /// The gateway's external IP and the mapped port.
    pub external: Multiaddr,
}

/// What the driver shares with the handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    mappings: Mutex<Vec<Mapping>>,
}

impl Shared {
    pub(crate) fn insert(&self, mapping: Mapping) {
        let mut mappings = self.lock();
        mappings.retain(|m| !(m.protocol == mapping.protocol && m.internal == mapping.internal));
        mappings.push(mapping);
    }

    pub(crate) fn remove(&self, protocol: Protocol, internal: &Multiaddr) {
        self.lock().retain(|m| !(m.protocol == protocol && &m.internal == internal));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Mapping>> {
        // Plain data, consistent after any panic: go on.
        self.mappings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Commands from the handle to the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// Remove every mapping, stop, and say so.
    Shutdown(oneshot::Sender<()>),
}

/// Maps a host's listen ports on the gateway (`UPnP` IGD) for as long as it
/// lives. See the [crate docs](crate).
///
/// It stops, removing its mappings (bounded by
/// [`Config::with_removal_timeout`]), when [`PortMapper::shutdown`] is
/// called, when it is dropped, or when the host shuts down; only
/// [`PortMapper::shutdown`] waits for the removal.
#[derive(Debug)]
pub struct PortMapper {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    events: broadcast::Sender<Event>,
}

impl PortMapper {
    /// Starts mapping `host`'s listen addresses (those it has now and those
    /// it gets later) in a background task. Must be called inside a tokio
    /// runtime. Subscribe to [`PortMapper::events`] right away: events
    /// before a subscription are not kept.
    pub fn attach(host: &Host, config: Config) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (commands, command_rx) = mpsc::channel(1);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let shared = Arc::new(Shared::default());
        // The host drops this task's future when it shuts down: the
        // sender goes with it and the driver learns at once.
        let (alive, host_gone) = oneshot::channel::<()>();
        host.spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await;
        });
        let driver = Driver::new(host.downgrade(), config, Arc::clone(&shared), events.clone(), command_rx, host_gone);
        runtime.spawn(driver.run());
        Ok(Self { commands, shared, events })
    }

    /// The mapper's events (a broadcast: a subscriber that falls more than
    /// 64 behind misses some; [`PortMapper::mappings`] has the state).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The external addresses mapped now (the gateway's external IP and
    /// the mapped port, the listen address's other components kept).
    pub fn external_addrs(&self) -> Vec<Multiaddr> {
        self.shared.lock().iter().map(|m| m.external.clone()).collect()
    }

    /// The mappings held now.
    pub fn mappings(&self) -> Vec<Mapping> {
        self.shared.lock().clone()
    }

    /// Removes every mapping from the gateway (bounded by
    /// [`Config::with_removal_timeout`]) and stops. Call it before the
    /// host's own shutdown when the process is about to exit.
    pub async fn shutdown(self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}
