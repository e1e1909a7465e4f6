//! `Resolver`: a multiaddr that starts with a name into the multiaddrs to
//! dial.
//!
//! Spec: `libp2p-addressing.md`, "IP and Name Resolution": `/dns`,
//! `/dns4` and `/dns6` resolve through A and AAAA records, and only the
//! name is replaced (`/dns4/example.com/tcp/42` → `/ip4/192.0.2.0/tcp/42`);
//! `/dnsaddr` links resolve through TXT records (see `dnsaddr.rs`).
//!
//! A resolution is a walk over a stack of addresses, the first record's
//! addresses first, so the result keeps the order the records give:
//!
//! ```text
//! /dnsaddr/a.example/p2p/QmA  ─TXT─▶ /dnsaddr/b.example/p2p/QmA  ─TXT─▶ /dns4/c.example/udp/1/quic-v1/p2p/QmA ─A─▶ /ip4/…/udp/1/quic-v1/p2p/QmA
//!                                    /ip4/…/tcp/1/p2p/QmA                                                          (kept, in this order)
//! ```
//!
//! Every walk is bounded ([`Config`]): links followed one inside another,
//! lookups in all, TXT records read per name, addresses returned, the
//! time of each lookup, and the time of the whole walk. A name looked up once is not looked up again, so
//! a loop of links ends. A failure of the dialed name itself is the
//! error; a failure further down only loses that branch, and is reported
//! if no branch yields an address.

use std::{borrow::Cow, collections::HashSet, fmt, sync::Arc};

use strata_core::{
    AddressResolver, Multiaddr,
    multiaddr::{Component, DnsFamily},
    resolve::ResolveFuture,
};

use crate::{Config, Error, Result, dnsaddr, lookup::Lookups};

/// Resolves `/dnsaddr`, `/dns`, `/dns4` and `/dns6` multiaddrs. Cheap to
/// clone: clones share the DNS client and its cache.
#[derive(Clone)]
pub struct Resolver {
    lookups: Arc<Lookups>,
}

impl Default for Resolver {
    /// A resolver with the default [`Config`]: the system's resolver.
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").field("config", self.lookups.config()).finish()
    }
}

impl Resolver {
    /// A resolver with this configuration. Nothing is read or sent until
    /// the first address with a name is resolved.
    pub fn new(config: Config) -> Self {
        Self { lookups: Arc::new(Lookups::new(config)) }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.lookups.config()
    }

