//! The circuit relay v2 decoders: the input is a hop or a stop message
//! from a peer (the first byte picks which). Whatever is accepted must
//! survive a round trip; and the framed reader must bound what it reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_relay::{HopMessage, StopMessage, codec};

fuzz_target!(|data: &[u8]| {
    let Some((&which, message)) = data.split_first() else { return };
    if which & 1 == 0 {
        if let Ok(hop) = HopMessage::decode(message) {
            assert_eq!(HopMessage::decode(&hop.encode()).ok(), Some(hop));
        }
    } else if let Ok(stop) = StopMessage::decode(message) {
        assert_eq!(StopMessage::decode(&stop.encode()).ok(), Some(stop));
    }
    // The same bytes as a length-prefixed stream: never more than the bound.
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    if let Ok(runtime) = runtime {
        runtime.block_on(async {
            let mut reader = message;
            let _ = codec::read_hop(&mut reader).await;
            let mut reader = message;
            let _ = codec::read_stop(&mut reader).await;
        });
    }
});
