//! The muxer compliance suite (`strata_testkit::muxer_suite`) run against
//! every muxer strata has: what "a muxer works" means.

use strata::{mplex, yamux};
use strata_testkit::muxer_suite::{self, SlowReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yamux_passes_the_muxer_suite() {
    muxer_suite::run_all(&yamux::Config::default(), SlowReader::OthersFlow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yamux_with_small_frames_and_a_small_queue_passes_the_muxer_suite() {
    let config = yamux::Config::default().with_split_send_size(1024).with_max_outbound_queue(4096);
    muxer_suite::run_all(&config, SlowReader::OthersFlow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mplex_passes_the_muxer_suite() {
    let config = mplex::Config::default().with_overflow(mplex::Overflow::ResetStream);
    muxer_suite::run_all(&config, SlowReader::SlowStreamReset).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_random_interleaving_is_reproducible_from_other_seeds() {
    for seed in [1, 2, 3] {
        muxer_suite::many_concurrent_streams(&yamux::Config::default(), seed, 32).await;
        muxer_suite::many_concurrent_streams(&mplex::Config::default(), seed, 32).await;
    }
}
