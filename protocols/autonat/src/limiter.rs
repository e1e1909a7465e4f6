//! The server's decisions, without I/O: whom to serve (rate limits), which
//! address to dial, whether it costs dial data, and when enough was paid.
//!
//! Spec: `libp2p-autonat-v2.md`, "`AutoNAT` V2 Protocol" (the first address
//! the server is willing to dial; never another one), "Requirements for
//! `ResponseStatus`" (`E_REQUEST_REJECTED` for rate and resource limits,
//! `E_DIAL_REFUSED` when no address will do) and "Amplification Attack
//! Prevention". The limits are go-libp2p's: sliding one-minute windows,
//! global and per peer, a separate window for requests that need dial
//! data, and at most one request in progress per peer.
//!
//! ```text
//! request from P at t ─▶ Limiter::admit ── refused ─▶ E_REQUEST_REJECTED
//!                          │ ok (P in progress until Limiter::complete)
//!                          ▼
//!      select_address(addrs, our Families) ── none ─▶ E_DIAL_REFUSED
//!                          │ (index, addr)
//!                          ▼
//!      needs_dial_data(requester's IP, addr) ── yes ─▶ Limiter::admit_dial_data ── refused ─▶ E_REQUEST_REJECTED
//!                          │ no                           │ ok: DialDataRequest, DialDataTally until paid
//!                          ▼                              ▼
//!                       dial back                      dial back
//! ```
//!
//! Memory is bounded by the global window: a peer gets an entry only when
//! a request is admitted, and entries leave with their window.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use std::net::IpAddr;

use strata_core::{Multiaddr, PeerId, multiaddr::Scope};
use strata_host::is_relayed;

use crate::ServerConfig;

/// The window of the rate limits.
const WINDOW: Duration = Duration::from_mins(1);

/// The smallest dial-data chunk accepted before the total is reached
/// (go-libp2p's: a peer must not make the server parse many tiny
/// messages for its bytes).
pub(crate) const MIN_DATA_CHUNK: usize = 100;

/// Why a request is not served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The global window is full.
    Global,
    /// The peer's window is full.
    Peer,
    /// The peer has a request in progress already.
    PeerBusy,
    /// As many requests are in progress as allowed.
    Concurrency,
}

/// The server's rate limits and requests in progress.
#[derive(Debug)]
pub(crate) struct Limiter {
    global_per_minute: usize,
    peer_per_minute: usize,
    dial_data_per_minute: usize,
    max_concurrent: usize,
    admitted: VecDeque<(Instant, PeerId)>,
    per_peer: HashMap<PeerId, VecDeque<Instant>>,
    dial_data: VecDeque<Instant>,
    in_progress: HashMap<PeerId, usize>,
}

impl Limiter {
    /// A limiter with `config`'s limits.
    pub(crate) fn new(config: &ServerConfig) -> Self {
        Self {
            global_per_minute: config.global_per_minute,
            peer_per_minute: config.peer_per_minute,
            dial_data_per_minute: config.dial_data_per_minute,
            max_concurrent: config.max_concurrent,
            admitted: VecDeque::new(),
            per_peer: HashMap::new(),
            dial_data: VecDeque::new(),
            in_progress: HashMap::new(),
        }
    }

    /// Admits a request of `peer` at `now`, or says why not. An admitted
    /// request is in progress until [`Limiter::complete`].
    pub(crate) fn admit(&mut self, peer: PeerId, now: Instant) -> Result<(), Refusal> {
        self.expire(now);
        if self.in_progress.contains_key(&peer) {
            return Err(Refusal::PeerBusy);
        }
        if self.in_progress.values().sum::<usize>() >= self.max_concurrent {
            return Err(Refusal::Concurrency);
        }
        if self.admitted.len() >= self.global_per_minute {
            return Err(Refusal::Global);
        }
        if self.per_peer.get(&peer).map_or(0, VecDeque::len) >= self.peer_per_minute {
            return Err(Refusal::Peer);
        }
        self.admitted.push_back((now, peer));
        self.per_peer.entry(peer).or_default().push_back(now);
        *self.in_progress.entry(peer).or_default() += 1;
        Ok(())
    }

