//! `Mdns`: discovery running beside a host. One task (the driver) owns
//! the sockets and the interface list; small reader tasks pass it what
//! the sockets receive.
//!
//! ```text
//! readers (receivers, senders) ──▶ inbox ──▶ driver
//!   query  ──▶ our response, multicast on the interfaces of the asker's link
//!              (and unicast back to a querier not on the mDNS port)
//!   response ──▶ Peers ──▶ Discovered / Expired ──▶ events, the host's peer store,
//!                                                    a dial (with auto-dial)
//! timers: query (at start, after 1 s, then every query_interval), interface poll
//!   (new interfaces joined and asked on; gone ones left), expiry
//! stop (the host shuts down; dropping the handles does not stop it, as with
//!   every service): a goodbye (TTL 0)
//! ```

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId, multiaddr::Component};
use strata_host::{Host, WeakHost};
use tokio::{
    net::UdpSocket,
    sync::{broadcast, mpsc},
    task::AbortHandle,
};

use crate::{
    Config,
    net::{self, Iface},
    packet::{self, MAX_PACKET, Packet},
    peers::{Event, Peers},
};

/// What starting discovery can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The IPv4 receiver could not be bound (port in use without
    /// `SO_REUSEPORT`, no permission).
    #[error("mdns socket: {0}")]
    Io(#[from] std::io::Error),
}

struct Shared {
    events: broadcast::Sender<Event>,
    peers: Mutex<Peers>,
    asks: mpsc::UnboundedSender<()>,
}

/// mDNS discovery for a host. Cheap to clone; like every service it runs
/// until the host shuts down, whether or not a handle is kept.
#[derive(Clone)]
pub struct Mdns {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Mdns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mdns").finish_non_exhaustive()
    }
}

impl Mdns {
    /// Starts discovery for `host`: binds the receivers, joins the
    /// interfaces, asks at once. Announces the host's listen addresses.
    pub fn attach(host: &Host, config: Config) -> Result<Self, Error> {
        let v4 = net::receiver_v4(config.group_v4, config.port)?;
        let v6 = match config.group_v6 {
            Some(_) => net::receiver_v6(config.port)
                .inspect_err(|error| tracing::debug!(%error, "mdns: no IPv6 receiver; IPv4 only"))
                .ok(),
            None => None,
        };
        let (asks, asked) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: broadcast::channel(256).0,
            peers: Mutex::new(Peers::new(config.max_peers, config.max_addrs_per_peer)),
            asks,
        });
        let (inbox_tx, inbox) = mpsc::channel(256);
        let mut driver = Driver {
            host: host.downgrade(),
            shared: Arc::clone(&shared),
            peer_name: packet::random_peer_name(),
            receivers: [Arc::new(v4)].into_iter().chain(v6.map(Arc::new)).collect(),
            ifaces: HashMap::new(),
            readers: Vec::new(),
            inbox_tx,
            listen: host.listen_addrs(),
            answered: HashMap::new(),
            config,
        };
        for receiver in driver.receivers.clone() {
            driver.spawn_reader(receiver, None);
        }
        host.spawn(driver.run(inbox, asked));
        Ok(Self { shared })
    }

    /// A new subscription to discovery events.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// The peers discovered and not expired, with their addresses.
    pub fn peers(&self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        self.shared.peers.lock().unwrap_or_else(PoisonError::into_inner).list()
    }

    /// Asks the network again now (after a network change the host
    /// knows of, say).
    pub fn query(&self) {
        let _ = self.shared.asks.send(());
    }
}

/// An interface joined: its sender, and how many answers went out on it
/// in the current second.
struct Joined {
    sender: std::net::UdpSocket,
    reader: AbortHandle,
    answers: (Instant, u32),
}

struct Driver {
    host: WeakHost,
    shared: Arc<Shared>,
    config: Config,
    peer_name: String,
    receivers: Vec<Arc<UdpSocket>>,
    ifaces: HashMap<Iface, Joined>,
    readers: Vec<AbortHandle>,
    inbox_tx: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    /// The host's listen addresses when last announced (for the goodbye).
    listen: Vec<Multiaddr>,
    /// When each querier was last answered, per interface (bounded).
    answered: HashMap<(IpAddr, SocketAddr), Instant>,
}

/// One querier is answered at most this often on one interface.
const MIN_RESPONSE_INTERVAL: Duration = Duration::from_millis(500);
/// At most this many answers a second go out on one interface, whoever
/// asks (a query flood gets no more out of us).
const MAX_ANSWERS_PER_SEC: u32 = 20;

