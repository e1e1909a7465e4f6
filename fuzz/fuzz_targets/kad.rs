//! The Kademlia message decoder (strata-kad): the input is a request or a
//! response from a peer. No panic; the lists come out bounded; a decoded
//! message encodes and decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_kad::proto::{MAX_ADDRS, MAX_PEERS, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        assert!(message.closer_peers.len() <= MAX_PEERS && message.provider_peers.len() <= MAX_PEERS);
        assert!(message.closer_peers.iter().chain(&message.provider_peers).all(|peer| peer.addrs.len() <= MAX_ADDRS));
        assert_eq!(Message::decode(&message.encode()).ok(), Some(message));
    }
});
