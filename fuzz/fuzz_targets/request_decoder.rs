//! Arbitrary bytes as one Kafka request frame (what follows the 4-byte
//! length prefix), through the listener's own decode path: header, version
//! check, the pre-decode guard's schema walk, then the `kafka-protocol` body
//! decoder. Any panic, or an allocation above libFuzzer's `-malloc_limit_mb`
//! (the bug the guard exists for), is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = riffle_log::kafka::decode_request_frame(data);
});
