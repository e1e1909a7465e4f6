//! Multiaddr decoders: bytes (as from an identify message) and text (as
//! from a user or a config file). Whatever is accepted must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_core::{Multiaddr, multiaddr::Component};

fuzz_target!(|data: &[u8]| {
    if let Ok(addr) = Multiaddr::from_bytes(data) {
        assert_eq!(addr.as_bytes(), data);
        let components: Vec<_> = addr.iter().collect();
        // A unix path takes the rest of the text, so only a last one round-trips.
        if components.iter().rev().skip(1).all(|c| !matches!(c, Component::Unix(_))) {
            assert_eq!(addr.to_string().parse::<Multiaddr>().ok(), Some(addr));
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(addr) = text.parse::<Multiaddr>()
    {
        assert_eq!(Multiaddr::from_bytes(addr.as_bytes()).ok(), Some(addr));
    }
});
