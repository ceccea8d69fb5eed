//! The line codec, through `weft::codec::line::fuzz`: the same lines and error whatever
//! the cuts, the buffer bounded by the maximum, lines re-encode to their bytes, `parse`
//! agrees with the decoder. Here also: errors read as sentences.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (_, error) = weft::codec::line::fuzz(data);
    if let Some(error) = error {
        weft_fuzz::assert_user_facing(&error.to_string());
    }
});
