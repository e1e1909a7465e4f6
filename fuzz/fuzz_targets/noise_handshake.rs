//! The Noise handshake fed arbitrary bytes as the remote's messages, in
//! both roles. Either side must end, with an error or (never, in practice)
//! a session, without a panic and within the handshake timeout.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use strata_core::{Keypair, SecurityUpgrade};
use tokio::io::AsyncWriteExt;

fuzz_target!(|data: &[u8]| {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() else {
        return;
    };
    let noise = strata_noise::Config::new(&Keypair::ed25519_from_secret([1; 32]))
        .with_handshake_timeout(Duration::from_millis(100));
    runtime.block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(1 << 17);
        let _ = theirs.write_all(data).await;
        drop(theirs);
        let _ = noise.secure_inbound(ours).await;

        let (ours, mut theirs) = tokio::io::duplex(1 << 17);
        let _ = theirs.write_all(data).await;
        drop(theirs);
        let _ = noise.secure_outbound(ours, None).await;
    });
});
