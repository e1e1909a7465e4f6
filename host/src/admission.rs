//! Admission: who may cost this host anything, decided before it does.
//!
//! An inbound connection is judged twice:
//!
//! ```text
//! accept ─▶ before the handshake (by address): deny list, accept rate per IP,
//!           pending handshakes per IP, per subnet (/24, /64) and in all ─▶ upgrade
//! upgraded ─▶ right after it (by peer id): deny list, connections per peer,
//!             inbound share of the connection limit ─▶ connection table
//! ```
//!
//! The first check is plain data (no I/O, the time passed in), so a flood
//! from one address costs a map lookup per socket and can hold only its own
//! share of the handshake slots: a silent or slow socket from elsewhere
//! cannot crowd out a well-behaved peer. A quarter of the slots is kept for
//! *known* addresses (ones a connection was authenticated from, or dialed,
//! recently), so that a flood from many unknown addresses cannot lock out
//! the peers a node already works with. Outbound dials never wait for
//! inbound slots.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use strata_core::{Multiaddr, PeerId};

/// An IP range: an address and a prefix length (`/ip4/10.0.0.0/ipcidr/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// The range of `addr`'s first `prefix` bits (clamped to the address
    /// length).
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        let prefix = prefix.min(if addr.is_ipv4() { 32 } else { 128 });
        Self { addr: mask(addr, prefix), prefix }
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(bits.into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(bits.into())
        }
    }
}

/// The subnet an address shares its pending-handshake budget with.
fn subnet_of(ip: IpAddr) -> IpRange {
    IpRange::new(ip, if ip.is_ipv4() { 24 } else { 64 })
}

/// The limits of admission (part of [`crate::Config`]).
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_pending: usize,
    pub(crate) max_pending_per_ip: usize,
    pub(crate) max_pending_per_subnet: usize,
    pub(crate) accept_rate_per_ip: f64,
    pub(crate) accept_burst_per_ip: f64,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The address or peer id is on the deny list (or off the allow list).
    #[error("denied")]
    Denied,
    /// The address opens connections faster than the accept rate.
    #[error("accept rate exceeded")]
    RateExceeded,
    /// The address (or its subnet, or everyone) has as many handshakes in
    /// progress as allowed.
    #[error("too many handshakes in progress")]
    TooManyPending,
}

/// A token bucket per address.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Deny and allow lists, changeable while the host runs.
#[derive(Debug, Default)]
pub(crate) struct Lists {
    pub(crate) denied_ranges: Vec<IpRange>,
    pub(crate) denied_peers: HashSet<PeerId>,
    /// When set, only these ranges may connect in.
    pub(crate) allowed_ranges: Option<Vec<IpRange>>,
}

impl Lists {
    pub(crate) fn ip_allowed(&self, ip: IpAddr) -> bool {
        let allowed = self.allowed_ranges.as_ref().is_none_or(|ranges| ranges.iter().any(|r| r.contains(ip)));
        allowed && !self.denied_ranges.iter().any(|range| range.contains(ip))
    }
}

/// The state of admission: who is mid-handshake, how fast each address
/// connects, and the lists.
#[derive(Debug)]
pub(crate) struct Gate {
    limits: Limits,
    pub(crate) lists: Lists,
    pending: usize,
    per_ip: HashMap<IpAddr, usize>,
    per_subnet: HashMap<IpRange, usize>,
    buckets: HashMap<IpAddr, Bucket>,
    /// Addresses of recent authenticated connections, oldest first.
    known: VecDeque<IpAddr>,
    known_set: HashSet<IpAddr>,
}

/// How many known addresses are remembered.
const MAX_KNOWN: usize = 4096;

