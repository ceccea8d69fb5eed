//! The duration parser: an accepted duration is formatted by `format_duration` as text
//! that parses back to exactly the same duration; a refused one gets a readable error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::simnet::{format_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_duration(text) {
        Ok(duration) => {
            let shown = format_duration(duration);
            let again = parse_duration(&shown).expect("a formatted duration parses");
            assert_eq!(
                again, duration,
                "{text:?} formats as {shown:?}, which reads back differently"
            );
        }
        Err(error) => weft_fuzz::assert_user_facing(&error.to_string()),
    }
});