    /// Admits a request that needs dial data, if the dial-data window has
    /// room.
    pub(crate) fn admit_dial_data(&mut self, now: Instant) -> bool {
        self.expire(now);
        if self.dial_data.len() >= self.dial_data_per_minute {
            return false;
        }
        self.dial_data.push_back(now);
        true
    }

    /// The request of `peer` is over.
    pub(crate) fn complete(&mut self, peer: PeerId) {
        if let Some(count) = self.in_progress.get_mut(&peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.in_progress.remove(&peer);
            }
        }
    }

    /// How many requests are in progress.
    pub(crate) fn in_progress(&self) -> usize {
        self.in_progress.values().sum()
    }

    fn expire(&mut self, now: Instant) {
        let old = |at: &Instant| now.saturating_duration_since(*at) >= WINDOW;
        while let Some((at, peer)) = self.admitted.front().copied() {
            if !old(&at) {
                break;
            }
            self.admitted.pop_front();
            if let Some(times) = self.per_peer.get_mut(&peer) {
                times.pop_front();
                if times.is_empty() {
                    self.per_peer.remove(&peer);
                }
            }
        }
        while self.dial_data.front().is_some_and(old) {
            self.dial_data.pop_front();
        }
    }
}

/// The IP families the server has an address of its own in (listen or
/// external, relayed ones aside): what it can be expected to reach. The
/// spec: "IPv4 only servers SHOULD refuse requests for dialing IPv6
/// addresses and IPv6 only servers SHOULD refuse requests for dialing IPv4
/// addresses."
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Families {
    /// Some address is IPv4 (or IPv4-mapped IPv6).
    pub v4: bool,
    /// Some address is IPv6.
    pub v6: bool,
}

impl Families {
    /// The families of `addrs`.
    pub(crate) fn of<'a>(addrs: impl IntoIterator<Item = &'a Multiaddr>) -> Self {
        addrs.into_iter().filter(|addr| !is_relayed(addr)).filter_map(Multiaddr::ip).fold(
            Self::default(),
            |families, ip| match ip.to_canonical() {
                IpAddr::V4(_) => Self { v4: true, ..families },
                IpAddr::V6(_) => Self { v6: true, ..families },
            },
        )
    }

    fn has(self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(_) => self.v4,
            IpAddr::V6(_) => self.v6,
        }
    }
}

/// The address to dial among those `client` asked for: the first, among
/// the first `max_inspected`, that starts with an IP of one of `families`
/// (the server's own), is not relayed, names no other peer, is public (or
/// `allow_private`), and that `can_dial` (a transport of the dialer)
/// serves. Its index is the one in `addrs`.
pub(crate) fn select_address(
    client: PeerId,
    addrs: &[Multiaddr],
    max_inspected: usize,
    allow_private: bool,
    families: Families,
    can_dial: impl Fn(&Multiaddr) -> bool,
) -> Option<(usize, Multiaddr)> {
    addrs.iter().take(max_inspected).enumerate().find_map(|(index, addr)| {
        // Any other scope: no IP (a name, a memory address), or one nobody
        // can reach.
        let scope = addr.scope();
        let scope_ok = scope == Scope::Public || (allow_private && matches!(scope, Scope::Loopback | Scope::Private));
        let family_ok = addr.ip().is_some_and(|ip| families.has(ip));
        let other_peer = addr.peer_id().is_some_and(|peer| peer != client);
        (scope_ok && family_ok && !is_relayed(addr) && !other_peer && can_dial(addr)).then(|| (index, addr.clone()))
    })
}

/// Whether dialing `addr` for a client connected from `observed` costs
/// dial data: its IP is not the client's, or the client's is unknown, or
/// the client came through a relay (the IP in `observed` is the relay's).
pub(crate) fn needs_dial_data(observed: &Multiaddr, addr: &Multiaddr) -> bool {
    if is_relayed(observed) {
        return true;
    }
    match (observed.ip(), addr.ip()) {
        (Some(seen), Some(dialed)) => seen.to_canonical() != dialed.to_canonical(),
        _ => true,
    }
}

/// How many bytes to ask for, from a random number: in `min..=max`.
pub(crate) fn dial_data_amount(random: u64, min: u64, max: u64) -> u64 {
    let span = max.saturating_sub(min).saturating_add(1);
    min.saturating_add(random % span)
}

