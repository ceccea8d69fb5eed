//! The scenario files in `sim/`, run through this crate's own catalogue: each passes
//! with its seed, twice identically, and matches its reviewed transcript in
//! `snapshots/`. The kept failure in `sim-failing/` fails, and shrinks.

use std::path::Path;

use weft::scenario::{Scenario, ScenarioFolder};

#[test]
fn every_scenario_passes_and_matches_its_transcript_snapshot() {
    let catalogue = weft_kv::catalogue();
    weft::assert_scenarios!(
        ScenarioFolder::new(&catalogue, "sim")
            .snapshots("snapshots")
            .replay_command("cargo run -- sim run")
    );
}

#[test]
fn the_client_without_retries_fails_and_shrinks_to_the_partition_alone() {
    let catalogue = weft_kv::catalogue();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim-failing/no-retries.toml");
    let scenario = Scenario::load(&path, &catalogue).expect("it loads");
    let outcome = scenario.run(&catalogue, 1).expect("it runs");
    assert!(!outcome.passed());
    assert_eq!(outcome.exit_codes["client"], Some(1));
    let report = weft::scenario::shrink(&catalogue, &scenario, 1)
        .expect("it runs")
        .expect("it fails, so it shrinks");
    assert_eq!(report.original_faults, 3);
    let faults: Vec<String> = report
        .minimal
        .faults
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(faults[0].contains("Partition"), "{faults:?}");
}
