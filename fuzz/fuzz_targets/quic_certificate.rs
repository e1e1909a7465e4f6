//! The QUIC handshake's decoders of a peer's bytes: the libp2p public key
//! extension (`SignedKey`, DER) and the whole certificate check. Whatever
//! the extension decoder accepts must encode back to the same bytes; the
//! certificate check must refuse garbage without panicking.
#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use strata_quic::tls::{certificate, extension::SignedKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = SignedKey::decode(data) {
        assert_eq!(key.encode(), data);
    }
    let _ = certificate::verify(data, SystemTime::now());
});
