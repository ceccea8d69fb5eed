//! Scenarios past one /24: groups of identical hosts (`count`), subnets, patterns in
//! `[expect]`, the default 10.0.0.0/16, and the 2,000- and 10,000-host files in
//! tests/data/.

use std::net::Ipv4Addr;

use weft::host::{FactoryProgram, Host, HostPort, Node};
use weft::programs::pingpong::PingPongFactory;
use weft::scenario::{Scenario, ScenarioError};
use weft::simnet::{NetConfig, SimNet};

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse("groups", text, &weft::programs::catalogue())
}

const SERVER: &str = r#"
[[hosts]]
name = "server"
program = "pingpong-server"
options = { port = 8000 }
"#;

fn clients(extra: &str) -> String {
    format!(
        "{SERVER}\n[[hosts]]\nname = \"client\"\nprogram = \"pingpong-client\"\noptions = {{ connect = \"server:8000\", maximum = 4 }}\n{extra}\n"
    )
}

fn names(scenario: &Scenario) -> Vec<&str> {
    scenario.hosts.iter().map(|h| h.name.as_str()).collect()
}

#[test]
fn a_group_expands_into_numbered_hosts_with_the_same_program_and_options() {
    let scenario = parse(&clients("count = 3")).unwrap();
    assert_eq!(
        names(&scenario),
        ["server", "client-1", "client-2", "client-3"]
    );
    assert!(
        scenario.hosts[1..]
            .iter()
            .all(|h| h.program == "pingpong-client"
                && h.options == scenario.hosts[1].options
                && h.ip.is_none())
    );
}

