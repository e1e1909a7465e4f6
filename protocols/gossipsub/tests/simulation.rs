//! The simulation of `examples/simulate` (routers on a virtual clock, a
//! random sparse graph), small enough for every test run: every
//! subscriber gets every message exactly once through gossipsub and
//! through floodsub, and gossipsub's mesh receives fewer copies than
//! floodsub's flooding on the same graph.

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::cast_precision_loss)]

#[allow(dead_code)] // the report fields the example prints
#[path = "../examples/simulate/network.rs"]
mod network;

use std::time::Duration;

use network::Params;
use strata_gossipsub::{Config, GossipRouter};

#[test]
fn every_subscriber_gets_every_message_exactly_once_with_fewer_copies_than_floodsub() {
    let params = Params {
        nodes: 30,
        degree: 12,
        messages: 60,
        publish_every: Duration::from_millis(50),
        latency_ms: (5, 50),
        seed: 11,
    };
    assert_eq!(network::reachable(&params), params.nodes, "the graph is connected");
    assert!(network::edge_count(&params) >= params.nodes * params.degree / 2);
    let gossip =
        network::run(params, "/meshsub/1.2.0", |node| GossipRouter::new(Config::default().with_seed(node as u64 + 1)));
    let flood = network::run(params, "/floodsub/1.0.0", |_| {
        strata_floodsub::FloodRouter::new(strata_floodsub::Config::default())
    });
    println!("gossipsub: {gossip:?}\nfloodsub: {flood:?}");
    for report in [&gossip, &flood] {
        assert_eq!((report.missing, report.extra), (0, 0), "exactly once: {report:?}");
    }
    assert!(
        gossip.duplicates_mean < flood.duplicates_mean,
        "the mesh sends fewer copies: {} vs {}",
        gossip.duplicates_mean,
        flood.duplicates_mean
    );
    assert!(gossip.control_bytes_per_message > 0.0, "GRAFTs and IHAVEs were counted");
}