impl Gate {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            lists: Lists::default(),
            pending: 0,
            per_ip: HashMap::new(),
            per_subnet: HashMap::new(),
            buckets: HashMap::new(),
            known: VecDeque::new(),
            known_set: HashSet::new(),
        }
    }

    /// Remembers `ip` as known: a connection from or to it was
    /// authenticated.
    pub(crate) fn learn(&mut self, ip: IpAddr) {
        if self.known_set.insert(ip) {
            self.known.push_back(ip);
            if self.known.len() > MAX_KNOWN
                && let Some(old) = self.known.pop_front()
            {
                self.known_set.remove(&old);
            }
        }
    }

    /// The slots unknown addresses may use: all but the quarter kept for
    /// known ones.
    fn open_slots(&self) -> usize {
        self.limits.max_pending - self.limits.max_pending / 4
    }

    /// Decides on a socket from `ip` before any handshake; on success a
    /// handshake slot is held until [`Gate::release`].
    pub(crate) fn admit(&mut self, ip: Option<IpAddr>, now: Instant) -> Result<(), Refusal> {
        let Some(ip) = ip else {
            // Not an IP transport (memory): only the global bound applies.
            return self.take_global();
        };
        if !self.lists.ip_allowed(ip) {
            return Err(Refusal::Denied);
        }
        self.refill(ip, now)?;
        let subnet = subnet_of(ip);
        if self.per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.max_pending_per_ip
            || self.per_subnet.get(&subnet).copied().unwrap_or(0) >= self.limits.max_pending_per_subnet
        {
            return Err(Refusal::TooManyPending);
        }
        let slots = if self.known_set.contains(&ip) { self.limits.max_pending } else { self.open_slots() };
        if self.pending >= slots {
            return Err(Refusal::TooManyPending);
        }
        self.pending += 1;
        *self.per_ip.entry(ip).or_default() += 1;
        *self.per_subnet.entry(subnet).or_default() += 1;
        Ok(())
    }

    fn take_global(&mut self) -> Result<(), Refusal> {
        if self.pending >= self.limits.max_pending {
            return Err(Refusal::TooManyPending);
        }
        self.pending += 1;
        Ok(())
    }

    /// Spends one accept token of `ip`, refilled at the configured rate.
    fn refill(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let (rate, burst) = (self.limits.accept_rate_per_ip, self.limits.accept_burst_per_ip);
        if self.buckets.len() > 65_536 {
            // Forget addresses whose buckets are full again (idle ones).
            self.buckets.retain(|_, bucket| bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate < burst);
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket { tokens: burst, at: now });
        bucket.tokens = (bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * rate).min(burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(Refusal::RateExceeded);
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// A handshake from `ip` ended (either way): its slot is free.
    pub(crate) fn release(&mut self, ip: Option<IpAddr>) {
        self.pending = self.pending.saturating_sub(1);
        let Some(ip) = ip else { return };
        decrement(&mut self.per_ip, &ip);
        decrement(&mut self.per_subnet, &subnet_of(ip));
    }

    /// How many handshakes are in progress.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(count) = map.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            map.remove(key);
        }
    }
}

/// The host's deny and allow lists, changeable while it runs.
impl crate::Host {
    /// Refuses `peer` from now on (its connections are closed, new ones
    /// are refused right after the handshake, both directions).
    pub async fn deny_peer(&self, peer: PeerId) {
        self.inner.gate.lock().unwrap_or_else(PoisonError::into_inner).lists.denied_peers.insert(peer);
        self.disconnect(peer).await;
    }

    /// Accepts `peer` again after [`deny_peer`](crate::Host::deny_peer).
    pub fn undeny_peer(&self, peer: PeerId) {
        self.inner.gate.lock().unwrap_or_else(PoisonError::into_inner).lists.denied_peers.remove(&peer);
    }

    /// Refuses inbound connections from `range` from now on, before any
    /// handshake (established ones stay).
    pub fn deny_ip_range(&self, range: IpRange) {
        self.inner.gate.lock().unwrap_or_else(PoisonError::into_inner).lists.denied_ranges.push(range);
    }

    /// Accepts inbound connections only from `ranges` (`None`: from
    /// anywhere, the default); the deny list still applies.
    pub fn set_allowed_ip_ranges(&self, ranges: Option<Vec<IpRange>>) {
        self.inner.gate.lock().unwrap_or_else(PoisonError::into_inner).lists.allowed_ranges = ranges;
    }
}

/// A held handshake slot; dropping it releases the slot.
pub(crate) struct Ticket {
    gate: Arc<Mutex<Gate>>,
    ip: Option<IpAddr>,
}

