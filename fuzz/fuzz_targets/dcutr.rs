//! The DCUtR decoder: the input is a `HolePunch` from a peer. Whatever is
//! accepted must survive a round trip; and the framed reader must bound
//! what it reads (4 KiB).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_dcutr::{HolePunch, codec};

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = HolePunch::decode(data) {
        assert_eq!(HolePunch::decode(&decoded.encode()).ok(), Some(decoded));
    }
    // The same bytes as a length-prefixed stream: never more than the bound.
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    if let Ok(runtime) = runtime {
        runtime.block_on(async {
            let mut reader = data;
            let _ = codec::read_message(&mut reader).await;
        });
    }
});
