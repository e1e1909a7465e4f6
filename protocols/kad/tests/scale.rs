//! The scale run of `examples/dht_scale`, small enough for every test run:
//! 60 nodes over the in-memory transport; lookups find the true k closest,
//! records and providers are found from other nodes.

#![allow(clippy::unwrap_used, clippy::print_stdout, dead_code)]

#[path = "../examples/dht_scale/network.rs"]
mod network;

#[tokio::test(flavor = "multi_thread")]
async fn sixty_nodes_find_the_true_nearest_peers_records_and_providers() {
    let params = network::Params { nodes: 60, k: 8, lookups: 40, records: 5, seed: 3 };
    let report = tokio::time::timeout(std::time::Duration::from_mins(3), network::run(params)).await.unwrap();
    println!("{report:?}");
    assert!(report.exact * 100 >= report.lookups * 99, "exact k closest: {} of {}", report.exact, report.lookups);
    assert_eq!(report.records_found, report.records, "every record found");
    assert_eq!(report.providers_found, report.records, "every provider found");
    assert!(report.hops_mean >= 1.0);
}
