//! Scenario files that would run without end stop with an error naming the cap that
//! stopped them and its key in `[limits]` (the runaway files of issue 10).

use weft::scenario::{Scenario, ScenarioError};
use weft::simnet::{Limits, RunawayError};

const PINGPONG: &str = r#"
[[hosts]]
name = "server"
program = "pingpong-server"
options = { port = 8000 }

[[hosts]]
name = "client"
program = "pingpong-client"
options = { connect = "server:8000", maximum = 100 }
"#;

fn scenario(text: &str) -> Scenario {
    Scenario::parse("runaway", text, &weft::programs::catalogue()).unwrap()
}

fn fault_flood(rates: &str) -> ScenarioError {
    let scenario = scenario(&format!("{PINGPONG}\n[random-faults]\n{rates}\n"));
    scenario
        .run(&weft::programs::catalogue(), 1)
        .expect_err("too many faults to run")
}

#[test]
fn endless_zero_delay_retries_stop_at_max_events() {
    let scenario = scenario(
        r#"
        duration = "999999999999s"

        [[hosts]]
        name = "server"
        program = "sink"
        options = { port = 1 }

        [[hosts]]
        name = "client"
        program = "get-poetry"
        options = { servers = ["server:9"], retries = 4294967295, retry-delay = "0s" }

        [expect]
        exit = { client = 1 }
        "#,
    );
    let outcome = scenario.run(&weft::programs::catalogue(), 1).unwrap();
    let limit = Limits::default().max_events;
    assert_eq!(
        outcome.stopped,
        Some(RunawayError::TooManyEvents {
            limit,
            at: outcome.finished_at
        })
    );
    assert_eq!(outcome.events, limit);
    let failure = outcome.failures.join("\n");
    assert!(
        failure.contains("[limits] max-events = 1000000"),
        "{failure}"
    );
}

#[test]
fn refused_connects_are_forgotten_so_retries_hold_no_memory() {
    let scenario = scenario(
        r#"
        [[hosts]]
        name = "server"
        program = "sink"
        options = { port = 1 }

        [[hosts]]
        name = "client"
        program = "get-poetry"
        options = { servers = ["server:9"], retries = 4294967295, retry-delay = "0s" }
        "#,
    );
    let (net, _) = scenario.simulate(&weft::programs::catalogue(), 1).unwrap();
    let attempts = net
        .transcript()
        .events()
        .iter()
        .filter(|e| matches!(e.what, weft::testing::EventKind::ConnectFailed(_)))
        .count();
    assert!(attempts > 10_000, "{attempts} refused connects");
    assert!(
        net.connections_kept() <= 1,
        "{} kept",
        net.connections_kept()
    );
}

#[test]
fn zero_latency_ping_pong_stops_as_no_progress_naming_both_hosts() {
    let text = PINGPONG.replace("maximum = 100", "maximum = 9223372036854775807");
    let scenario = scenario(&format!(
        "[network]\nlatency = {{ fixed = \"0s\" }}\n{text}\n[expect]\nexit = {{ client = 0 }}\n"
    ));
    let outcome = scenario.run(&weft::programs::catalogue(), 1).unwrap();
    let Some(RunawayError::NoProgress { limit, at, hosts }) = &outcome.stopped else {
        panic!("expected no progress, got {:?}", outcome.stopped);
    };
    assert_eq!(*limit, Limits::default().max_events_per_instant);
    assert_eq!(at.as_nanos(), 0, "virtual time never moved");
    let names: Vec<&str> = hosts.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["server", "client"]);
    assert_eq!(hosts.iter().map(|(_, n)| n).sum::<u64>(), *limit);
    let failure = outcome.failures.join("\n");
    assert!(
        failure.contains("without virtual time moving, on hosts server (")
            && failure.contains("[limits] max-events-per-instant = 100000"),
        "{failure}"
    );
}

#[test]
fn a_partition_every_nanosecond_stops_at_max_faults() {
    let error = fault_flood("partition-every = \"1ns\"\nuntil = \"60s\"");
    let message = error.to_string();
    assert!(
        matches!(
            &error,
            ScenarioError::Runaway { source: RunawayError::TooManyFaults { limit, .. }, .. }
                if *limit == Limits::default().max_faults
        ),
        "{message}"
    );
    assert!(
        message.contains("before until = 1m ([limits] max-faults = 100000)"),
        "{message}"
    );
}

#[test]
fn a_partition_every_millisecond_for_ages_stops_at_max_faults() {
    let error = fault_flood("partition-every = \"1ms\"\nuntil = \"999999999999s\"");
    assert!(
        error.to_string().contains("[limits] max-faults = 100000"),
        "{error}"
    );
}

#[test]
fn a_partition_every_millisecond_for_an_hour_stops_at_max_faults() {
    let error = fault_flood("partition-every = \"1ms\"\nuntil = \"1h\"");
    assert!(
        error
            .to_string()
            .contains("before until = 1h ([limits] max-faults = 100000)"),
        "{error}"
    );
}

#[test]
fn max_faults_in_the_file_replaces_the_default() {
    let rates = "partition-every = \"1ms\"\nuntil = \"10s\"";
    let text = format!("{PINGPONG}\n[random-faults]\n{rates}\n");
    let catalogue = weft::programs::catalogue();
    let schedule = scenario(&text).fault_schedule(1).unwrap();
    assert!(schedule.len() > 1_000, "{} faults", schedule.len());
    let capped = scenario(&format!("{text}[limits]\nmax-faults = 1000\n"));
    let error = capped.run(&catalogue, 1).expect_err("past the lowered cap");
    assert!(
        error.to_string().contains("[limits] max-faults = 1000)"),
        "{error}"
    );
}

#[test]
fn limits_set_in_the_file_replace_the_defaults() {
    let text = PINGPONG.replace("maximum = 100", "maximum = 9223372036854775807");
    let scenario = scenario(&format!(
        "[network]\nlatency = {{ fixed = \"1ms\" }}\n{text}\n[limits]\nmax-events = 500\n"
    ));
    assert_eq!(scenario.limits.max_events, 500);
    let outcome = scenario.run(&weft::programs::catalogue(), 1).unwrap();
    assert_eq!(outcome.events, 500);
    let failure = outcome.failures.join("\n");
    assert!(
        failure.contains("the run reached 500 events") && failure.contains("max-events = 500"),
        "{failure}"
    );
}
