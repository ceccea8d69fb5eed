//! Properties over fault schedules that proptest draws and shrinks
//! (`weft::testing::strategies`): whatever the network does, the client ends, never
//! reports a value that was not set, and its two forms say the same thing.

mod common;

use std::time::Duration;

use common::{Form, kv_net, options};
use proptest::prelude::*;
use proptest::test_runner::Config;
use weft::host::Stream;
use weft::simnet::Fault;
use weft::testing::strategies::Schedule;

/// Long enough (eight round trips of 2 to 40 ms) for faults to land mid-session.
const COMMANDS: &[&str] = &[
    "SET k 1", "GET k", "SET k 2", "GET k", "SET k 3", "GET k", "SET k 4", "GET k",
];

fn schedule() -> impl Strategy<Value = Vec<Fault>> {
    // Faults within the first half second, while the commands are under way.
    Schedule::new(["server", "client"], Duration::from_millis(500))
        .crashable(["server"])
        .faults(2..8)
        .strategy()
}

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_client_ends_and_every_get_reports_the_value_last_set(faults in schedule(), seed in 0..1000u64) {
        let mut net = kv_net(seed, Form::StateMachine, options(COMMANDS), &faults);
        // Six attempts, each at most a connect and a reply timeout, plus the waits.
        prop_assert!(net.run_until_exit(&["client"], Duration::from_secs(60)), "never exited");
        let stdout = net.lines("client", Stream::Stdout);
        // A GET reports the value last set; a restarted server has forgotten its store,
        // so NOT_FOUND is allowed too.
        let mut last_set = None;
        for line in &stdout {
            if let Some(value) = line.strip_prefix("SET k ").and_then(|l| l.strip_suffix(" -> OK")) {
                last_set = Some(value);
            } else if let Some(value) = line.strip_prefix("GET k -> VALUE ") {
                prop_assert_eq!(Some(value), last_set, "{:?}", stdout);
            } else {
                prop_assert_eq!(*line, "GET k -> NOT_FOUND");
            }
        }
        match net.exit_code("client") {
            Some(0) => prop_assert_eq!(stdout.len(), COMMANDS.len()),
            Some(1) => {
                let stderr = net.lines("client", Stream::Stderr);
                prop_assert!(stderr.last().is_some_and(|l| l.starts_with("giving up")), "{stderr:?}");
            }
            other => prop_assert!(false, "exit {other:?}"),
        }
    }

    #[test]
    fn the_async_client_prints_what_the_state_machine_prints(faults in schedule(), seed in 0..1000u64) {
        let mut outputs = Vec::new();
        for form in [Form::StateMachine, Form::Async] {
            let mut net = kv_net(seed, form, options(COMMANDS), &faults);
            net.run_until_exit(&["client"], Duration::from_secs(60));
            outputs.push((net.exit_code("client"), net.output("client").to_vec(), net.now()));
        }
        prop_assert_eq!(&outputs[0], &outputs[1]);
    }
}
