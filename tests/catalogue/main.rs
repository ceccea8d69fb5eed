//! A crate's own programs in a catalogue: scenarios that name them parse, run, sweep
//! and shrink, through the library and through the command-line entry point.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use weft::host::{ConnId, ConnectError, HostContext, HostPort, Program};
use weft::scenario::{
    Catalogue, OptionDoc, ProgramOptions, Scenario, ScenarioError, ScenarioFolder,
};
use weft::transport::Disconnect;

mod digest;
mod reports;

/// Greetings so far by leaky greeters, in this process: state that outlives a run, the
/// classic source of nondeterminism.
static GREETINGS: AtomicU64 = AtomicU64::new(0);

/// Greets every client and closes; with `panic-on`, keeps the connection open and panics
/// if the client sends that text; with `leaky`, numbers its greetings across runs.
struct Greeter {
    options: GreeterOptions,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct GreeterOptions {
    port: u16,
    #[serde(default = "hello")]
    greeting: String,
    #[serde(default)]
    panic_on: Option<String>,
    #[serde(default)]
    leaky: bool,
}

fn hello() -> String {
    "hello".to_owned()
}

impl ProgramOptions for GreeterOptions {
    fn describe() -> Vec<OptionDoc> {
        vec![
            OptionDoc::required("port", "port"),
            OptionDoc::optional("greeting", "text", "hello"),
            OptionDoc::optional("panic-on", "text", "none"),
            OptionDoc::optional("leaky", "bool", "false"),
        ]
    }

    fn check(&self) -> Result<(), String> {
        if self.greeting.is_empty() {
            return Err("greeting must not be empty".to_owned());
        }
        Ok(())
    }
}

impl Program for Greeter {
    type Timer = ();

    fn start(&mut self, cx: &mut HostContext<'_, ()>) {
        cx.listen(HostPort::new("0.0.0.0", self.options.port));
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId) {
        let greeting = &self.options.greeting;
        if self.options.leaky {
            let n = GREETINGS.fetch_add(1, Ordering::Relaxed);
            cx.write(conn, format!("{greeting} {n}").as_bytes());
        } else {
            cx.write(conn, greeting.as_bytes());
        }
        // One that may panic waits to read what the client says.
        if self.options.panic_on.is_none() {
            cx.lose_connection(conn);
        }
    }

    fn data_received(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, data: &[u8]) {
        if let Some(trigger) = &self.options.panic_on {
            assert!(
                !data.windows(trigger.len()).any(|w| w == trigger.as_bytes()),
                "asked to panic by {trigger:?}"
            );
        }
    }

    fn connection_lost(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: Disconnect) {}

    fn connect_failed(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: ConnectError) {}
}

/// weft's built-ins (for `raw-client`) plus the greeter.
fn catalogue() -> Catalogue {
    weft::programs::catalogue().program(
        "greeter",
        "greets every client and closes",
        |o: &GreeterOptions| Greeter { options: o.clone() },
    )
}

const GREETING: &str = r#"
[network]
latency = { fixed = "5ms" }

[[hosts]]
name = "greeter"
program = "greeter"
options = { port = 7000, greeting = "good day" }

[[hosts]]
name = "client"
program = "raw-client"
options = { connect = "greeter:7000", send = "hi" }

[expect]
exit = { client = 0 }
stdout-contains = { client = ["received 8 bytes: \"good day\""] }
"#;

const PANICKING: &str = r#"
[network]
latency = { fixed = "5ms" }

[[hosts]]
name = "greeter"
program = "greeter"
options = { port = 7000, panic-on = "boom" }

[[hosts]]
name = "client"
program = "raw-client"
options = { connect = "greeter:7000", send = "boom" }

[expect]
exit = { client = 0 }
"#;

/// The greeter crashes before the client's connect lands, among faults that do not
/// matter: the client's connect times out and it exits 1.
const FRAGILE: &str = r#"
duration = "60s"

[network]
latency = { fixed = "5ms" }

[[hosts]]
name = "greeter"
program = "greeter"
options = { port = 7000 }

[[hosts]]
name = "client"
program = "raw-client"
options = { connect = "greeter:7000", send = "hi" }

[[faults]]
at = "1ms"
crash = "greeter"

[[faults]]
at = "50s"
restart = "greeter"

[[faults]]
at = "55s"
crash = "client"

[expect]
exit = { client = 0 }
"#;

fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("a scenario file");
    }
    dir
}

