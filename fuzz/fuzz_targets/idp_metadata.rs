#![no_main]
//! See `samlhub::testing::fuzz::idp_metadata`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlhub::testing::fuzz::idp_metadata(data);
});
