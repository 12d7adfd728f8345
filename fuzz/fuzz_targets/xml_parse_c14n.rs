#![no_main]
//! See `samlhub_fuzz::harness::xml_parse_c14n`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlhub_fuzz::harness::xml_parse_c14n(data);
});
