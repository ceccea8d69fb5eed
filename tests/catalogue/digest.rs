//! The determinism check (a sweep's and `Scenario::check_determinism`) compares digests of the
//! event streams, records no transcript for a verdict, and still reports where two runs of a
//! nondeterministic (leaky) greeter part.

use std::process::ExitCode;

use weft::scenario::{Recording, Scenario};

use super::{catalogue, cli, folder, sweep_row};

fn scenario_text(leaky: bool) -> String {
    format!(
        r#"
[network]
latency = {{ fixed = "5ms" }}

[[hosts]]
name = "greeter"
program = "greeter"
options = {{ port = 7000, leaky = {leaky} }}

[[hosts]]
name = "client"
program = "raw-client"
options = {{ connect = "greeter:7000", send = "hi" }}

[expect]
exit = {{ client = 0 }}
"#
    )
}

#[test]
fn a_digest_run_keeps_no_transcript_and_repeats_its_digest() {
    let catalogue = catalogue();
    let scenario = Scenario::parse("steady", &scenario_text(false), &catalogue).expect("parses");
    let one = (scenario.run_recording(&catalogue, 4, Recording::DIGEST)).expect("runs");
    let two = (scenario.run_recording(&catalogue, 4, Recording::DIGEST)).expect("runs");
    assert!(one.passed(), "{:?}", one.failures);
    assert!(
        one.transcript.events().is_empty(),
        "no transcript was asked for"
    );
    assert!(one.digest.is_some());
    assert_eq!(one.digest, two.digest);
    let full = scenario.run(&catalogue, 4).expect("runs");
    assert!(!full.transcript.events().is_empty());
    assert_eq!(full.digest, None, "run keeps no digest");
    let other_seed = (scenario.run_recording(&catalogue, 5, Recording::DIGEST)).expect("runs");
    assert_eq!(other_seed.events, one.events);
}

#[test]
fn a_sweep_finds_a_leaky_program_by_digest_and_names_the_first_differing_line() {
    let steady = scenario_text(false);
    let leaky = scenario_text(true);
    let dir = folder(
        "sweep-digest",
        &[("a-steady.toml", &steady), ("b-leaky.toml", &leaky)],
    );
    let (status, out) = cli(
        &catalogue(),
        &[
            "sim",
            "sweep",
            dir.to_str().unwrap(),
            "--seeds",
            "3",
            "--jobs",
            "1",
            "--check-determinism",
        ],
    );
    assert_eq!(status, ExitCode::from(1), "{out}");
    let row = |name: &str| sweep_row(&out, name);
    // scenario, runs, passed, failed, nondet
    assert_eq!(row("a-steady")[1..5], ["3", "3", "0", "0"], "{out}");
    assert_eq!(row("b-leaky")[1..5], ["3", "0", "3", "3"], "{out}");
    assert!(
        out.contains("transcripts differ (first at line"),
        "the failing seed ran again with transcripts: {out}"
    );
}

#[test]
fn check_determinism_passes_a_steady_program_and_shows_the_first_line_a_leaky_one_changes() {
    let catalogue = catalogue();
    let steady = Scenario::parse("steady", &scenario_text(false), &catalogue).expect("parses");
    assert_eq!(steady.check_determinism(&catalogue, 4).expect("runs"), None);
    let leaky = Scenario::parse("leaky", &scenario_text(true), &catalogue).expect("parses");
    let difference = (leaky.check_determinism(&catalogue, 4))
        .expect("runs")
        .expect("a leaky greeter differs from run to run");
    // The line number, then both runs' lines, each with its own greeting number.
    let (line, lines) = difference.split_once(": ").expect("line N: a vs b");
    assert!(line.starts_with("line "), "{difference}");
    let (one, two) = lines.split_once(" vs ").expect("a vs b");
    assert!(
        one.contains("hello ") && two.contains("hello "),
        "{difference}"
    );
    assert_ne!(one, two, "{difference}");
}