impl Driver {
    async fn run(mut self, mut inbox: mpsc::Receiver<(Vec<u8>, SocketAddr)>, mut asked: mpsc::UnboundedReceiver<()>) {
        self.refresh_interfaces();
        let mut next_query = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut next_poll = tokio::time::Instant::now() + self.config.interface_poll;
        loop {
            let expiry = self.with_peers(|peers| peers.next_expiry());
            let expiry = expiry.map_or_else(|| next_poll + Duration::from_hours(1), tokio::time::Instant::from_std);
            tokio::select! {
                received = inbox.recv() => match received {
                    Some((bytes, from)) => self.handle(&bytes, from),
                    None => return,
                },
                // The driver holds the sender too: this never ends.
                Some(()) = asked.recv() => self.query_all(),
                () = tokio::time::sleep_until(next_query) => {
                    self.query_all();
                    next_query = tokio::time::Instant::now() + self.config.query_interval;
                }
                () = tokio::time::sleep_until(next_poll) => {
                    self.refresh_interfaces();
                    next_poll = tokio::time::Instant::now() + self.config.interface_poll;
                }
                () = tokio::time::sleep_until(expiry) => {
                    let expired = self.with_peers(|peers| peers.expire(Instant::now()));
                    for event in expired {
                        self.report(event);
                    }
                }
            }
        }
    }