    /// The addresses `addr` stands for, in the order the records give them
    /// (IPv6 before IPv4 for a `/dns` name), without duplicates, at most
    /// [`Config::with_max_addrs`]. An address that does not start with a
    /// name comes back unchanged, without a lookup. Never an empty list:
    /// no address is [`Error::NoAddresses`] or the failure that lost them.
    pub async fn resolve(&self, addr: &Multiaddr) -> Result<Vec<Multiaddr>> {
        let config = self.lookups.config();
        let deadline = tokio::time::Instant::now() + config.resolve_timeout;
        let out_of_time = || Error::Timeout { name: addr.to_string(), after: config.resolve_timeout };
        let mut walk = Walk { found: Vec::new(), seen: HashSet::new(), lookups: 0, first_error: None };
        // A stack: the last pushed is looked at next. Each address carries
        // how many links led to it.
        let mut pending = vec![(addr.clone(), 0_usize)];
        while let Some((current, depth)) = pending.pop() {
            if walk.found.len() >= config.max_addrs {
                tracing::debug!(%addr, max = config.max_addrs, "dns: address limit reached; the rest is dropped");
                break;
            }
            let Some(name) = Name::of(&current) else {
                walk.add(current);
                continue;
            };
            if walk.lookups >= config.max_lookups {
                walk.fail(Error::TooManyLookups { addr: current, max: config.max_lookups });
                break;
            }
            let rest: Vec<Component<'_>> = current.iter().skip(1).collect();
            match name {
                Name::Dnsaddr(domain) => {
                    if depth >= config.max_depth {
                        walk.fail(Error::TooDeep { addr: current.clone(), max: config.max_depth });
                        continue;
                    }
                    let key = (
                        domain.trim_end_matches('.').to_ascii_lowercase(),
                        rest.iter().cloned().collect::<Multiaddr>(),
                    );
                    if !walk.seen.insert(key) {
                        walk.fail(Error::Loop { addr: current.clone() });
                        continue;
                    }
                    walk.lookups += 1;
                    let Ok(answer) =
                        tokio::time::timeout_at(deadline, self.lookups.txt(&dnsaddr::txt_name(&domain))).await
                    else {
                        walk.fail(out_of_time());
                        break;
                    };
                    match answer {
                        Ok(records) => {
                            let entries = dnsaddr::entries(records.iter().map(String::as_str), &rest);
                            tracing::debug!(%current, records = records.len(), kept = entries.len(), "dns: dnsaddr");
                            pending.extend(entries.into_iter().rev().map(|entry| (entry, depth + 1)));
                        }
                        Err(error) if depth == 0 => return Err(error),
                        Err(error) => walk.fail(error),
                    }
                }
                Name::Host(host, family) => {
                    walk.lookups += 1;
                    let Ok(answer) = tokio::time::timeout_at(deadline, self.lookups.ips(&host, family)).await else {
                        walk.fail(out_of_time());
                        break;
                    };
                    match answer {
                        Ok(ips) if ips.is_empty() => walk.fail(Error::NoAddresses { addr: current.clone() }),
                        Ok(ips) => {
                            tracing::debug!(%current, ?ips, "dns: resolved");
                            let rest = crate::server_name::keep_server_name(&host, rest);
                            for ip in ips {
                                walk.add(rest.iter().cloned().fold(Multiaddr::from_ip(ip), Multiaddr::with));
                            }
                        }
                        Err(error) if depth == 0 => return Err(error),
                        Err(error) => walk.fail(error),
                    }
                }
            }
        }
        let Walk { mut found, first_error, .. } = walk;
        if found.is_empty() {
            return Err(first_error.unwrap_or_else(|| Error::NoAddresses { addr: addr.clone() }));
        }
        found.truncate(config.max_addrs);
        Ok(found)
    }
}

impl AddressResolver for Resolver {
    fn resolve<'a>(&'a self, addr: &'a Multiaddr) -> ResolveFuture<'a> {
        Box::pin(async move { Resolver::resolve(self, addr).await.map_err(Into::into) })
    }
}

/// What one resolution has found so far.
struct Walk {
    found: Vec<Multiaddr>,
    /// The `/dnsaddr` names looked up (with what followed them), so that
    /// none is looked up twice.
    seen: HashSet<(String, Multiaddr)>,
    lookups: usize,
    /// The first branch that failed: the error if no branch succeeds.
    first_error: Option<Error>,
}

impl Walk {
    fn add(&mut self, addr: Multiaddr) {
        if !self.found.contains(&addr) {
            self.found.push(addr);
        }
    }

    fn fail(&mut self, error: Error) {
        tracing::debug!(%error, "dns: a branch of the resolution failed");
        self.first_error.get_or_insert(error);
    }
}

/// The name an address starts with, if it does.
enum Name<'a> {
    /// `/dnsaddr/<domain>`.
    Dnsaddr(Cow<'a, str>),
    /// `/dns`, `/dns4` or `/dns6`.
    Host(Cow<'a, str>, DnsFamily),
}

impl<'a> Name<'a> {
    fn of(addr: &'a Multiaddr) -> Option<Self> {
        match addr.iter().next()? {
            Component::Dnsaddr(domain) => Some(Self::Dnsaddr(domain)),
            Component::Dns(host) => Some(Self::Host(host, DnsFamily::Any)),
            Component::Dns4(host) => Some(Self::Host(host, DnsFamily::V4)),
            Component::Dns6(host) => Some(Self::Host(host, DnsFamily::V6)),
            _ => None,
        }
    }
}
