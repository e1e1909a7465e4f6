//! multistream-select: the input is what the remote sends, to our listener
//! and to our dialer. Each must end (the remote closes after its bytes)
//! without a panic.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use strata_core::multistream;
use tokio::io::AsyncWriteExt;

fuzz_target!(|data: &[u8]| {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() else {
        return;
    };
    runtime.block_on(async {
        let (mut ours, mut theirs) = tokio::io::duplex(1 << 16);
        let _ = theirs.write_all(data).await;
        drop(theirs);
        let listened =
            tokio::time::timeout(Duration::from_secs(5), multistream::listener_select(&mut ours, &["/a", "/b"]));
        assert!(listened.await.is_ok(), "the listener must end when the remote closes");

        let (mut ours, mut theirs) = tokio::io::duplex(1 << 16);
        let _ = theirs.write_all(data).await;
        let _ = theirs.shutdown().await;
        let dialed = tokio::time::timeout(Duration::from_secs(5), multistream::dialer_select(&mut ours, ["/a", "/b"]));
        assert!(dialed.await.is_ok(), "the dialer must end when the remote stops");
    });
});
