//! The yamux frame decoder under arbitrary bytes from a remote: no panic,
//! and every frame it accepts encodes back to the bytes it was read from.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use strata_yamux::Decoder;

fuzz_target!(|data: &[u8]| {
    let decoder = Decoder::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    let mut offset = 0;
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        let mut again = BytesMut::new();
        frame.encode(&mut again);
        assert_eq!(&again[..], &data[offset..offset + again.len()]);
        offset += again.len();
    }
});
