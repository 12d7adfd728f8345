#![no_main]
//! See `samlhub::testing::fuzz::xml_lex_diff`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlhub::testing::fuzz::xml_lex_diff(data);
});
