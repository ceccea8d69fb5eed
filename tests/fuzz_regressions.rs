//! Inputs the coverage-guided fuzzers (fuzz/) found, kept as regression tests.

use std::time::Duration;

use weft::simnet::{format_duration, parse_duration};

/// The `duration` fuzz target: an 18-digit decimal went through an `f64`, so the
/// nanoseconds it was rounded to printed as a number that read back one nanosecond off.
#[test]
fn a_long_decimal_duration_formats_as_text_that_reads_back_exactly() {
    let parsed = parse_duration("0004444442.4441444207\n").unwrap();
    assert_eq!(parsed, Duration::new(4_444_442, 444_144_421));
    assert_eq!(parse_duration(&format_duration(parsed)), Ok(parsed));
    assert_eq!(
        parse_duration("4444442444144421ns"),
        Ok(Duration::from_nanos(4_444_442_444_144_421))
    );
}

#[test]
fn durations_round_half_up_to_whole_nanoseconds() {
    assert_eq!(parse_duration("1.5ns"), Ok(Duration::from_nanos(2)));
    assert_eq!(parse_duration("1.4999ns"), Ok(Duration::from_nanos(1)));
    assert_eq!(parse_duration("0.1s"), Ok(Duration::from_millis(100)));
    assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2.s"), Ok(Duration::from_secs(2)));
}

#[test]
fn malformed_or_huge_durations_are_refused() {
    for text in [
        ".",
        "",
        "1.2.3s",
        "1..s",
        "1000000000001s",
        "99999999999999999999999999999999999999999s",
    ] {
        assert!(parse_duration(text).is_err(), "{text:?}");
    }
    // Accepted up to a trillion seconds, exactly.
    assert_eq!(
        parse_duration("1000000000000s"),
        Ok(Duration::from_secs(1_000_000_000_000))
    );
}
