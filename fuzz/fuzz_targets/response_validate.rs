#![no_main]
//! See `samlhub_fuzz::harness::response_validate`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlhub_fuzz::harness::response_validate(data);
});