/// The words of the row a sweep's table gives the scenario `name`.
fn sweep_row<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no row for {name}:\n{out}"))
        .split_whitespace()
        .collect()
}

fn cli(catalogue: &Catalogue, args: &[&str]) -> (ExitCode, String) {
    let mut out = Vec::new();
    let status = weft::cli::run_from(
        catalogue,
        std::iter::once("greetsim").chain(args.iter().copied()),
        &mut out,
    );
    (status, String::from_utf8(out).expect("utf-8 output"))
}

#[test]
fn a_registered_program_runs_in_a_scenario_that_names_it() {
    let catalogue = catalogue();
    let scenario = Scenario::parse("greeting", GREETING, &catalogue).expect("it parses");
    let outcome = scenario.run(&catalogue, 1).expect("it runs");
    assert!(outcome.passed(), "{:?}", outcome.failures);
    assert_eq!(outcome.exit_codes["client"], Some(0));
}

#[test]
fn a_running_program_is_reachable_by_type_and_host_name() {
    let catalogue = catalogue();
    let scenario = Scenario::parse("greeting", GREETING, &catalogue).expect("it parses");
    let (net, _) = scenario.simulate(&catalogue, 1).expect("it runs");
    let greeter = net.program::<Greeter>("greeter").expect("a greeter host");
    assert_eq!(greeter.options.greeting, "good day");
    assert!(
        net.program::<Greeter>("client").is_none(),
        "the client is not one"
    );
}

#[test]
fn an_unknown_program_name_is_refused_listing_the_registered_ones() {
    let catalogue = catalogue();
    let text = GREETING.replace("program = \"greeter\"", "program = \"greter\"");
    let error = Scenario::parse("typo", &text, &catalogue)
        .expect_err("refused")
        .to_string();
    assert!(error.contains("unknown program \"greter\""), "{error}");
    assert!(error.contains("greeter, heartbeat"), "{error}");
    assert!(error.contains("host \"greeter\""), "{error}");
}

#[test]
fn an_unknown_option_key_is_refused_naming_the_key() {
    let catalogue = catalogue();
    let text = GREETING.replace("greeting = \"good day\"", "greting = \"good day\"");
    let error = Scenario::parse("typo", &text, &catalogue)
        .expect_err("refused")
        .to_string();
    assert!(error.contains("unknown field `greting`"), "{error}");
}

#[test]
fn an_options_check_fails_the_file_before_any_run() {
    let catalogue = catalogue();
    let text = GREETING.replace("greeting = \"good day\"", "greeting = \"\"");
    let error = Scenario::parse("empty", &text, &catalogue).expect_err("refused");
    assert!(
        matches!(&error, ScenarioError::Program { host, .. } if host == "greeter"),
        "{error}"
    );
    assert!(
        error.to_string().contains("greeting must not be empty"),
        "{error}"
    );
}

#[test]
fn options_whose_listing_misses_a_key_cannot_be_registered() {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Undocumented {
        port: u16,
        secret: bool,
    }
    impl ProgramOptions for Undocumented {
        fn describe() -> Vec<OptionDoc> {
            vec![OptionDoc::required("port", "port")]
        }
    }
    let problem = weft::scenario::options_listing_problems::<Undocumented>().expect("caught");
    assert!(
        problem.contains("accepted but not listed: [secret]"),
        "{problem}"
    );
    let registered = std::panic::catch_unwind(|| {
        Catalogue::new().program("greeter", "greets", |o: &Undocumented| Greeter {
            options: GreeterOptions {
                port: o.port,
                greeting: hello(),
                panic_on: None,
                leaky: false,
            },
        })
    });
    assert!(registered.is_err(), "registration must refuse the listing");
}

