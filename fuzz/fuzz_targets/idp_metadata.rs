#![no_main]
//! See `samlhub_fuzz::harness::idp_metadata`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlhub_fuzz::harness::idp_metadata(data);
});
