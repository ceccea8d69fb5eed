//! A sweep's determinism check compares digests of the event streams, records no
//! transcript for a verdict, and still reports where two runs of a nondeterministic
//! program part.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use weft::host::{ConnId, ConnectError, HostContext, HostPort, Program};
use weft::scenario::{Catalogue, OptionDoc, ProgramOptions, Recording, Scenario};
use weft::transport::Disconnect;

/// Runs of the forgetful greeter so far, in this process: state that outlives a run,
/// the classic source of nondeterminism.
static GREETINGS: AtomicU64 = AtomicU64::new(0);

/// Greets each client with a number that grows from run to run when `leaky`.
struct Greeter {
    leaky: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GreeterOptions {
    #[serde(default)]
    leaky: bool,
}

impl ProgramOptions for GreeterOptions {
    fn describe() -> Vec<OptionDoc> {
        vec![OptionDoc::optional("leaky", "bool", "false")]
    }
}

impl Program for Greeter {
    type Timer = ();

    fn start(&mut self, cx: &mut HostContext<'_, ()>) {
        cx.listen(HostPort::new("0.0.0.0", 7000));
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId) {
        let n = if self.leaky {
            GREETINGS.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        cx.write(conn, format!("hello {n}").as_bytes());
        cx.lose_connection(conn);
    }

    fn data_received(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: &[u8]) {}

    fn connection_lost(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: Disconnect) {}

    fn connect_failed(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: ConnectError) {}
}

fn catalogue() -> Catalogue {
    weft::programs::catalogue().program(
        "greeter",
        "greets every client and closes",
        |o: &GreeterOptions| Greeter { leaky: o.leaky },
    )
}

fn scenario_text(leaky: bool) -> String {
    format!(
        r#"
[network]
latency = {{ fixed = "5ms" }}

[[hosts]]
name = "greeter"
program = "greeter"
options = {{ leaky = {leaky} }}

[[hosts]]
name = "client"
program = "raw-client"
options = {{ connect = "greeter:7000", send = "hi" }}

[expect]
exit = {{ client = 0 }}
"#
    )
}

fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("a scenario file");
    }
    dir
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
fn a_digest_run_keeps_no_transcript_and_repeats_its_digest() {
    let catalogue = catalogue();
    let scenario = Scenario::parse("steady", &scenario_text(false), &catalogue).expect("parses");
    let one = (scenario.run_recording(&catalogue, 4, Recording::DIGEST)).expect("runs");
    let two = (scenario.run_recording(&catalogue, 4, Recording::DIGEST)).expect("runs");
    assert!(one.passed(), "{:?}", one.failures);
    assert!(
        one.transcript.events().is_empty(),
        "no transcript was asked for"
    );
    assert!(one.digest.is_some());
    assert_eq!(one.digest, two.digest);
    let full = scenario.run(&catalogue, 4).expect("runs");
    assert!(!full.transcript.events().is_empty());
    assert_eq!(full.digest, None, "run keeps no digest");
    let other_seed = (scenario.run_recording(&catalogue, 5, Recording::DIGEST)).expect("runs");
    assert_eq!(other_seed.events, one.events);
}

#[test]
fn a_sweep_finds_a_leaky_program_by_digest_and_names_the_first_differing_line() {
    let steady = scenario_text(false);
    let leaky = scenario_text(true);
    let dir = folder(
        "sweep-digest",
        &[("a-steady.toml", &steady), ("b-leaky.toml", &leaky)],
    );
    let (status, out) = cli(
        &catalogue(),
        &[
            "sim",
            "sweep",
            dir.to_str().unwrap(),
            "--seeds",
            "3",
            "--jobs",
            "1",
            "--check-determinism",
        ],
    );
    assert_eq!(status, ExitCode::from(1), "{out}");
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{out}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // scenario, runs, passed, failed, nondet
    assert_eq!(row("a-steady")[1..5], ["3", "3", "0", "0"], "{out}");
    assert_eq!(row("b-leaky")[1..5], ["3", "0", "3", "3"], "{out}");
    assert!(
        out.contains("transcripts differ (first at line"),
        "the failing seed ran again with transcripts: {out}"
    );
}
