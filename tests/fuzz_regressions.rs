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

/// The `schedule` fuzz target, run on 1ce6d59 (before the SimNet handshake-reset fix),
/// found this in 48 s: a reset of the server's connections at 6.4 ms, after the server
/// accepted and while its SYN-ACK travelled, left the client's connect neither made nor
/// failed, for good. The file is the one the fuzzer wrote; the connect must end there,
/// refused, as TCP reports a reset in SYN-SENT.
#[test]
fn a_reset_of_the_server_while_the_syn_ack_travels_ends_the_clients_connect() {
    use weft::host::Stream;
    use weft::scenario::Scenario;

    let catalogue = weft::programs::catalogue();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/handshake-reset-hang.toml"
    );
    let scenario = Scenario::load(path.as_ref(), &catalogue).unwrap();
    assert!(scenario.expect.connections_end_once);
    let outcome = scenario.run(&catalogue, scenario.seed).unwrap();
    assert_eq!(outcome.failures, Vec::<String>::new());
    assert_eq!(outcome.exit_codes["client"], Some(1), "the connect ended");
    let client = &outcome.output["client"];
    assert_eq!(
        *client,
        [(
            Stream::Stderr,
            "connection failed: connection refused".to_owned()
        )]
    );
}
