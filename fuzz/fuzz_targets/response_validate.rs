#![no_main]
//! See `samlhub::testing::fuzz::response_validate`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlhub::testing::fuzz::response_validate(data);
});
