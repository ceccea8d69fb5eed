//! The async get-poetry clients (7.0, `inlineCallbacks`; 8.0, `DeferredList`) against
//! the state machine: on every scenario of `sim/` that runs get-poetry, for many seeds,
//! the same transcript (bytes, opens, closes, output and log lines), byte for byte, and
//! the same exit codes. A differential test of the executor.

use std::any::Any;
use std::path::Path;

use weft::host::{Host, Node};
use weft::programs::poetry::GetPoetry;
use weft::programs::poetry::GetPoetryOptions;
use weft::programs::poetry::get_poetry_async::{
    get_poetry_deferred_list, get_poetry_inline_callbacks,
};
use weft::scenario::{Scenario, scenario_files};
use weft::simnet::SimNet;
use weft::task::TaskProgram;

/// Seeds per scenario; `WEFT_SEEDS` raises it (the sweep is 200).
fn seeds() -> u64 {
    std::env::var("WEFT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25)
}

type Client = fn(GetPoetryOptions) -> TaskProgram;

/// The scenario's network for `seed`, with every get-poetry host running `client`
/// with the same options, built as `Scenario::network` builds it.
fn network_with(scenario: &Scenario, seed: u64, client: Client) -> SimNet {
    let mut net = SimNet::new(scenario.network.clone(), seed);
    if let Ok(level) = scenario.log_level.parse::<tracing::Level>() {
        net = net.capture_logs(level);
    }
    for host in &scenario.hosts {
        let spec = host.clone();
        let factory: Box<dyn FnMut() -> Box<dyn Node>> = if host.program == "get-poetry" {
            let node = spec.node().expect("the scenario's options are valid");
            let options = (node.as_ref() as &dyn Any)
                .downcast_ref::<Host<GetPoetry>>()
                .expect("get-poetry runs GetPoetry")
                .program()
                .options()
                .clone();
            Box::new(move || Box::new(Host::new(client(options.clone()))))
        } else {
            Box::new(move || spec.node().expect("the scenario's options are valid"))
        };
        match host.ip {
            Some(ip) => net.add_host_at(&host.name, ip, factory),
            None => net.add_host(&host.name, factory),
        };
    }
    for link in &scenario.links {
        net.set_latency(&link.a, &link.b, link.latency.clone());
    }
    for fault in scenario.fault_schedule(seed) {
        net.add_fault(fault);
    }
    net
}

/// Runs as `Scenario::simulate` does; the rendered transcript and the exit codes.
fn run(scenario: &Scenario, mut net: SimNet) -> (String, Vec<Option<i32>>) {
    let awaited: Vec<&str> = scenario.expect.exit.keys().map(String::as_str).collect();
    if awaited.is_empty() {
        net.run_until(weft::time::Instant::ZERO + scenario.duration);
    } else {
        net.run_until_exit(&awaited, scenario.duration);
        net.run_for(scenario.linger);
    }
    let codes = (net.host_names().to_vec().iter())
        .map(|h| net.exit_code(h))
        .collect();
    (net.transcript().render(), codes)
}

fn get_poetry_scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim");
    let scenarios: Vec<Scenario> = scenario_files(&dir)
        .expect("sim/ is readable")
        .iter()
        .map(|path| Scenario::load(path).expect("scenario files are valid"))
        .filter(|s| s.hosts.iter().any(|h| h.program == "get-poetry"))
        .collect();
    assert!(scenarios.len() >= 10, "{} scenarios", scenarios.len());
    scenarios
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

fn same_transcripts_as_the_state_machine(client: Client) {
    for scenario in get_poetry_scenarios() {
        for seed in 0..seeds() {
            let expected = run(&scenario, scenario.network(seed).expect("builds"));
            let actual = run(&scenario, network_with(&scenario, seed, client));
            assert!(
                expected == actual,
                "{} seed {seed}: {}\nexit codes {:?} vs {:?}",
                scenario.name,
                first_difference(&expected.0, &actual.0),
                expected.1,
                actual.1
            );
        }
    }
}

#[test]
fn client_7_inline_callbacks_has_the_state_machines_transcripts() {
    same_transcripts_as_the_state_machine(get_poetry_inline_callbacks);
}

#[test]
fn client_8_deferred_list_has_the_state_machines_transcripts() {
    same_transcripts_as_the_state_machine(get_poetry_deferred_list);
}

#[test]
fn the_async_clients_are_deterministic() {
    for scenario in get_poetry_scenarios() {
        for client in [
            get_poetry_inline_callbacks as Client,
            get_poetry_deferred_list,
        ] {
            let first = run(&scenario, network_with(&scenario, scenario.seed, client));
            let second = run(&scenario, network_with(&scenario, scenario.seed, client));
            assert!(
                first == second,
                "{}: {}",
                scenario.name,
                first_difference(&first.0, &second.0)
            );
        }
    }
}

#[test]
fn the_async_clients_pass_every_scenario_the_state_machine_passes() {
    for scenario in get_poetry_scenarios() {
        let seed = scenario.seed;
        let outcome = scenario.run(seed).expect("runs");
        assert!(
            outcome.passed(),
            "{}: {:?}",
            scenario.name,
            outcome.failures
        );
        for client in [
            get_poetry_inline_callbacks as Client,
            get_poetry_deferred_list,
        ] {
            let mut net = network_with(&scenario, seed, client);
            let awaited: Vec<&str> = scenario.expect.exit.keys().map(String::as_str).collect();
            let finished_at = if awaited.is_empty() {
                net.run_until(weft::time::Instant::ZERO + scenario.duration);
                net.now()
            } else {
                net.run_until_exit(&awaited, scenario.duration);
                let exited = net.now();
                net.run_for(scenario.linger);
                exited
            };
            let failures = scenario.expect.check(&net, finished_at, scenario.duration);
            assert!(failures.is_empty(), "{}: {failures:?}", scenario.name);
        }
    }
}