#[test]
fn a_subnet_gives_its_hosts_its_next_addresses_across_entries() {
    let text = format!(
        "{}\n[[hosts]]\nname = \"late\"\nprogram = \"pingpong-client\"\nsubnet = \"10.1.0.0/24\"\noptions = {{ connect = \"server:8000\", maximum = 4 }}\n",
        clients("count = 2\nsubnet = \"10.1.0.0/24\"")
    );
    let scenario = parse(&text).unwrap();
    let ips: Vec<Option<Ipv4Addr>> = scenario.hosts.iter().map(|h| h.ip).collect();
    assert_eq!(
        ips,
        [
            None,
            Some(Ipv4Addr::new(10, 1, 0, 1)),
            Some(Ipv4Addr::new(10, 1, 0, 2)),
            Some(Ipv4Addr::new(10, 1, 0, 3)),
        ]
    );
    let catalogue = weft::programs::catalogue();
    let net = scenario.network(&catalogue, 1).unwrap();
    assert_eq!(net.host_addr("server"), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(net.host_addr("late"), Some(Ipv4Addr::new(10, 1, 0, 3)));
    assert!(scenario.run(&catalogue, 1).unwrap().passed());
}

#[test]
fn a_group_with_ip_takes_consecutive_addresses_from_it() {
    let scenario = parse(&clients("count = 3\nip = \"192.168.0.254\"")).unwrap();
    let ips: Vec<Option<Ipv4Addr>> = scenario.hosts[1..].iter().map(|h| h.ip).collect();
    assert_eq!(
        ips,
        [
            Some(Ipv4Addr::new(192, 168, 0, 254)),
            Some(Ipv4Addr::new(192, 168, 0, 255)),
            Some(Ipv4Addr::new(192, 168, 1, 0)),
        ]
    );
}

#[test]
fn a_printed_scenario_writes_its_groups_as_groups_and_loads_back_equal() {
    for extra in [
        "count = 40",
        "count = 40\nsubnet = \"10.9.0.0/16\"",
        "count = 2",
    ] {
        let scenario = parse(&clients(extra)).unwrap();
        let printed = scenario.to_toml();
        assert_eq!(
            printed.matches("[[hosts]]").count(),
            2,
            "one entry for the server, one for the group:\n{printed}"
        );
        assert!(printed.contains("count = "), "{printed}");
        assert_eq!(parse(&printed).unwrap(), scenario, "{printed}");
    }
    // Hosts that only look like a group, with different options, stay apart.
    let text = format!(
        "{SERVER}\n[[hosts]]\nname = \"c-1\"\nprogram = \"pingpong-client\"\noptions = {{ connect = \"server:8000\", maximum = 4 }}\n\
         [[hosts]]\nname = \"c-2\"\nprogram = \"pingpong-client\"\noptions = {{ connect = \"server:8000\", maximum = 5 }}\n"
    );
    let scenario = parse(&text).unwrap();
    let printed = scenario.to_toml();
    assert!(!printed.contains("count"), "{printed}");
    assert_eq!(parse(&printed).unwrap(), scenario);
}

#[test]
fn bad_groups_are_refused_naming_the_entry_and_its_keys() {
    for (extra, reason) in [
        (
            "count = 0",
            "[[hosts]] name = \"client\": count = 0; a group has at least one host",
        ),
        (
            "count = 70000",
            "count = 70000; at most 65534 hosts fit a scenario",
        ),
        ("count = -1", "expected a whole number from 0 to 4294967295"),
        (
            "ip = \"10.0.0.9\"\nsubnet = \"10.1.0.0/24\"",
            "give either ip (the address) or subnet",
        ),
        (
            "ip = \"255.255.255.254\"\ncount = 3",
            "runs past 255.255.255.255",
        ),
        (
            "count = 300\nsubnet = \"10.1.0.0/24\"",
            "subnet = \"10.1.0.0/24\" has 254 host addresses",
        ),
        (
            "subnet = \"10.1.0.9/24\"",
            "the address has host bits set; the network is 10.1.0.0/24",
        ),
        (
            "subnet = \"10.1.0.0/31\"",
            "the prefix length must be from 0 to 30",
        ),
        (
            "subnet = \"10.1.0.0\"",
            "expected an address and a prefix length",
        ),
        ("cuont = 3", "unknown field `cuont`"),
    ] {
        let error = parse(&clients(extra)).unwrap_err().to_string();
        assert!(error.contains(reason), "{extra}: {error}");
        assert!(!error.contains("u32"), "a Rust type name in {error:?}");
    }
    let two_groups = format!("{}{}", clients("count = 40000"), clients("count = 40000"));
    let error = parse(&two_groups.replacen("name = \"client\"", "name = \"other\"", 1))
        .unwrap_err()
        .to_string();
    assert!(error.contains("make 80002 hosts; at most 65534"), "{error}");
    let error = parse(&format!(
        "{}{}",
        clients("count = 2"),
        "[[hosts]]\nname = \"client-2\"\nprogram = \"sink\"\noptions = { port = 1 }\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("two hosts are named \"client-2\""),
        "{error}"
    );
}

#[test]
fn a_pattern_in_expect_stands_for_every_host_it_matches() {
    let catalogue = weft::programs::catalogue();
    let passing = parse(&clients("count = 5\n[expect]\nexit = { \"client-*\" = 0 }")).unwrap();
    let outcome = passing.run(&catalogue, 1).unwrap();
    assert!(outcome.passed(), "{:?}", outcome.failures);
    // The run waited for all five, not for none.
    assert!(
        outcome
            .exit_codes
            .values()
            .filter(|c| **c == Some(0))
            .count()
            == 5
    );

    let failing = parse(&clients(
        "count = 5\n[expect]\nexit = { \"client-*\" = 0, \"client-4\" = 3 }\nstdout-contains = { \"*-2\" = [\"never printed\"] }",
    ))
    .unwrap();
    let failures = failing.run(&catalogue, 1).unwrap().failures;
    assert_eq!(
        failures,
        [
            "client-4 exited with 0, expected 3".to_owned(),
            "client-2 Stdout lacks \"never printed\"; it has []".to_owned(),
        ]
    );

    let error = parse(&clients("count = 5\n[expect]\nexit = { \"cilent-*\" = 0 }"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("[expect]: no host matches \"cilent-*\""),
        "{error}"
    );
}

fn pingpong_host(connect: Option<&'static str>) -> impl FnMut() -> Box<dyn Node> + 'static {
    move || match connect {
        None => {
            let program = FactoryProgram::new(PingPongFactory::server(None))
                .listen(HostPort::new("0.0.0.0", 8000));
            Box::new(Host::new(program))
        }
        Some(to) => {
            let program = FactoryProgram::new(PingPongFactory::client(Some(3)))
                .connect(to.parse().unwrap())
                .exit_when_done();
            Box::new(Host::new(program))
        }
    }
}

#[test]
fn simnet_addresses_continue_past_the_first_24_and_resolve_by_address() {
    let mut net = SimNet::new(NetConfig::default(), 1);
    for i in 0..300 {
        net.add_host(&format!("h{i}"), pingpong_host(None));
    }
    assert_eq!(net.host_addr("h0"), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(net.host_addr("h253"), Some(Ipv4Addr::new(10, 0, 0, 254)));
    assert_eq!(net.host_addr("h254"), Some(Ipv4Addr::new(10, 0, 0, 255)));
    assert_eq!(net.host_addr("h299"), Some(Ipv4Addr::new(10, 0, 1, 44)));
    net.add_host("by-address", pingpong_host(Some("10.0.1.44:8000")));
    net.add_host("by-name", pingpong_host(Some("h254:8000")));
    assert!(net.run_until_exit(
        &["by-address", "by-name"],
        std::time::Duration::from_secs(10)
    ));
    assert_eq!(net.exit_code("by-address"), Some(0));
    assert_eq!(net.exit_code("by-name"), Some(0));
    let text = net.transcript().render();
    assert!(text.contains("h299:8000 > by-address:"), "{text}");
}

fn bundled(file: &str) -> Scenario {
    Scenario::load(file.as_ref(), &weft::programs::catalogue()).unwrap()
}

#[test]
fn two_thousand_hosts_all_get_their_poem_and_run_the_same_twice() {
    let catalogue = weft::programs::catalogue();
    let scenario = bundled("tests/data/scale-2000.toml");
    assert_eq!(scenario.hosts.len(), 2000);
    let net = scenario.network(&catalogue, 1).unwrap();
    // Past the 254th host, addresses leave 10.0.0.0/24.
    assert_eq!(
        net.host_addr("client-254"),
        Some(Ipv4Addr::new(10, 0, 0, 255))
    );
    assert_eq!(
        net.host_addr("client-1999"),
        Some(Ipv4Addr::new(10, 0, 7, 208))
    );
    let outcome = scenario.run(&catalogue, scenario.seed).unwrap();
    assert_passed_with_clean_exits(&outcome, 1999);
    assert_eq!(scenario.check_determinism(&catalogue, 7).unwrap(), None);
}

#[test]
fn ten_thousand_hosts_run_and_pass() {
    let scenario = bundled("tests/data/scale-10000.toml");
    assert_eq!(scenario.hosts.len(), 10_000);
    let outcome = scenario
        .run(&weft::programs::catalogue(), scenario.seed)
        .unwrap();
    assert_passed_with_clean_exits(&outcome, 9999);
}

/// A poet, `clients` quiet clients that must exit 0 (client-2 must also print a line it
/// never prints), and a stray client whose server refuses it.
fn crowd(clients: usize) -> String {
    format!(
        r#"
duration = "10s"

[network]
latency = {{ fixed = "2ms" }}

[[hosts]]
name = "poet"
program = "fast-poetry"
options = {{ port = 10000, poem = "ten-bytes" }}

[[hosts]]
name = "client"
count = {clients}
program = "get-poetry"
options = {{ servers = ["poet:10000"], report = "quiet" }}

[[hosts]]
name = "stray"
program = "get-poetry"
options = {{ servers = ["poet:9"] }}

[expect]
exit = {{ "client-*" = 0 }}
stdout-contains = {{ "client-2" = ["a line it never prints"] }}
"#
    )
}

/// `weft sim run FILE ARGS` on `text`: its exit status and report.
fn sim_run(name: &str, text: &str, args: &[&str]) -> (std::process::ExitCode, String) {
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.toml"));
    std::fs::write(&file, text).expect("a scenario file");
    let mut out = Vec::new();
    let status = weft::cli::run_from(
        &weft::programs::catalogue(),
        ["weft", "sim", "run", file.to_str().unwrap()]
            .into_iter()
            .chain(args.iter().copied()),
        &mut out,
    );
    (status, String::from_utf8(out).expect("utf-8"))
}

fn host_lines(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .collect()
}

#[test]
fn sim_run_past_twenty_hosts_lists_those_that_stand_out_and_counts_the_rest() {
    let (status, report) = sim_run("crowd-26", &crowd(24), &[]);
    assert_eq!(status, std::process::ExitCode::from(1), "{report}");
    assert_eq!(
        host_lines(&report),
        [
            "  client-2: exit 0",
            "  stray: exit 1",
            "  23 hosts exited 0",
            "  1 host running",
            "  (--verbose lists every host)",
        ],
        "{report}"
    );
    assert!(
        report.contains("    err: Task 1 failed: poet:9: connection refused"),
        "a listed host's output is shown: {report}"
    );
    assert!(
        report.contains("    client-2 Stdout lacks \"a line it never prints\""),
        "{report}"
    );

    let (_, verbose) = sim_run("crowd-26", &crowd(24), &["--verbose"]);
    let lines = host_lines(&verbose);
    assert_eq!(lines.len(), 26, "{verbose}");
    assert!(lines.contains(&"  client-17: exit 0") && lines.contains(&"  poet: running"));
}

#[test]
fn sim_run_of_twenty_hosts_lists_every_one() {
    let (_, report) = sim_run("crowd-20", &crowd(18), &[]);
    let lines = host_lines(&report);
    assert_eq!(lines.len(), 20, "{report}");
    assert!(!report.contains("--verbose"), "{report}");
}

/// Asserts the run passed (showing its first failures if not) and that `clean` hosts
/// exited with status 0.
fn assert_passed_with_clean_exits(outcome: &weft::scenario::Outcome, clean: usize) {
    assert!(
        outcome.passed(),
        "{:?}",
        &outcome.failures[..5.min(outcome.failures.len())]
    );
    let exited_0 = outcome.exit_codes.values().filter(|c| **c == Some(0));
    assert_eq!(exited_0.count(), clean);
}
