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
        ("", "a scenario needs at least one [[hosts]] entry"),
        (&format!("{host}{host}"), "two hosts are named \"a\""),
        (
            "[[hosts]]\nname = \"a\"\nprogram = \"nope\"\n",
            "unknown program \"nope\"; known programs: fast-poetry, get-poetry, get-poetry-1.0, get-poetry-1.0-broken",
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
            &format!("{host}[expect]\nexit = {{ a = 0 }}\nrunning = [\"a\"]\n"),
            "\"a\" is in both exit and running",
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

const HOST_A: &str = "[[hosts]]\nname = \"a\"\nprogram = \"sink\"\noptions = { port = 1 }\n";
const HOST_B: &str = "[[hosts]]\nname = \"b\"\nprogram = \"sink\"\noptions = { port = 1 }\n";

fn refusal(text: &str) -> String {
    let catalogue = weft::programs::catalogue();
    Scenario::parse("bad", text, &catalogue)
        .expect_err(text)
        .to_string()
}

#[test]
fn an_unknown_crashable_host_is_refused() {
    let error = refusal(&format!(
        "{HOST_A}[random-faults]\ncrash-every = \"1s\"\ncrashable = [\"ghost\"]\nuntil = \"10s\"\n"
    ));
    assert!(
        error.contains("random-faults.crashable: no host is named \"ghost\""),
        "{error}"
    );
}

#[test]
fn a_partition_or_link_between_a_host_and_itself_is_refused() {
    let partition = refusal(&format!(
        "{HOST_A}[[faults]]\nat = \"1s\"\npartition = {{ a = \"a\", b = \"a\" }}\n"
    ));
    assert!(
        partition.contains("it needs two different hosts"),
        "{partition}"
    );
    let heal = refusal(&format!(
        "{HOST_A}[[faults]]\nat = \"1s\"\nheal = {{ a = \"a\", b = \"a\" }}\n"
    ));
    assert!(heal.contains("it needs two different hosts"), "{heal}");
    let link = refusal(&format!(
        "{HOST_A}[[links]]\na = \"a\"\nb = \"a\"\nlatency = {{ fixed = \"1ms\" }}\n"
    ));
    assert!(link.contains("a link joins two different hosts"), "{link}");
}

#[test]
fn a_latency_range_with_min_above_max_is_refused() {
    let uniform = "{ uniform = { min = \"5ms\", max = \"1ms\" } }";
    for text in [
        format!("[network]\nlatency = {uniform}\n{HOST_A}"),
        format!("{HOST_A}{HOST_B}[[links]]\na = \"a\"\nb = \"b\"\nlatency = {uniform}\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\nlatency = {{ latency = {uniform} }}\n"),
    ] {
        let error = refusal(&text);
        assert!(
            error.contains("uniform latency min = \"5ms\" is above max = \"1ms\""),
            "{text}: {error}"
        );
    }
}

#[test]
fn a_fault_with_two_actions_is_refused_naming_both() {
    let error = refusal(&format!(
        "{HOST_A}[[faults]]\nat = \"1s\"\ncrash = \"a\"\nrestart = \"a\"\n"
    ));
    assert!(
        error.contains("a fault has one action, this one has crash and restart"),
        "{error}"
    );
}

#[test]
fn two_hosts_with_one_address_are_refused() {
    let explicit = refusal(&format!(
        "{HOST_A}ip = \"10.0.0.9\"\n{HOST_B}ip = \"10.0.0.9\"\n"
    ));
    assert!(
        explicit.contains("hosts \"a\" and \"b\" both have the address 10.0.0.9"),
        "{explicit}"
    );
    // The second host's default address is 10.0.0.2.
    let default = refusal(&format!("{HOST_A}ip = \"10.0.0.2\"\n{HOST_B}"));
    assert!(
        default.contains("both have the address 10.0.0.2"),
        "{default}"
    );
}

#[test]
fn whole_second_durations_past_the_cap_are_refused() {
    let error = refusal(&format!("duration = 1000000000001\n{HOST_A}"));
    assert!(error.contains("at most 1000000000000s"), "{error}");
    let catalogue = weft::programs::catalogue();
    let at_cap = Scenario::parse(
        "ok",
        &format!("duration = 1000000000000\n{HOST_A}"),
        &catalogue,
    );
    assert!(at_cap.is_ok(), "{at_cap:?}");
}

#[test]
fn a_fault_without_an_action_lists_the_actions() {
    let error = refusal(&format!("{HOST_A}[[faults]]\nat = \"1s\"\n"));
    assert!(
        error.contains(
            "a fault needs one action: partition, heal, crash, restart, reset, latency or clock-jump"
        ),
        "{error}"
    );
}

#[test]
fn a_clock_jump_that_is_not_a_table_shows_the_shape() {
    let error = refusal(&format!(
        "{HOST_A}[[faults]]\nat = \"1s\"\nclock-jump = \"a\"\n"
    ));
    assert!(
        error.contains("expected a table like { host = \"client\", by = \"1m\" }"),
        "{error}"
    );
}

#[test]
fn a_seed_out_of_range_says_the_range() {
    let error = refusal(&format!("seed = 18446744073709551616\n{HOST_A}"));
    assert!(
        error.contains("a seed is a whole number from 0 to 18446744073709551615"),
        "{error}"
    );
    let negative = refusal(&format!("seed = -1\n{HOST_A}"));
    assert!(negative.contains("seed -1 is out of range"), "{negative}");
}

#[test]
fn a_negative_duration_says_it_is_negative() {
    let error = refusal(&format!("duration = \"-5s\"\n{HOST_A}"));
    assert!(
        error.contains("invalid duration \"-5s\": durations cannot be negative"),
        "{error}"
    );
    let integer = refusal(&format!("duration = -5\n{HOST_A}"));
    assert!(
        integer.contains("durations cannot be negative"),
        "{integer}"
    );
}

#[test]
fn a_zero_limit_is_refused_by_its_key() {
    let error = refusal(&format!("[limits]\nmax-events = 0\n{HOST_A}"));
    assert!(
        error.contains("[limits] max-events must be at least 1"),
        "{error}"
    );
}

/// Words that belong to Rust, not to the file: a message with one has leaked a type.
fn rust_type_names(message: &str) -> Vec<&'static str> {
    const RUST: [&str; 17] = [
        "struct ",
        "enum ",
        "flattened",
        "variant of",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "isize",
        "f64",
    ];
    RUST.into_iter()
        .filter(|word| message.contains(word))
        .collect()
}

