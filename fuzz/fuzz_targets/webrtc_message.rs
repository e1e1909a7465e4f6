//! WebRTC-direct data channel framing (`strata_webrtc::message`): the
//! first byte picks how the stream is cut into SCTP messages, the rest is
//! the stream. Every decoded frame is within the 16 KiB limit and
//! re-encodes to a frame that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_webrtc::message::{self, Decoder, MAX_MESSAGE_SIZE};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let _ = message::decode_body(stream);
    let mut decoder = Decoder::new();
    for piece in stream.chunks(usize::from(chunk).max(1)) {
        decoder.extend(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(decoded)) => {
                    assert!(decoded.data.len() < MAX_MESSAGE_SIZE);
                    let mut again = Vec::new();
                    message::encode(decoded.flag, &decoded.data, &mut again);
                    let mut check = Decoder::new();
                    check.extend(&again);
                    if decoded.data.len() <= message::MAX_PAYLOAD {
                        assert_eq!(check.next_message().ok().flatten(), Some(decoded));
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(decoder.buffered() < MAX_MESSAGE_SIZE + 3);
    }
});
