#![no_main]
//! See `samlhub::testing::fuzz::redirect_decode`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlhub::testing::fuzz::redirect_decode(data);
});