#[test]
fn a_panicking_program_is_a_failed_run_naming_host_time_and_seed() {
    let catalogue = catalogue();
    let scenario = Scenario::parse("panicking", PANICKING, &catalogue).expect("it parses");
    let outcome = scenario.run(&catalogue, 7).expect("the panic is caught");
    let panic = outcome.panic.as_ref().expect("a panic report");
    assert_eq!(panic.host.as_deref(), Some("greeter"));
    assert!(
        panic.message.contains("asked to panic by \"boom\""),
        "{panic}"
    );
    // The request left the client at 10 ms (after the handshake) and took 5 ms.
    assert_eq!(panic.at.since_epoch().as_millis(), 15, "{panic}");
    assert!(!outcome.passed());
    assert!(
        outcome.failures[0].contains("host \"greeter\" panicked at"),
        "{:?}",
        outcome.failures
    );
}

#[test]
fn sim_run_reports_a_panic_with_seed_and_replay_command() {
    let dir = folder("cli-panic", &[("panicking.toml", PANICKING)]);
    let file = dir.join("panicking.toml");
    let (status, out) = cli(
        &catalogue(),
        &["sim", "run", file.to_str().unwrap(), "--seed", "3"],
    );
    assert_eq!(status, ExitCode::from(1), "{out}");
    assert!(out.contains("panicking: seed 3"), "{out}");
    assert!(out.contains("host \"greeter\" panicked at 0.015"), "{out}");
    assert!(
        out.contains(&format!(
            "replay: greetsim sim run {} --seed 3",
            file.display()
        )),
        "{out}"
    );
}

#[test]
fn sim_run_runs_a_scenario_of_a_custom_program() {
    let dir = folder("cli-run", &[("greeting.toml", GREETING)]);
    let file = dir.join("greeting.toml");
    let (status, out) = cli(&catalogue(), &["sim", "run", file.to_str().unwrap()]);
    assert_eq!(status, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("greeting: seed 1"), "{out}");
    assert!(out.contains("out: received 8 bytes: \"good day\""), "{out}");
}

/// A passing file, a file naming an unknown program, a file that is not TOML, and a
/// file whose program panics.
fn mixed_folder(name: &str) -> PathBuf {
    folder(
        name,
        &[
            ("a-greeting.toml", GREETING),
            (
                "b-unknown.toml",
                &GREETING.replace("\"greeter\"\noptions", "\"nope\"\noptions"),
            ),
            ("c-broken.toml", "[[hosts]\n"),
            ("d-panicking.toml", PANICKING),
        ],
    )
}

#[test]
fn a_sweep_keeps_going_past_a_bad_file_and_a_panicking_file() {
    let dir = mixed_folder("cli-sweep");
    let (status, out) = cli(
        &catalogue(),
        &[
            "sim",
            "sweep",
            dir.to_str().unwrap(),
            "--seeds",
            "5",
            "--check-determinism",
        ],
    );
    assert_eq!(status, ExitCode::from(1), "{out}");
    let row = |name: &str| sweep_row(&out, name);
    // scenario, runs, passed, failed, nondet
    assert_eq!(row("a-greeting")[1..5], ["5", "5", "0", "0"], "{out}");
    assert_eq!(row("d-panicking")[1..5], ["5", "0", "5", "0"], "{out}");
    assert!(row("b-unknown").contains(&"refused"), "{out}");
    assert!(row("c-broken").contains(&"refused"), "{out}");
    assert!(out.contains("unknown program \"nope\""), "{out}");
    assert!(
        out.contains("FAILED d-panicking seed 4: host \"greeter\" panicked"),
        "{out}"
    );
    assert!(out.contains("10 runs"), "{out}");
    assert!(out.contains("; 7 failed"), "{out}");
}

