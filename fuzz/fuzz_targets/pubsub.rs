//! The pubsub decoders (strata-pubsub): the input is an RPC or a `Message`
//! from a peer. No panic; an RPC that decodes encodes and decodes again to
//! the same value; a message accepted under a policy is accepted again the
//! same way; removing the signature fields never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_pubsub::{
    Rpc, SignaturePolicy, message,
    rpc::{KEY_FIELD, SIGNATURE_FIELD, without_fields},
};

fuzz_target!(|data: &[u8]| {
    if let Ok(rpc) = Rpc::decode(data) {
        assert_eq!(Rpc::decode(&rpc.encode()).ok(), Some(rpc));
    }
    let _ = without_fields(data, &[SIGNATURE_FIELD, KEY_FIELD]);
    for policy in [SignaturePolicy::StrictSign, SignaturePolicy::Lax, SignaturePolicy::StrictNoSign] {
        if let Ok(message) = message::receive(policy, 1 << 20, data) {
            assert_eq!(message::receive(policy, 1 << 20, data).ok(), Some(message));
        }
    }
});
