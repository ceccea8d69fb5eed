//! The `[host:]port` parser: an accepted address prints as `host:port` and parses back
//! to itself; a refused one gets a readable error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::host::HostPort;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<HostPort>() {
        Ok(address) => {
            let shown = address.to_string();
            let again: HostPort = shown.parse().expect("a printed address parses");
            assert_eq!(again, address, "printing and parsing changed {text:?}");
            assert_eq!(again.to_string(), shown);
        }
        Err(error) => weft_fuzz::assert_user_facing(&error.to_string()),
    }
});