    fn with_peers<T>(&self, use_peers: impl FnOnce(&mut Peers) -> T) -> T {
        use_peers(&mut self.shared.peers.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn spawn_reader(&mut self, socket: Arc<UdpSocket>, iface: Option<&Iface>) -> AbortHandle {
        let inbox = self.inbox_tx.clone();
        let name = iface.map(|iface| iface.ip.to_string()).unwrap_or_default();
        let handle = tokio::spawn(async move {
            let mut buffer = vec![0u8; MAX_PACKET + 1];
            loop {
                match socket.recv_from(&mut buffer).await {
                    Ok((len, from)) => {
                        // A flood fills the inbox and is dropped here.
                        let _ = inbox.try_send((buffer[..len].to_vec(), from));
                    }
                    Err(error) => {
                        tracing::debug!(%error, interface = %name, "mdns: receive failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })
        .abort_handle();
        if iface.is_none() {
            self.readers.push(handle.clone());
        }
        handle
    }

    /// Joins the interfaces that came up (asking on them at once) and
    /// leaves the ones that went.
    fn refresh_interfaces(&mut self) {
        let now: Vec<Iface> = net::interfaces(&self.config);
        let gone: Vec<Iface> = self.ifaces.keys().filter(|iface| !now.contains(iface)).cloned().collect();
        for iface in gone {
            tracing::debug!(ip = %iface.ip, "mdns: interface gone");
            if let Some(joined) = self.ifaces.remove(&iface) {
                joined.reader.abort();
            }
            for receiver in &self.receivers {
                let _ = net::membership(receiver, &self.config, &iface, false);
            }
        }
        for iface in now {
            if self.ifaces.contains_key(&iface) {
                continue;
            }
            let family =
                |socket: &&Arc<UdpSocket>| socket.local_addr().is_ok_and(|a| a.is_ipv4() == iface.ip.is_ipv4());
            let Some(receiver) = self.receivers.iter().find(family).cloned() else { continue };
            let joined = net::membership(&receiver, &self.config, &iface, true).and_then(|()| {
                let sender = net::sender(&iface)?;
                let reading = UdpSocket::from_std(sender.try_clone()?)?;
                Ok((sender, reading))
            });
            match joined {
                Ok((sender, reading)) => {
                    tracing::debug!(ip = %iface.ip, "mdns: interface joined");
                    let reader = self.spawn_reader(Arc::new(reading), Some(&iface));
                    // Ask, and announce ourselves unasked (RFC 6762 §8.3):
                    // nodes already up learn of us without waiting for
                    // their next query.
                    self.send(&sender, &iface, &packet::query());
                    if let Some(local) = self.host_peer() {
                        let addrs = advertised(&self.host.listen_addrs(), &iface);
                        for bytes in packet::response(&self.peer_name, local, &addrs, self.config.ttl) {
                            self.send(&sender, &iface, &bytes);
                        }
                    }
                    let answers = (Instant::now(), 0);
                    self.ifaces.insert(iface, Joined { sender, reader, answers });
                }
                Err(error) => tracing::debug!(ip = %iface.ip, %error, "mdns: cannot use interface"),
            }
        }
    }

    fn send(&self, sender: &std::net::UdpSocket, iface: &Iface, bytes: &[u8]) {
        let Some(to) = net::group_addr(&self.config, iface) else { return };
        if let Err(error) = sender.send_to(bytes, to) {
            tracing::debug!(%error, ip = %iface.ip, "mdns: send failed");
        }
    }

    fn query_all(&self) {
        let query = packet::query();
        for (iface, joined) in &self.ifaces {
            self.send(&joined.sender, iface, &query);
        }
    }

    fn handle(&mut self, bytes: &[u8], from: SocketAddr) {
        match packet::parse(bytes, self.config.max_addrs_per_peer) {
            Ok(Packet::Query { peers, services }) => self.answer(from, peers, services),
            Ok(Packet::Response(announcements)) => {
                let Some(local) = self.host_peer() else { return };
                for announcement in announcements.into_iter().filter(|a| a.peer != local) {
                    let now = Instant::now();
                    if let Some(event) = self.with_peers(|peers| peers.observe(announcement, now)) {
                        self.report(event);
                    }
                }
            }
            Err(error) => tracing::trace!(%from, %error, "mdns: packet dropped"),
        }
    }

    fn host_peer(&self) -> Option<PeerId> {
        (!self.host.is_shut_down()).then(|| self.host.peer_id())
    }

    /// Answers a query from `from` on the interfaces of its link (all of
    /// ours if none is): each querier at most once per
    /// [`MIN_RESPONSE_INTERVAL`], each interface at most
    /// [`MAX_ANSWERS_PER_SEC`] times a second; a querier not on the mDNS
    /// port (a "legacy" one-shot querier, RFC 6762 §6.7) also gets it
    /// unicast.
    fn answer(&mut self, from: SocketAddr, peers: bool, services: bool) {
        let Some(local) = self.host_peer() else { return };
        let listen = self.host.listen_addrs();
        self.listen.clone_from(&listen);
        let on_link: Vec<Iface> = self.ifaces.keys().filter(|iface| iface.has_on_link(from.ip())).cloned().collect();
        let targets: Vec<Iface> = if on_link.is_empty() { self.ifaces.keys().cloned().collect() } else { on_link };
        let now = Instant::now();
        if self.answered.len() > 1024 {
            self.answered.retain(|_, at| now.duration_since(*at) < MIN_RESPONSE_INTERVAL);
        }
        for iface in targets {
            let recently = self.answered.get(&(iface.ip, from));
            if recently.is_some_and(|at| now.duration_since(*at) < MIN_RESPONSE_INTERVAL) {
                continue;
            }
            let Some(joined) = self.ifaces.get_mut(&iface) else { continue };
            if now.duration_since(joined.answers.0) >= Duration::from_secs(1) {
                joined.answers = (now, 0);
            }
            if joined.answers.1 >= MAX_ANSWERS_PER_SEC {
                continue;
            }
            joined.answers.1 += 1;
            self.answered.insert((iface.ip, from), now);
            let Ok(sender) = joined.sender.try_clone() else { continue };
            let mut packets = Vec::new();
            if peers {
                let addrs = advertised(&listen, &iface);
                packets.extend(packet::response(&self.peer_name, local, &addrs, self.config.ttl));
            }
            if services {
                packets.push(packet::services_response(self.config.ttl));
            }
            for bytes in &packets {
                self.send(&sender, &iface, bytes);
                if from.port() != self.config.port && iface.has_on_link(from.ip()) {
                    let _ = sender.send_to(bytes, from);
                }
            }
        }
    }

    fn report(&self, event: Event) {
        if let Event::Discovered { peer, addrs } = &event {
            tracing::debug!(%peer, ?addrs, "mdns: discovered");
            self.host.update_peer(*peer, |info| info.addrs.extend(addrs.iter().cloned()));
            if self.config.auto_dial && !self.host.is_connected(*peer) {
                let (host, peer) = (self.host.clone(), *peer);
                self.host.spawn(async move {
                    if let Err(error) = host.dial_peer(peer).await {
                        tracing::debug!(%peer, %error, "mdns: dialing a discovered peer failed");
                    }
                });
            }
        }
        let _ = self.shared.events.send(event);
    }
}

impl Drop for Driver {
    /// Says goodbye (a response with TTL 0) and stops the readers.
    fn drop(&mut self) {
        let local = self.host.peer_id();
        for (iface, joined) in &self.ifaces {
            let addrs = advertised(&self.listen, iface);
            for bytes in packet::response(&self.peer_name, local, &addrs, Duration::ZERO) {
                self.send(&joined.sender, iface, &bytes);
            }
        }
        for joined in self.ifaces.values() {
            joined.reader.abort();
        }
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// The listen addresses announced on `iface`: an unspecified IP becomes
/// the interface's, loopback addresses go only to a loopback interface.
fn advertised(listen: &[Multiaddr], iface: &Iface) -> Vec<Multiaddr> {
    listen
        .iter()
        .filter_map(|addr| {
            let ip = addr.ip()?;
            if ip.is_unspecified() {
                if ip.is_ipv4() != iface.ip.is_ipv4() {
                    return None;
                }
                let mut rest = addr.iter().skip(1);
                let first = match iface.ip {
                    IpAddr::V4(v4) => Component::Ip4(v4),
                    IpAddr::V6(v6) => Component::Ip6(v6),
                };
                let mut out = Multiaddr::empty().with(first);
                for component in rest.by_ref() {
                    out.push(component);
                }
                return Some(out);
            }
            (!ip.is_loopback() || iface.loopback).then(|| addr.clone())
        })
        .collect()
}
