//! The Avro decoder of every topic's records: requests, results, audit and intermediation
//! events, as a consumer meets them (any bytes a topic may hold).
#![no_main]

use std::sync::LazyLock;

use kirikae::messages::Codec;
use libfuzzer_sys::fuzz_target;

static CODEC: LazyLock<Codec> = LazyLock::new(Codec::new);

fuzz_target!(|data: &[u8]| {
    let _ = CODEC.decode_request(data);
    let _ = CODEC.decode_result(data);
    let _ = CODEC.decode_audit(data);
    let _ = CODEC.decode_intermediation(data);
});
