//! The async get-poetry clients (7.0, `inlineCallbacks`; 8.0, `DeferredList`) against
//! the state machine: on every scenario of `sim/` that runs get-poetry, for many seeds,
//! the same transcript (bytes, opens, closes, output and log lines), byte for byte, and
//! the same exit codes. A differential test of the executor.
//!
//! The async clients are registered beside `get-poetry` in the built-in catalogue under
//! their own names and take the same options, so a variant of a scenario is the same
//! file with the program's name swapped.

use std::path::Path;

use weft::scenario::{Outcome, Scenario, scenario_files};

const ASYNC_CLIENTS: [&str; 2] = ["get-poetry-inline-callbacks", "get-poetry-deferred-list"];

/// Seeds per scenario; `WEFT_SEEDS` raises it (the sweep is 200).
fn seeds() -> u64 {
    std::env::var("WEFT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25)
}

fn get_poetry_scenarios() -> Vec<Scenario> {
    let catalogue = weft::programs::catalogue();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim");
    let scenarios: Vec<Scenario> = scenario_files(&dir)
        .expect("sim/ is readable")
        .iter()
        .map(|path| Scenario::load(path, &catalogue).expect("scenario files are valid"))
        .filter(|s| s.hosts.iter().any(|h| h.program == "get-poetry"))
        .collect();
    assert!(scenarios.len() >= 10, "{} scenarios", scenarios.len());
    scenarios
}

/// The scenario with every get-poetry host running `client` instead.
fn with_client(scenario: &Scenario, client: &str) -> Scenario {
    let mut variant = scenario.clone();
    for host in &mut variant.hosts {
        if host.program == "get-poetry" {
            host.program = client.to_owned();
        }
    }
    variant
}

fn run(scenario: &Scenario, seed: u64) -> Outcome {
    scenario
        .run(&weft::programs::catalogue(), seed)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn first_difference(a: &str, b: &str) -> String {
    let line = a.lines().zip(b.lines()).position(|(x, y)| x != y);
    match line {
        Some(i) => format!(
            "line {}:\n  state machine: {:?}\n  async:         {:?}",
            i + 1,
            a.lines().nth(i).unwrap_or_default(),
            b.lines().nth(i).unwrap_or_default()
        ),
        None => format!(
            "lengths differ: {} vs {} lines",
            a.lines().count(),
            b.lines().count()
        ),
    }
}

fn same_transcripts_as_the_state_machine(client: &str) {
    for scenario in get_poetry_scenarios() {
        let variant = with_client(&scenario, client);
        for seed in 0..seeds() {
            let expected = run(&scenario, seed);
            let actual = run(&variant, seed);
            let (expected_text, actual_text) =
                (expected.transcript.render(), actual.transcript.render());
            assert!(
                expected_text == actual_text && expected.exit_codes == actual.exit_codes,
                "{} seed {seed} with {client}: {}\nexit codes {:?} vs {:?}",
                scenario.name,
                first_difference(&expected_text, &actual_text),
                expected.exit_codes,
                actual.exit_codes
            );
        }
    }
}

#[test]
fn client_7_inline_callbacks_has_the_state_machines_transcripts() {
    same_transcripts_as_the_state_machine(ASYNC_CLIENTS[0]);
}

#[test]
fn client_8_deferred_list_has_the_state_machines_transcripts() {
    same_transcripts_as_the_state_machine(ASYNC_CLIENTS[1]);
}

#[test]
fn the_async_clients_are_deterministic() {
    let catalogue = weft::programs::catalogue();
    for scenario in get_poetry_scenarios() {
        for client in ASYNC_CLIENTS {
            let variant = with_client(&scenario, client);
            let mismatch = variant
                .check_determinism(&catalogue, variant.seed)
                .expect("runs");
            assert_eq!(mismatch, None, "{} with {client}", scenario.name);
        }
    }
}

#[test]
fn the_async_clients_pass_every_scenario_the_state_machine_passes() {
    for scenario in get_poetry_scenarios() {
        assert!(run(&scenario, scenario.seed).passed(), "{}", scenario.name);
        for client in ASYNC_CLIENTS {
            let outcome = run(&with_client(&scenario, client), scenario.seed);
            assert!(
                outcome.passed(),
                "{} with {client}: {:?}",
                scenario.name,
                outcome.failures
            );
        }
    }
}