/// The dial data received so far for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DialDataTally {
    wanted: u64,
    received: u64,
}

/// What one more chunk of dial data means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paid {
    /// Not enough yet.
    More,
    /// Enough: dial.
    Done,
    /// A chunk below [`MIN_DATA_CHUNK`] before the end: give up.
    TooSmall,
}

impl DialDataTally {
    /// Waiting for `wanted` bytes.
    pub(crate) fn new(wanted: u64) -> Self {
        Self { wanted, received: 0 }
    }

    /// Counts a chunk of `len` bytes (the `data` field's length; the spec
    /// counts only that). The last chunk may be larger than what is left.
    pub(crate) fn add(&mut self, len: usize) -> Paid {
        self.received = self.received.saturating_add(len as u64);
        if self.received >= self.wanted {
            Paid::Done
        } else if len < MIN_DATA_CHUNK {
            Paid::TooSmall
        } else {
            Paid::More
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use strata_core::multiaddr::Component;

    use super::*;

    fn config() -> ServerConfig {
        ServerConfig::default().with_global_rate(5).with_peer_rate(2).with_dial_data_rate(1).with_max_concurrent(3)
    }

    fn addr(text: &str) -> Multiaddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_request_per_peer_at_a_time() {
        let mut limiter = Limiter::new(&config());
        let (peer, now) = (PeerId::random(), Instant::now());
        assert_eq!(limiter.admit(peer, now), Ok(()));
        assert_eq!(limiter.admit(peer, now), Err(Refusal::PeerBusy));
        limiter.complete(peer);
        assert_eq!(limiter.admit(peer, now), Ok(()));
        assert_eq!(limiter.in_progress(), 1);
    }

    #[test]
    fn per_peer_window_slides() {
        let mut limiter = Limiter::new(&config());
        let (peer, start) = (PeerId::random(), Instant::now());
        for _ in 0..2 {
            limiter.admit(peer, start).unwrap();
            limiter.complete(peer);
        }
        assert_eq!(limiter.admit(peer, start + Duration::from_secs(59)), Err(Refusal::Peer));
        assert_eq!(limiter.admit(PeerId::random(), start + Duration::from_secs(59)), Ok(()));
        assert_eq!(limiter.admit(peer, start + WINDOW), Ok(()));
    }

    #[test]
    fn global_window_and_concurrency() {
        let mut limiter = Limiter::new(&config());
        let now = Instant::now();
        let peers: Vec<_> = (0..6).map(|_| PeerId::random()).collect();
        for peer in &peers[..3] {
            limiter.admit(*peer, now).unwrap();
        }
        assert_eq!(limiter.admit(peers[3], now), Err(Refusal::Concurrency));
        for peer in &peers[..3] {
            limiter.complete(*peer);
        }
        limiter.admit(peers[3], now).unwrap();
        limiter.admit(peers[4], now).unwrap();
        limiter.complete(peers[3]);
        limiter.complete(peers[4]);
        assert_eq!(limiter.admit(peers[5], now), Err(Refusal::Global));
        assert_eq!(limiter.admit(peers[5], now + WINDOW), Ok(()));
        // Windows emptied: only the new request's peer is remembered.
        assert_eq!(limiter.per_peer.len(), 1);
    }

    #[test]
    fn dial_data_window() {
        let mut limiter = Limiter::new(&config());
        let now = Instant::now();
        assert!(limiter.admit_dial_data(now));
        assert!(!limiter.admit_dial_data(now + Duration::from_secs(30)));
        assert!(limiter.admit_dial_data(now + WINDOW));
    }

    #[test]
    fn the_first_dialable_public_address_is_selected() {
        let client = PeerId::random();
        let addrs = [
            Multiaddr::empty(),
            addr("/ip4/192.168.1.2/tcp/1"),
            addr("/ip4/127.0.0.1/tcp/1"),
            addr("/dns4/example.com/tcp/1"),
            addr("/ip4/1.2.3.4/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit"),
            addr("/ip4/1.2.3.4/udp/1/quic-v1"),
            addr("/ip4/1.2.3.4/tcp/1"),
            addr("/ip4/5.6.7.8/tcp/1"),
        ];
        let tcp_only = |a: &Multiaddr| a.iter().any(|c| matches!(c, Component::Tcp(_)));
        let both = Families { v4: true, v6: true };
        assert_eq!(select_address(client, &addrs, 50, false, both, tcp_only), Some((6, addrs[6].clone())));
        assert_eq!(select_address(client, &addrs, 50, true, both, tcp_only), Some((1, addrs[1].clone())));
        assert_eq!(select_address(client, &addrs, 6, false, both, tcp_only), None);
        assert_eq!(select_address(client, &addrs[..6], 50, false, both, tcp_only), None);
    }

    #[test]
    fn an_address_of_a_family_the_server_lacks_is_not_dialed() {
        let client = PeerId::random();
        let relay = PeerId::random();
        let circuit = addr("/ip6/2001:db8::1/tcp/1").with_p2p(relay).unwrap().with(Component::P2pCircuit);
        let v4_only = Families::of(&[addr("/ip4/0.0.0.0/tcp/4001"), addr("/ip4/5.6.7.8/tcp/4001"), circuit]);
        assert_eq!(v4_only, Families { v4: true, v6: false });
        let v6 = addr("/ip6/2001:db8::1/tcp/1");
        let v4 = addr("/ip4/1.2.3.4/tcp/1");
        let addrs = [v6.clone(), v4.clone()];
        assert_eq!(select_address(client, &addrs, 50, false, v4_only, |_| true), Some((1, v4)));
        assert_eq!(select_address(client, &addrs[..1], 50, false, v4_only, |_| true), None);
        let v6_only = Families::of(&[addr("/ip6/::/tcp/4001")]);
        assert_eq!(select_address(client, &addrs, 50, false, v6_only, |_| true), Some((0, v6)));
        assert_eq!(select_address(client, &addrs, 50, false, Families::default(), |_| true), None);
    }

    #[test]
    fn an_address_of_another_peer_is_not_dialed() {
        let (client, other) = (PeerId::random(), PeerId::random());
        let mine = addr("/ip4/1.2.3.4/tcp/1").with_p2p(client).unwrap();
        let theirs = addr("/ip4/1.2.3.4/tcp/1").with_p2p(other).unwrap();
        let v4 = Families { v4: true, v6: false };
        assert_eq!(select_address(client, &[theirs, mine.clone()], 50, false, v4, |_| true), Some((1, mine)));
    }

    #[test]
    fn dial_data_is_needed_for_another_ip_only() {
        let seen = addr("/ip4/1.2.3.4/tcp/50000");
        assert!(!needs_dial_data(&seen, &addr("/ip4/1.2.3.4/tcp/4001")));
        assert!(!needs_dial_data(&seen, &addr("/ip6/::ffff:1.2.3.4/tcp/4001")));
        assert!(needs_dial_data(&seen, &addr("/ip4/1.2.3.5/tcp/4001")));
        assert!(needs_dial_data(&addr("/memory/x"), &addr("/ip4/1.2.3.4/tcp/4001")));
        // Through a relay at 1.2.3.4: that IP is the relay's, not the client's.
        let relayed = seen.with_p2p(PeerId::random()).unwrap().with(Component::P2pCircuit);
        assert!(needs_dial_data(&relayed, &addr("/ip4/1.2.3.4/tcp/4001")));
    }

    #[test]
    fn dial_data_amounts_stay_in_range() {
        for random in [0, 1, 69_999, 70_000, 70_001, u64::MAX] {
            let amount = dial_data_amount(random, 30_000, 100_000);
            assert!((30_000..=100_000).contains(&amount), "{amount}");
        }
        assert_eq!(dial_data_amount(u64::MAX, 5, 5), 5);
    }

    #[test]
    fn the_tally_counts_data_and_refuses_tiny_chunks() {
        let mut tally = DialDataTally::new(10_000);
        assert_eq!(tally.add(4096), Paid::More);
        assert_eq!(tally.add(4096), Paid::More);
        assert_eq!(tally.add(4096), Paid::Done); // the last may overshoot
        let mut tally = DialDataTally::new(10_000);
        assert_eq!(tally.add(99), Paid::TooSmall);
        let mut tally = DialDataTally::new(50);
        assert_eq!(tally.add(50), Paid::Done); // small but final
    }
}
