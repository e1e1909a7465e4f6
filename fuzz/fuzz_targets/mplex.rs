//! mplex: the input is what the remote sends on a connection. The
//! connection accepts and reads every stream until it ends; whatever the
//! bytes, it must end (the remote closes after them) without a panic.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use strata_core::{Endpoint, MuxedConnection, StreamMuxer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fuzz_target!(|data: &[u8]| {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() else {
        return;
    };
    runtime.block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(1 << 17);
        let config = strata_mplex::Config::default().with_max_streams(16).with_max_buffer(4096);
        let Ok(connection) = config.upgrade(ours, Endpoint::Listener).await else { return };
        let _ = theirs.write_all(data).await;
        drop(theirs);
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(mut stream)) = connection.accept_stream().await {
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(Duration::from_millis(10), stream.read_to_end(&mut sink)).await;
            }
        });
        assert!(drained.await.is_ok(), "the connection must end when the remote does");
    });
});
