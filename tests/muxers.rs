//! The muxer compliance suite (`strata_testkit::muxer_suite`) run against
//! every muxer strata has: what "a muxer works" means. One test per check
//! per muxer config (`muxer_suite!`), so a failure names both.

use strata::{mplex, yamux};
use strata_testkit::muxer_suite::{self, SlowReader};

strata_testkit::muxer_suite!(yamux_default, yamux::Config::default(), SlowReader::OthersFlow);

strata_testkit::muxer_suite!(
    yamux_small_frames_small_queue,
    yamux::Config::default().with_split_send_size(1024).with_max_outbound_queue(4096),
    SlowReader::OthersFlow
);

strata_testkit::muxer_suite!(
    mplex_reset_slow_streams,
    mplex::Config::default().with_overflow(mplex::Overflow::ResetStream),
    SlowReader::SlowStreamReset
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_random_interleaving_is_reproducible_from_other_seeds() {
    for seed in [1, 2, 3] {
        let sizes = muxer_suite::stream_sizes(seed, 32);
        assert_eq!(sizes, muxer_suite::stream_sizes(seed, 32), "seed {seed} gives the same streams again");
        assert_ne!(sizes, muxer_suite::stream_sizes(seed + 10, 32), "another seed gives other streams");
        muxer_suite::many_concurrent_streams(&yamux::Config::default(), seed, 32).await;
        muxer_suite::many_concurrent_streams(&mplex::Config::default(), seed, 32).await;
    }
}
