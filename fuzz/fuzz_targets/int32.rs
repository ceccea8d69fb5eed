//! The 4-byte length-prefix codec, through `weft::codec::int32::fuzz`: the same payloads
//! and error whatever the cuts, the buffer bounded by the maximum, payloads re-encode to
//! their bytes, `parse` agrees with the decoder. Here also: errors read as sentences.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (_, error) = weft::codec::int32::fuzz(data);
    if let Some(error) = error {
        weft_fuzz::assert_user_facing(&error.to_string());
    }
});
