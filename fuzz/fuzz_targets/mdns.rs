//! The mDNS packet decoder (strata-mdns): the input is a UDP datagram
//! from the LAN. No panic; whatever it announces is bounded (at most the
//! addresses asked for per peer), and an announcement encoded again reads
//! back as the same peer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_mdns::packet::{self, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(Packet::Response(announcements)) = packet::parse(data, 4) {
        for announcement in announcements {
            assert!(announcement.addrs.len() <= 4);
            let again = packet::response("fuzz", announcement.peer, &announcement.addrs, announcement.ttl);
            let Ok(Packet::Response(read)) = packet::parse(&again[0], 4) else { panic!("our own response reads") };
            if let Some(first) = read.first() {
                assert_eq!(first.peer, announcement.peer);
            }
        }
    }
});
