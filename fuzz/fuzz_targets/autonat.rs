//! The AutoNAT v2 decoders: the input is a dial-request stream message, a
//! dial back or a dial-back answer from a peer (the first byte picks
//! which). Whatever is accepted must survive a round trip; and the framed
//! readers must bound what they read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_autonat::{DialBack, DialBackResponse, Message, codec};

fuzz_target!(|data: &[u8]| {
    let Some((&which, message)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            if let Ok(decoded) = Message::decode(message) {
                assert_eq!(Message::decode(&decoded.encode()).ok(), Some(decoded));
            }
        }
        1 => {
            if let Ok(decoded) = DialBack::decode(message) {
                assert_eq!(DialBack::decode(&decoded.encode()).ok(), Some(decoded));
            }
        }
        _ => {
            if let Ok(decoded) = DialBackResponse::decode(message) {
                assert_eq!(DialBackResponse::decode(&decoded.encode()).ok(), Some(decoded));
            }
        }
    }
    // The same bytes as a length-prefixed stream: never more than the bound.
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    if let Ok(runtime) = runtime {
        runtime.block_on(async {
            let mut reader = message;
            let _ = codec::read_message(&mut reader).await;
            let mut reader = message;
            let _ = codec::read_dial_back(&mut reader).await;
            let mut reader = message;
            let _ = codec::read_dial_back_response(&mut reader).await;
        });
    }
});
