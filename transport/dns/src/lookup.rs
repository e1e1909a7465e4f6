//! Lookups: one name, one kind of record, bounded in time.
//!
//! Where a query goes ([`crate::Config::with_nameserver`]):
//!
//! ```text
//!                 TXT (/dnsaddr)                 A, AAAA (/dns, /dns4, /dns6)
//! a server set:   hickory ─▶ that server only     hickory ─▶ that server only     (UDP, TCP when truncated)
//! none:           hickory ─▶ /etc/resolv.conf     the OS (getaddrinfo: /etc/hosts, nsswitch), as TCP dials names
//! ```
//!
//! The hickory client is built at the first lookup that needs it, so a
//! host that never dials a name never reads the system's configuration.
//! Names are queried fully qualified (`example.com.`): no search domain is
//! appended, and each lookup is one query per record type.

use std::{
    future::Future,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use hickory_resolver::{
    TokioResolver,
    config::{NameServerConfig, ResolveHosts, ResolverConfig},
    net::{NetError, runtime::TokioRuntimeProvider},
    proto::rr::{Name, RData},
};

use strata_core::multiaddr::DnsFamily;

use crate::{Config, Error, Result};

/// The lookups of one [`crate::Resolver`].
pub(crate) struct Lookups {
    config: Config,
    /// Built at first use; shared by clones of the resolver.
    client: Mutex<Option<Arc<TokioResolver>>>,
}

impl Lookups {
    pub(crate) fn new(config: Config) -> Self {
        Self { config, client: Mutex::new(None) }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The strings of `name`'s TXT records (each record's
    /// character-strings joined, as go's `LookupTXT` does), at most
    /// [`Config::with_max_txt_records`] of them; non-UTF-8 ones skipped.
    pub(crate) async fn txt(&self, name: &str) -> Result<Vec<String>> {
        let fqdn = fqdn(name)?;
        let client = self.client()?;
        let lookup = self.bounded(name, "TXT", client.txt_lookup(fqdn)).await?;
        let records = lookup.answers().iter().filter_map(|record| match &record.data {
            RData::TXT(txt) => String::from_utf8(txt.txt_data.concat()).ok(),
            _ => None,
        });
        Ok(records.take(self.config.max_txt_records).collect())
    }

    /// The addresses of `name` of this family, IPv6 first. A name that is
    /// an IP address already is its own answer.
    pub(crate) async fn ips(&self, name: &str, family: DnsFamily) -> Result<Vec<IpAddr>> {
        let mut ips = match name.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) if self.config.nameserver.is_none() => self.system_ips(name).await?,
            Err(_) => self.client_ips(name, family).await?,
        };
        ips.retain(|ip| family.admits(*ip));
        ips.sort_by_key(IpAddr::is_ipv4); // stable: the server's order within a family
        ips.dedup();
        Ok(ips)
    }

    async fn client_ips(&self, name: &str, family: DnsFamily) -> Result<Vec<IpAddr>> {
        let fqdn = fqdn(name)?;
        let client = self.client()?;
        let v4 = async {
            let lookup = self.bounded(name, "A", client.ipv4_lookup(fqdn.clone())).await?;
            Ok(lookup.answers().iter().filter_map(|record| ip_of(&record.data)).collect::<Vec<IpAddr>>())
        };
        let v6 = async {
            let lookup = self.bounded(name, "AAAA", client.ipv6_lookup(fqdn.clone())).await?;
            Ok(lookup.answers().iter().filter_map(|record| ip_of(&record.data)).collect::<Vec<IpAddr>>())
        };
        match family {
            DnsFamily::V4 => v4.await,
            DnsFamily::V6 => v6.await,
            DnsFamily::Any => match tokio::join!(v6, v4) {
                (Ok(mut ips), Ok(v4)) => {
                    ips.extend(v4);
                    Ok(ips)
                }
                // One family answered: that is enough.
                (Ok(ips), Err(error)) | (Err(error), Ok(ips)) if !ips.is_empty() => {
                    tracing::debug!(name, %error, "dns: one address family failed");
                    Ok(ips)
                }
                (Err(Error::NoRecords { name, .. }), Err(Error::NoRecords { .. })) => {
                    Err(Error::NoRecords { name, record: "A or AAAA" })
                }
                // The more telling failure: not "no records" when the other says why.
                (Err(Error::NoRecords { .. }) | Ok(_), Err(error)) | (Err(error), _) => Err(error),
            },
        }
    }

    /// The operating system's answer, as the TCP transport gets it.
    async fn system_ips(&self, name: &str) -> Result<Vec<IpAddr>> {
        let resolved = tokio::time::timeout(self.config.timeout, tokio::net::lookup_host((name, 0)))
            .await
            .map_err(|_| Error::Timeout { name: name.to_owned(), after: self.config.timeout })?
            .map_err(|source| Error::System { name: name.to_owned(), source })?;
        Ok(resolved.map(|socket| socket.ip()).collect())
    }

    /// Runs a hickory lookup within the configured timeout, its error made
    /// ours.
    async fn bounded<T>(
        &self,
        name: &str,
        record: &'static str,
        lookup: impl Future<Output = Result<T, NetError>>,
    ) -> Result<T> {
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, lookup).await {
            Ok(Ok(answer)) => Ok(answer),
            // Ours, or hickory's own (its tries were used up first).
            Err(_) | Ok(Err(NetError::Timeout)) => Err(Error::Timeout { name: name.to_owned(), after: timeout }),
            Ok(Err(error)) if error.is_nx_domain() => Err(Error::NoSuchDomain { name: name.to_owned() }),
            Ok(Err(error)) if error.is_no_records_found() => Err(Error::NoRecords { name: name.to_owned(), record }),
            Ok(Err(source)) => Err(Error::Lookup { name: name.to_owned(), source }),
        }
    }

    /// The hickory client, built at first use.
    fn client(&self) -> Result<Arc<TokioResolver>> {
        let mut slot = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = slot.as_ref() {
            return Ok(Arc::clone(client));
        }
        let mut builder = match self.config.nameserver {
            Some(server) => {
                let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut name_server.connections {
                    connection.port = server.port();
                }
                let config = ResolverConfig::from_name_servers(vec![name_server]);
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            }
            None => TokioResolver::builder_tokio().map_err(Error::Setup)?,
        };
        let options = builder.options_mut();
        // Three tries fit in the configured timeout, so that one lost
        // datagram costs a retry rather than the lookup.
        options.timeout = self.config.timeout / 3;
        options.attempts = 2;
        // /etc/hosts answers A and AAAA, which go to the OS without a
        // server and to the server alone with one.
        options.use_hosts_file = ResolveHosts::Never;
        let client = Arc::new(builder.build().map_err(Error::Setup)?);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }
}

/// The address of an A or AAAA record.
fn ip_of(data: &RData) -> Option<IpAddr> {
    match data {
        RData::A(a) => Some(a.0.into()),
        RData::AAAA(aaaa) => Some(aaaa.0.into()),
        _ => None,
    }
}

/// `name` as a fully qualified DNS name.
fn fqdn(name: &str) -> Result<Name> {
    let mut fqdn = Name::from_str_relaxed(name).map_err(|_| Error::InvalidName { name: name.to_owned() })?;
    fqdn.set_fqdn(true);
    Ok(fqdn)
}
