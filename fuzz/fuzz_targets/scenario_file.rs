//! The scenario-file loader: arbitrary text is either refused with a readable error or
//! gives a scenario that prints as TOML which loads back to the same scenario, and then
//! runs (cut to at most 2 s of virtual time and 4 hosts, so no case can hang) without
//! a panic, twice to the same transcript.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use weft::scenario::{Catalogue, Scenario};

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(weft::programs::catalogue);

const LONGEST_RUN: Duration = Duration::from_secs(2);
const MOST_HOSTS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut scenario = match Scenario::parse("fuzz", text, &CATALOGUE) {
        Ok(scenario) => scenario,
        Err(error) => {
            weft_fuzz::assert_user_facing(&error.to_string());
            return;
        }
    };
    let printed = scenario.to_toml();
    let again = Scenario::parse("fuzz", &printed, &CATALOGUE)
        .unwrap_or_else(|e| panic!("a printed scenario does not load: {e}\n{printed}"));
    assert_eq!(
        again, scenario,
        "printing and loading changed the scenario:\n{printed}"
    );

    if scenario.hosts.len() > MOST_HOSTS {
        return;
    }
    scenario.duration = scenario.duration.min(LONGEST_RUN);
    scenario.linger = scenario.linger.min(LONGEST_RUN);
    let first = scenario
        .run(&CATALOGUE, scenario.seed)
        .expect("a loaded scenario builds");
    assert!(
        first.panic.is_none(),
        "a program panicked: {:?}",
        first.panic
    );
    let second = scenario
        .run(&CATALOGUE, scenario.seed)
        .expect("a loaded scenario builds");
    assert_eq!(
        first.transcript, second.transcript,
        "the same seed gave another run"
    );
});
