//! Every scenario in `sim/`: it must pass with its seed, twice identically, and its
//! transcript must match the reviewed snapshot.

use std::path::Path;

use weft::scenario::{Scenario, seed_from_env};

fn run(path: &Path) -> String {
    let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let seed = seed_from_env(scenario.seed);
    let outcome = scenario.run(seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.passed(),
        "scenario {} failed with seed {seed}:\n  {}\nreplay: weft sim run {} --seed {seed}  (or WEFT_SEED={seed} cargo test --test scenarios)",
        scenario.name,
        outcome.failures.join("\n  "),
        path.display(),
    );
    outcome.transcript.render()
}

#[test]
fn every_scenario_passes_and_matches_its_transcript_snapshot() {
    let overridden = std::env::var_os("WEFT_SEED").is_some();
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::glob!("../sim", "*.toml", |path| {
            let transcript = run(path);
            // Snapshots are of each file's own seed; another seed makes another run.
            if !overridden {
                insta::assert_snapshot!("scenario", transcript);
            }
        });
    });
}

#[test]
fn every_scenario_is_deterministic() {
    for entry in
        weft::scenario::scenario_files(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sim")))
            .unwrap()
    {
        let scenario = Scenario::load(&entry).unwrap();
        for seed in [scenario.seed, 2, 3] {
            let mismatch = scenario.check_determinism(seed).unwrap();
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
    let host = "[[hosts]]\nname = \"a\"\nprogram = \"sink\"\noptions = { port = 1 }\n";
    for (text, reason) in [
        ("", "missing field `hosts`"),
        (&format!("{host}{host}"), "two hosts are named \"a\""),
        (
            "[[hosts]]\nname = \"a\"\nprogram = \"nope\"\n",
            "unknown program \"nope\"",
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
        let error = Scenario::parse("bad", text).expect_err(text).to_string();
        assert!(error.contains(reason), "{text:?}: {error}");
    }
}
