//! The schedule fuzzer: a seed, a re-segmentation and a fault schedule (every kind of
//! fault, at times and on byte and netstring counts) laid over a scenario, which then
//! runs twice. It fails when a connect does not end exactly once or a connection is
//! lost twice (`connections-end-once`), a program panics, a `[limits]` cap stops the
//! run, the two runs' transcripts differ, or, for a case without faults, one of the
//! scenario's own expectations breaks.
//!
//! The scenario is the file `WEFT_FUZZ_SCENARIO` names, or `sim/pingpong.toml`. A
//! failure is shrunk (`weft sim shrink`'s delta debugging) and written, with the
//! `weft sim shrink` header, to `WEFT_FUZZ_OUT` (default `fuzz/artifacts/schedule/`) as
//! `<scenario>.shrunk-<seed>.toml`; the path is printed, then the target panics so that
//! libFuzzer keeps the input.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use weft::scenario::{Catalogue, Scenario, shrink};
use weft_fuzz::schedule::ScheduleInput;

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(weft::programs::catalogue);

static BASE: LazyLock<Scenario> = LazyLock::new(|| {
    let base = match std::env::var_os("WEFT_FUZZ_SCENARIO") {
        Some(path) => Scenario::load(path.as_ref(), &CATALOGUE),
        None => Scenario::parse(
            "pingpong",
            include_str!("../../sim/pingpong.toml"),
            &CATALOGUE,
        ),
    };
    let base = base.unwrap_or_else(|e| panic!("WEFT_FUZZ_SCENARIO: {e}"));
    eprintln!("schedule: fuzzing the faults of scenario {:?}", base.name);
    base
});

fn out_dir() -> PathBuf {
    std::env::var_os("WEFT_FUZZ_OUT").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts/schedule")),
        PathBuf::from,
    )
}

/// Writes `text` as the failing scenario's file, prints where, and panics with `why`.
fn fail(scenario: &Scenario, text: String, why: &str) -> ! {
    let dir = out_dir();
    let path = dir.join(format!("{}.shrunk-{}.toml", scenario.name, scenario.seed));
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text));
    match written {
        Ok(()) => eprintln!("schedule: wrote the failing scenario to {}", path.display()),
        Err(e) => eprintln!("schedule: cannot write {}: {e}", path.display()),
    }
    panic!("{why}; the scenario is in {}", path.display());
}

fuzz_target!(|input: ScheduleInput| {
    let scenario = input.lay_over(&BASE);
    if let Err(e) = scenario.validate(&CATALOGUE) {
        panic!(
            "the fuzzer made an invalid scenario: {e}\n{}",
            scenario.to_toml()
        );
    }
    let seed = scenario.seed;
    let first = scenario
        .run(&CATALOGUE, seed)
        .expect("a valid scenario runs");
    if !first.passed() {
        let failures = first.failures.join("; ");
        let how = format!("the schedule fuzzer over scenario {:?}", BASE.name);
        let text = match shrink(&CATALOGUE, &scenario, seed) {
            Ok(Some(report)) => report.file_text(&how),
            // The second run passed: that is itself a determinism failure.
            _ => format!(
                "# Found by {how}; did not fail again when shrunk: {failures}\n{}",
                scenario.to_toml()
            ),
        };
        fail(&scenario, text, &failures);
    }
    let second = scenario
        .run(&CATALOGUE, seed)
        .expect("a valid scenario runs");
    if first.transcript != second.transcript {
        let text = format!(
            "# Found by the schedule fuzzer: two runs with seed {seed} differ\n{}",
            scenario.to_toml()
        );
        fail(&scenario, text, "the same seed gave two transcripts");
    }
});
