//! The schema-less protobuf field walker (`strata_core::protobuf`), which
//! reads signed pubsub messages byte for byte. The fields it yields must
//! tile the input exactly up to the first malformed one, and removing
//! fields (what a signature check does) must keep the others' bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_core::protobuf::{Value, fields};

fuzz_target!(|data: &[u8]| {
    let mut offset = 0;
    let mut numbers = Vec::new();
    for field in fields(data) {
        match field {
            Ok(field) => {
                assert_eq!(&data[offset..offset + field.raw.len()], field.raw);
                if let Value::Bytes(bytes) = field.value {
                    assert!(field.raw.ends_with(bytes));
                }
                offset += field.raw.len();
                numbers.push(field.number);
            }
            Err(error) => {
                assert_eq!(error.offset, offset);
                return;
            }
        }
    }
    assert_eq!(offset, data.len());
    if let Some(first) = numbers.first() {
        let kept = strata_pubsub::rpc::without_fields(data, &[*first]).expect("a well-formed message");
        let again: Vec<u64> = fields(&kept).map(|field| field.expect("kept fields stay well-formed").number).collect();
        assert!(again.iter().all(|number| number != first));
        assert_eq!(again.len(), numbers.iter().filter(|number| *number != first).count());
    }
});
