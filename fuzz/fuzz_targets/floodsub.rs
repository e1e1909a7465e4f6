//! floodsub's message decoder under each signature policy: the input is a
//! `Message` from a peer. No panic; whatever is accepted decodes again the
//! same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_floodsub::{Message, SignaturePolicy};

fuzz_target!(|data: &[u8]| {
    for policy in [SignaturePolicy::StrictSign, SignaturePolicy::Lax, SignaturePolicy::StrictNoSign] {
        if let Ok((message, id)) = Message::decode(policy, data) {
            assert_eq!(Message::decode(policy, data).ok(), Some((message, id)));
        }
    }
});