#[test]
fn sim_shrink_minimises_a_custom_programs_failing_schedule() {
    let dir = folder("cli-shrink", &[("fragile.toml", FRAGILE)]);
    let file = dir.join("fragile.toml");
    let (status, out) = cli(
        &catalogue(),
        &["sim", "shrink", file.to_str().unwrap(), "--seed", "2"],
    );
    assert_eq!(status, ExitCode::from(1), "{out}");
    assert!(out.contains("fragile: 1 of 3 faults remain"), "{out}");
    let shrunk = dir.join("fragile.shrunk-2.toml");
    let text = std::fs::read_to_string(&shrunk).expect("the shrunk file");
    assert!(
        text.starts_with("# Shrunk by `greetsim sim shrink"),
        "{text}"
    );
    let catalogue = catalogue();
    let minimal = Scenario::load(&shrunk, &catalogue).expect("it loads");
    assert_eq!(minimal.faults.len(), 1);
    assert!(!minimal.run(&catalogue, 2).expect("it runs").passed());
}

#[test]
fn sim_programs_lists_each_option_with_its_type_and_default() {
    let (status, out) = cli(&catalogue(), &["sim", "programs"]);
    assert_eq!(status, ExitCode::SUCCESS, "{out}");
    let greeter = out.find("greeter\n").expect("the greeter is listed");
    let section: Vec<&str> = out[greeter..].lines().take(5).collect();
    assert_eq!(section[1].trim(), "greets every client and closes");
    let words = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(words(section[2]), "port port required");
    assert_eq!(words(section[3]), "greeting text default hello");
    assert_eq!(words(section[4]), "panic-on text default none");
    assert!(
        out.contains("pingpong-client"),
        "the built-ins are listed too"
    );
}

#[test]
fn a_folder_run_reports_every_failing_file_with_its_replay_command() {
    let dir = folder(
        "folder-report",
        &[
            ("a-greeting.toml", GREETING),
            ("b-panicking.toml", PANICKING),
            ("c-broken.toml", "[[hosts]\n"),
        ],
    );
    let catalogue = catalogue();
    let mut snapshotted = Vec::new();
    let report = ScenarioFolder::new(&catalogue, &dir)
        .replay_command("cargo run -p greet -- sim run")
        .run_with("/", &mut |_, file, transcript| {
            snapshotted.push((file.file_name().unwrap().to_owned(), transcript.len()));
        });
    assert_eq!(report.files, 3);
    assert_eq!(report.failures.len(), 2, "{:#?}", report.failures);
    assert!(
        report.failures[0].contains("host \"greeter\" panicked"),
        "{}",
        report.failures[0]
    );
    assert!(
        report.failures[0].contains(&format!(
            "replay: cargo run -p greet -- sim run {} --seed 1",
            dir.join("b-panicking.toml").display()
        )),
        "{}",
        report.failures[0]
    );
    assert!(
        report.failures[1].contains("c-broken"),
        "{}",
        report.failures[1]
    );
    assert_eq!(snapshotted.len(), 1, "only the passing file is snapshotted");
    assert_eq!(snapshotted[0].0, "a-greeting.toml");
}

#[test]
fn a_user_binarys_help_offers_only_the_scenario_commands() {
    let (status, out) = cli(&catalogue(), &["--help"]);
    assert_eq!(status, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("Usage: greetsim [COMMAND]"), "{out}");
    assert!(out.contains("sim"), "{out}");
    for weft_only in ["slow-poetry", "pingpong", "bench"] {
        assert!(!out.contains(weft_only), "{weft_only} in:\n{out}");
    }
}

#[test]
fn a_user_binary_without_arguments_summarises_the_sim_folder() {
    // Tests run in the crate's root, whose sim/ holds weft's scenarios; the catalogue
    // here holds the built-ins they name.
    let (status, out) = cli(&catalogue(), &[]);
    assert_eq!(status, ExitCode::SUCCESS, "{out}");
    assert!(
        out.starts_with("greetsim: running the scenarios in sim\n"),
        "{out}"
    );
    assert!(out.contains("pingpong                          1"), "{out}");
    assert!(
        out.contains(" passed, 0 failed. More: greetsim sim run FILE"),
        "{out}"
    );
}
