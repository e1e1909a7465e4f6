//! Storage for records and provider records (`libp2p-kad-dht.md`, "Value
//! storage", "Content provider advertisement"), behind [`Store`] so an
//! application can persist them; [`MemoryStore`] keeps them in memory,
//! bounded in count, size and time.
//!
//! ```text
//! PUT_VALUE (validated) ─▶ put(record, expires)      GET_VALUE ─▶ get(key)
//! ADD_PROVIDER (sender = provider) ─▶ add_provider    GET_PROVIDERS ─▶ providers(key)
//! every so often ─▶ expire(now): records and providers past their TTL go
//! ```

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId};

use crate::proto::Record;

/// A provider of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The providing peer.
    pub peer: PeerId,
    /// Its addresses when it announced.
    pub addrs: Vec<Multiaddr>,
    /// When the announcement runs out.
    pub expires: Instant,
}

/// Why something was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store holds as many records (or provider keys) as allowed.
    #[error("the store is full")]
    Full,
    /// The value is larger than allowed.
    #[error("a value of {len} bytes exceeds the limit of {max}")]
    ValueTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Where a node keeps the records and provider records it holds.
pub trait Store: Send + 'static {
    /// The record under `key`, if held and not expired.
    fn get(&self, key: &[u8], now: Instant) -> Option<Record>;
    /// Stores (or replaces) a record until `expires`.
    fn put(&mut self, record: Record, expires: Instant) -> Result<(), StoreError>;
    /// Forgets the record under `key`.
    fn remove(&mut self, key: &[u8]);
    /// Records (or refreshes) a provider of `key`.
    fn add_provider(&mut self, key: &[u8], provider: Provider) -> Result<(), StoreError>;
    /// The providers of `key` not expired.
    fn providers(&self, key: &[u8], now: Instant) -> Vec<Provider>;
    /// Drops what expired by `now`.
    fn expire(&mut self, now: Instant);
}

/// The limits of a [`MemoryStore`].
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
    /// Records held at most.
    pub max_records: usize,
    /// The largest value held.
    pub max_value_len: usize,
    /// Keys with providers held at most.
    pub max_provider_keys: usize,
    /// Providers held per key at most.
    pub max_providers_per_key: usize,
}

impl Default for StoreLimits {
    /// 1,024 records of at most 64 KiB, providers for 1,024 keys, 20 per
    /// key (rust-libp2p's memory store's figures).
    fn default() -> Self {
        Self { max_records: 1024, max_value_len: 64 * 1024, max_provider_keys: 1024, max_providers_per_key: 20 }
    }
}

/// An in-memory [`Store`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    limits: StoreLimits,
    records: HashMap<Vec<u8>, (Record, Instant)>,
    providers: HashMap<Vec<u8>, Vec<Provider>>,
}

impl MemoryStore {
    /// An empty store with these limits.
    pub fn new(limits: StoreLimits) -> Self {
        Self { limits, records: HashMap::new(), providers: HashMap::new() }
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &[u8], now: Instant) -> Option<Record> {
        self.records.get(key).filter(|(_, expires)| *expires > now).map(|(record, _)| record.clone())
    }

    fn put(&mut self, record: Record, expires: Instant) -> Result<(), StoreError> {
        let max = self.limits.max_value_len;
        if record.value.len() > max {
            return Err(StoreError::ValueTooLarge { len: record.value.len(), max });
        }
        if !self.records.contains_key(&record.key) && self.records.len() >= self.limits.max_records {
            return Err(StoreError::Full);
        }
        self.records.insert(record.key.clone(), (record, expires));
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) {
        self.records.remove(key);
    }

    fn add_provider(&mut self, key: &[u8], provider: Provider) -> Result<(), StoreError> {
        if !self.providers.contains_key(key) && self.providers.len() >= self.limits.max_provider_keys {
            return Err(StoreError::Full);
        }
        let providers = self.providers.entry(key.to_vec()).or_default();
        if let Some(known) = providers.iter_mut().find(|known| known.peer == provider.peer) {
            *known = provider;
            return Ok(());
        }
        if providers.len() >= self.limits.max_providers_per_key {
            // The one that runs out first makes room.
            let Some(soonest) = providers.iter().enumerate().min_by_key(|(_, p)| p.expires).map(|(i, _)| i) else {
                return Err(StoreError::Full);
            };
            providers.remove(soonest);
        }
        providers.push(provider);
        Ok(())
    }

    fn providers(&self, key: &[u8], now: Instant) -> Vec<Provider> {
        self.providers.get(key).map(|all| all.iter().filter(|p| p.expires > now).cloned().collect()).unwrap_or_default()
    }

    fn expire(&mut self, now: Instant) {
        self.records.retain(|_, (_, expires)| *expires > now);
        self.providers.retain(|_, providers| {
            providers.retain(|provider| provider.expires > now);
            !providers.is_empty()
        });
    }
}

/// How long records and provider records last, and how often ours are
/// published again.
#[derive(Clone, Copy, Debug)]
pub struct Ttls {
    /// A stored record's life. Default: 48 hours.
    pub record_ttl: Duration,
    /// How often the records we put are put again. Default: 22 hours.
    pub record_republish: Duration,
    /// A provider record's life. Default: 48 hours (the spec's IPFS value).
    pub provider_ttl: Duration,
    /// How often our provider records are announced again. Default: 22 hours.
    pub provider_republish: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            record_ttl: Duration::from_hours(48),
            record_republish: Duration::from_hours(22),
            provider_ttl: Duration::from_hours(48),
            provider_republish: Duration::from_hours(22),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(key: &str, len: usize) -> Record {
        Record { key: key.as_bytes().to_vec(), value: vec![7; len] }
    }

    #[test]
    fn records_are_bounded_in_count_size_and_time() {
        let limits = StoreLimits { max_records: 2, max_value_len: 10, ..StoreLimits::default() };
        let mut store = MemoryStore::new(limits);
        let now = Instant::now();
        let later = now + Duration::from_mins(1);
        store.put(record("a", 1), later).unwrap();
        store.put(record("b", 1), later).unwrap();
        assert_eq!(store.put(record("c", 1), later), Err(StoreError::Full));
        store.put(record("a", 5), later).unwrap();
        assert_eq!(store.get(b"a", now).unwrap().value.len(), 5, "replaced");
        assert!(matches!(store.put(record("b", 11), later), Err(StoreError::ValueTooLarge { .. })));
        assert!(store.get(b"a", later).is_none(), "expired at its time");
        store.expire(later);
        store.put(record("c", 1), later + Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn providers_are_refreshed_bounded_per_key_and_expire() {
        let limits = StoreLimits { max_providers_per_key: 2, ..StoreLimits::default() };
        let mut store = MemoryStore::new(limits);
        let now = Instant::now();
        let provider = |peer, secs| Provider { peer, addrs: Vec::new(), expires: now + Duration::from_secs(secs) };
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        store.add_provider(b"k", provider(a, 10)).unwrap();
        store.add_provider(b"k", provider(b, 20)).unwrap();
        store.add_provider(b"k", provider(a, 30)).unwrap();
        assert_eq!(store.providers(b"k", now).len(), 2, "a refreshed, not doubled");
        store.add_provider(b"k", provider(c, 40)).unwrap();
        let peers: Vec<PeerId> = store.providers(b"k", now).iter().map(|p| p.peer).collect();
        assert!(peers.contains(&c) && peers.contains(&a) && !peers.contains(&b), "b ran out soonest: {peers:?}");
        store.expire(now + Duration::from_secs(35));
        assert_eq!(store.providers(b"k", now).len(), 1);
    }
}
