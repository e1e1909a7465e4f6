//! The `Identify` message decoder: the input is a message from a peer.
//! Whatever is accepted must survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_core::Keypair;
use strata_identify::Info;

fuzz_target!(|data: &[u8]| {
    let peer = Keypair::ed25519_from_secret([1; 32]).peer_id();
    if let Ok(info) = Info::decode(data, peer) {
        assert_eq!(Info::decode(&info.encode(), peer).ok(), Some(info));
    }
});
