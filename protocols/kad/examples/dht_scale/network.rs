//! A DHT of `n` nodes in one process: real hosts (Noise, yamux, identify,
//! kad) over the in-memory transport, seeded identities, measured lookups.
//!
//! ```text
//! build n hosts on /memory/0 ─▶ node i learns one earlier node (seeded choice)
//! bootstrap every node (a batch at a time) ─▶ tables fill through lookups and identify
//! measure: random keys from random nodes ─▶ closest_peers vs the true k closest
//!          put_value / get_value and provide / providers between random pairs
//! ```

#![allow(clippy::expect_used)] // a simulation's setup fails loudly

use std::time::{Duration, Instant};

use strata_core::{Keypair, PeerId};
use strata_host::{Config as HostConfig, Host};
use strata_identify::Identify;
use strata_kad::{Config, Kad, key::Key};
use strata_memory::MemoryTransport;
use strata_testkit::sim::{Rng, percentile};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub(crate) nodes: usize,
    pub(crate) k: usize,
    pub(crate) lookups: usize,
    pub(crate) records: usize,
    pub(crate) seed: u64,
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) nodes: usize,
    /// Lookups whose result was exactly the true k closest.
    pub(crate) exact: usize,
    pub(crate) lookups: usize,
    pub(crate) hops_mean: f64,
    pub(crate) hops_p99: u32,
    pub(crate) requests_mean: f64,
    pub(crate) requests_p99: usize,
    /// Records got back / put.
    pub(crate) records_found: usize,
    /// Provider lookups that found the provider.
    pub(crate) providers_found: usize,
    pub(crate) records: usize,
    pub(crate) setup: Duration,
    pub(crate) lookup_time_mean: Duration,
}

struct Node {
    host: Host,
    kad: Kad,
    _identify: Identify,
}

async fn node(index: usize, seed: u64, k: usize) -> Node {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&(index as u64 + 1).to_be_bytes());
    secret[8..16].copy_from_slice(&seed.to_be_bytes());
    let keypair = Keypair::ed25519_from_secret(secret);
    let host_config = HostConfig::default().with_max_connections(4096).with_max_inbound_connections(4096);
    let host =
        Host::builder(&keypair, MemoryTransport::default(), strata_noise::Config::new, strata_yamux::Config::default())
            .config(host_config)
            .listen("/memory/0".parse().expect("a memory address"))
            .build()
            .await
            .expect("a host");
    let identify = Identify::attach(&host, strata_identify::Config::default()).expect("identify");
    let config = Config::default().with_k(k).with_bootstrap_interval(None);
    let kad = Kad::attach(&host, config).expect("kad");
    Node { host, kad, _identify: identify }
}

/// Builds, bootstraps and measures a network.
pub(crate) async fn run(params: Params) -> Report {
    let started = Instant::now();
    let mut rng = Rng::new(params.seed);
    let mut nodes = Vec::with_capacity(params.nodes);
    for index in 0..params.nodes {
        nodes.push(node(index, params.seed, params.k).await);
    }
    for index in 1..params.nodes {
        let known = &nodes[rng.below(index)];
        nodes[index].kad.add_address(known.host.peer_id(), &known.host.listen_addrs()[0]);
    }
    // Bootstrap in order, a batch at a time: each batch finds the earlier ones.
    for batch in nodes.chunks(50) {
        for outcome in futures::future::join_all(batch.iter().map(|node| node.kad.bootstrap())).await {
            if let Err(error) = outcome {
                tracing::debug!(%error, "bootstrap failed");
            }
        }
    }
    // A second round, now that every node is known somewhere.
    for batch in nodes.chunks(50) {
        futures::future::join_all(batch.iter().map(|node| node.kad.bootstrap())).await;
    }
    let setup = started.elapsed();

    let ids: Vec<PeerId> = nodes.iter().map(|node| node.host.peer_id()).collect();
    let (mut exact, mut hops, mut requests, mut spent) = (0, Vec::new(), Vec::new(), Duration::ZERO);
    for lookup in 0..params.lookups {
        let key = format!("key {lookup} {}", rng.next_u64()).into_bytes();
        let from = rng.below(params.nodes);
        let target = Key::new(&key);
        let mut truth: Vec<PeerId> = ids.iter().copied().filter(|peer| *peer != ids[from]).collect();
        truth.sort_by_key(|peer| Key::of_peer(*peer).distance(&target));
        truth.truncate(params.k);
        let began = Instant::now();
        if let Ok((found, stats)) = nodes[from].kad.closest_peers(&key).await {
            spent += began.elapsed();
            if found == truth {
                exact += 1;
            }
            hops.push(stats.hops);
            requests.push(stats.requests);
        }
    }
    hops.sort_unstable();
    requests.sort_unstable();
    let (mut records_found, mut providers_found) = (0, 0);
    for record in 0..params.records {
        let key = format!("record {record}").into_bytes();
        let (putter, getter) = (rng.below(params.nodes), rng.below(params.nodes));
        if nodes[putter].kad.put_value(&key, b"value".to_vec()).await.is_ok()
            && nodes[getter].kad.get_value(&key).await.is_ok_and(|value| value == b"value")
        {
            records_found += 1;
        }
        let topic = format!("topic {record}").into_bytes();
        let (provider, seeker) = (rng.below(params.nodes), rng.below(params.nodes));
        if nodes[provider].kad.provide(&topic).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await; // ADD_PROVIDER is not answered
            let found = nodes[seeker].kad.providers(&topic).await.unwrap_or_default();
            if found.iter().any(|(peer, _)| *peer == ids[provider]) {
                providers_found += 1;
            }
        }
    }
    let count = hops.len().max(1);
    #[allow(clippy::cast_precision_loss)]
    let report = Report {
        nodes: params.nodes,
        exact,
        lookups: params.lookups,
        hops_mean: hops.iter().map(|h| f64::from(*h)).sum::<f64>() / count as f64,
        hops_p99: if hops.is_empty() { 0 } else { percentile(&hops, 99) },
        requests_mean: requests.iter().sum::<usize>() as f64 / count as f64,
        requests_p99: if requests.is_empty() { 0 } else { percentile(&requests, 99) },
        records_found,
        providers_found,
        records: params.records,
        setup,
        lookup_time_mean: spent / u32::try_from(count).unwrap_or(1),
    };
    for node in &nodes {
        node.host.shutdown().await;
    }
    report
}