#[test]
fn no_refusal_names_a_rust_type() {
    let cases = [
        String::new(),
        "seed = 18446744073709551616".into(),
        "seed = -3".into(),
        "seed = \"one\"".into(),
        format!("duration = \"-5s\"\n{HOST_A}"),
        format!("duration = true\n{HOST_A}"),
        format!("linger = []\n{HOST_A}"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\nclock-jump = \"a\"\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\npartition = \"a\"\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\nheal = 3\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\nreset = \"a\"\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\nlatency = \"5ms\"\n"),
        format!("{HOST_A}[[faults]]\nafter = 3\ncrash = \"a\"\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\npartition = {{ a = \"a\", b = \"b\", mode = \"lose\" }}\n"),
        format!("{HOST_A}[[faults]]\nat = \"1s\"\ncrash = \"a\"\nheal = {{ a = \"a\", b = \"b\" }}\n"),
        format!("faults = 3\n{HOST_A}"),
        format!("[network]\nlatency = \"5ms\"\n{HOST_A}"),
        format!("[network]\nlatency = {{ fixed = 5 , uniform = 3 }}\n{HOST_A}"),
        format!("[network]\nlatency = {{ normal = \"5ms\" }}\n{HOST_A}"),
        format!("[network]\nsend-buffer = -1\n{HOST_A}"),
        format!("[network]\nmss = 99999999999999999999\n{HOST_A}"),
        format!("[network]\nsegmentation = \"chunky\"\n{HOST_A}"),
        format!("[network]\nsegmentation = {{ fixed = -1 }}\n{HOST_A}"),
        format!("network = 5\n{HOST_A}"),
        format!("[random-faults]\npartition-every = \"1s\"\n{HOST_A}"),
        format!("random-faults = \"often\"\n{HOST_A}"),
        format!("[limits]\nmax-events = -1\n{HOST_A}"),
        format!("[limits]\nmax-faults = 1.5\n{HOST_A}"),
        format!("limits = 3\n{HOST_A}"),
        format!("[expect]\nexit = {{ a = \"zero\" }}\n{HOST_A}"),
        format!("[expect]\nexit = {{ a = 99999999999 }}\n{HOST_A}"),
        format!("expect = 3\n{HOST_A}"),
        "hosts = 3".into(),
        "[[hosts]]\nname = 3\nprogram = \"sink\"\n".into(),
        "[[hosts]]\nname = \"a\"\nprogram = \"sink\"\nip = \"999.0.0.1\"\noptions = { port = 1 }\n".into(),
        "[[hosts]]\nname = \"a\"\nprogram = \"sink\"\noptions = { port = 70000 }\n".into(),
        "[[hosts]]\nname = \"a\"\nprogram = \"sink\"\noptions = { port = -1 }\n".into(),
        "[[hosts]]\nname = \"a\"\nprogram = \"pingpong-client\"\noptions = { connect = \"b:1\", maximum = 18446744073709551615 }\n".into(),
        "[[hosts]]\nname = \"a\"\nprogram = \"get-poetry\"\noptions = { servers = [\"b:1\"], retries = -1 }\n".into(),
        "[[links]]\na = 1\n".into(),
        "links = \"all\"".into(),
    ];
    let leaks: Vec<String> = cases
        .iter()
        .filter_map(|text| {
            let error = refusal(text);
            let leaked = rust_type_names(&error);
            (!leaked.is_empty())
                .then(|| format!("{text:?} gives {error:?}, which names {leaked:?}"))
        })
        .collect();
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
