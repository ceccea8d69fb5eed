//! Every scenario in `sim/`: it must pass with its seed, twice identically, and its
//! transcript must match the reviewed snapshot.

use std::path::Path;

use weft::scenario::{Scenario, ScenarioFolder};

#[test]
fn every_scenario_passes_and_matches_its_transcript_snapshot() {
    let catalogue = weft::programs::catalogue();
    weft::assert_scenarios!(
        ScenarioFolder::new(&catalogue, "sim")
            .snapshots("snapshots")
            .replay_command("weft sim run")
    );
}

#[test]
fn every_scenario_is_deterministic_with_other_seeds_too() {
    let catalogue = weft::programs::catalogue();
    for entry in
        weft::scenario::scenario_files(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sim")))
            .unwrap()
    {
        let scenario = Scenario::load(&entry, &catalogue).unwrap();
        for seed in [2, 3] {
            let mismatch = scenario.check_determinism(&catalogue, seed).unwrap();
            assert_eq!(
                mismatch, None,
                "{} is not deterministic with seed {seed}",
                scenario.name
            );
        }
    }
}

#[test]
fn bad_scenarios_are_refused_with_the_reason() {
    let catalogue = weft::programs::catalogue();
    let host = "[[hosts]]\nname = \"a\"\nprogram = \"sink\"\noptions = { port = 1 }\n";
    for (text, reason) in [
        ("", "missing field `hosts`"),
        (&format!("{host}{host}"), "two hosts are named \"a\""),
        (
            "[[hosts]]\nname = \"a\"\nprogram = \"nope\"\n",
            "unknown program \"nope\"; known programs: fast-poetry, get-poetry, get-poetry-deferred-list",
        ),
        (
            "[[hosts]]\nname = \"a\"\nprogram = \"sink\"\n",
            "missing field `port`",
        ),
        (
            &format!("[network]\nmss = 0\n{host}"),
            "mss must be at least 1 byte",
        ),
        (
            &format!("[network]\nlatncy = \"1ms\"\n{host}"),
            "unknown field `latncy`",
        ),
        (
            &format!("{host}[[faults]]\nat = \"1s\"\ncrash = \"b\"\n"),
            "no host is named \"b\"",
        ),
        (
            &format!("{host}[[faults]]\ncrash = \"a\"\n"),
            "needs exactly one of `at` and `after`",
        ),
        (
            &format!("log-level = \"loud\"\n{host}"),
            "log-level \"loud\"",
        ),
        (
            &format!("duration = \"soon\"\n{host}"),
            "invalid duration \"soon\"",
        ),
    ] {
        let error = Scenario::parse("bad", text, &catalogue)
            .expect_err(text)
            .to_string();
        assert!(error.contains(reason), "{text:?}: {error}");
    }
}
