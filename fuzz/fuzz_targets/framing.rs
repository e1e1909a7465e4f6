//! Varints and length-prefixed frames: the first byte picks the limit, the
//! rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_core::{framing, varint};
use tokio::io::AsyncWriteExt;

fuzz_target!(|data: &[u8]| {
    let _ = varint::decode(data);
    let _ = varint::decode_partial(data);
    let Some((&max, stream)) = data.split_first() else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    runtime.block_on(async {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let _ = a.write_all(stream).await;
        drop(a);
        while let Ok(Some(message)) = framing::try_read_length_prefixed(&mut b, usize::from(max)).await {
            assert!(message.len() <= usize::from(max));
        }
    });
});