impl Ticket {
    /// Admits a socket from `remote` through `gate`.
    pub(crate) fn take(gate: &Arc<Mutex<Gate>>, remote: &Multiaddr) -> Result<Self, Refusal> {
        let ip = remote.ip();
        gate.lock().unwrap_or_else(PoisonError::into_inner).admit(ip, Instant::now())?;
        Ok(Self { gate: Arc::clone(gate), ip })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner).release(self.ip);
    }
}

/// The default accept rate per IP: connections per second, sustained.
pub(crate) const DEFAULT_ACCEPT_RATE: f64 = 50.0;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> Limits {
        Limits {
            max_pending: 10,
            max_pending_per_ip: 3,
            max_pending_per_subnet: 5,
            accept_rate_per_ip: 10.0,
            accept_burst_per_ip: 20.0,
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn one_address_holds_only_its_share_of_the_slots() {
        let mut gate = Gate::new(limits());
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(gate.admit(ip("10.0.0.1"), now), Ok(()));
        }
        assert_eq!(gate.admit(ip("10.0.0.1"), now), Err(Refusal::TooManyPending));
        // Its subnet has two more; then the subnet is full too.
        assert_eq!(gate.admit(ip("10.0.0.2"), now), Ok(()));
        assert_eq!(gate.admit(ip("10.0.0.3"), now), Ok(()));
        assert_eq!(gate.admit(ip("10.0.0.4"), now), Err(Refusal::TooManyPending));
        // Someone elsewhere still gets in.
        assert_eq!(gate.admit(ip("192.168.1.1"), now), Ok(()));
        gate.release(ip("10.0.0.1"));
        assert_eq!(gate.admit(ip("10.0.0.1"), now), Ok(()));
        assert_eq!(gate.pending(), 6);
    }

    #[test]
    fn known_addresses_keep_a_quarter_of_the_slots() {
        let mut gate =
            Gate::new(Limits { max_pending: 8, max_pending_per_ip: 8, max_pending_per_subnet: 8, ..limits() });
        let now = Instant::now();
        gate.learn(IpAddr::from([192, 168, 7, 7]));
        for n in 0..6 {
            assert_eq!(gate.admit(ip(&format!("10.{n}.0.1")), now), Ok(()));
        }
        assert_eq!(gate.admit(ip("10.9.0.1"), now), Err(Refusal::TooManyPending), "unknown addresses get 6 of 8");
        assert_eq!(gate.admit(ip("192.168.7.7"), now), Ok(()));
        assert_eq!(gate.admit(ip("192.168.7.7"), now), Ok(()));
        assert_eq!(gate.admit(ip("192.168.7.7"), now), Err(Refusal::TooManyPending), "8 of 8 in all");
    }

    #[test]
    fn the_accept_rate_refills_with_time() {
        let mut gate =
            Gate::new(Limits { max_pending_per_ip: 1000, max_pending_per_subnet: 1000, max_pending: 1000, ..limits() });
        let now = Instant::now();
        for _ in 0..20 {
            assert_eq!(gate.admit(ip("10.0.0.1"), now), Ok(()));
        }
        assert_eq!(gate.admit(ip("10.0.0.1"), now), Err(Refusal::RateExceeded));
        assert_eq!(gate.admit(ip("10.0.0.1"), now + Duration::from_millis(150)), Ok(()), "1.5 tokens came back");
        assert_eq!(gate.admit(ip("10.0.0.2"), now), Ok(()), "other addresses have their own bucket");
    }

    #[test]
    fn ranges_deny_and_allow() {
        let mut gate = Gate::new(limits());
        gate.lists.denied_ranges.push(IpRange::new("10.1.0.0".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])), 16));
        let now = Instant::now();
        assert_eq!(gate.admit(ip("10.1.200.3"), now), Err(Refusal::Denied));
        assert_eq!(gate.admit(ip("10.2.0.1"), now), Ok(()));
        gate.lists.allowed_ranges = Some(vec![IpRange::new(IpAddr::from([127, 0, 0, 0]), 8)]);
        assert_eq!(gate.admit(ip("10.2.0.1"), now), Err(Refusal::Denied));
        assert_eq!(gate.admit(ip("127.0.0.9"), now), Ok(()));
        assert!(
            IpRange::new("::1".parse().unwrap_or(IpAddr::from([0u8; 16])), 128)
                .contains("::1".parse().unwrap_or(IpAddr::from([0u8; 16])))
        );
    }
}
