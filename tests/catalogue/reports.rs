//! A sweep over a crate's catalogue reports refused files and panicked runs as failures
//! in its JSON lines and JUnit XML, and its shards merge into the whole sweep.

use std::path::Path;
use std::process::ExitCode;

use weft::report::sweep::{RunResult, SweepReport};

use super::{catalogue, cli, mixed_folder};

#[test]
fn a_sweeps_json_and_junit_count_refused_files_and_panicked_runs_as_failures() {
    let dir = mixed_folder("cli-sweep-reports");
    let junit = dir.join("sweep.xml");
    let (status, out) = cli(
        &catalogue(),
        &[
            "sim",
            "sweep",
            dir.to_str().unwrap(),
            "--seeds",
            "3",
            "--json",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(status, ExitCode::from(1), "{out}");
    let report = SweepReport::read_json_lines("out", &out).expect("JSON lines on ctx.out");
    let refused: Vec<&str> = report.refused().map(|f| f.name.as_str()).collect();
    assert_eq!(refused, ["b-unknown", "c-broken"], "{out}");
    assert!(
        report.plan.files[1]
            .refused
            .as_ref()
            .unwrap()
            .contains("unknown program \"nope\""),
        "{out}"
    );
    let panicked: Vec<u64> = report
        .failed()
        .filter(|r| r.scenario == "d-panicking" && r.result == RunResult::Failed)
        .map(|r| r.seed)
        .collect();
    assert_eq!(panicked, [0, 1, 2], "{out}");
    assert!(
        report.runs[3].failures[0].contains("host \"greeter\" panicked"),
        "{out}"
    );
    assert!(
        report.runs[3].replay.starts_with("greetsim sim run "),
        "{out}"
    );
    assert!(
        out.ends_with(
            "{\"kind\":\"summary\",\"runs\":6,\"passed\":3,\"failed\":5,\"refused\":2}\n"
        ),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
    assert!(
        xml.contains(r#"tests="8" failures="3" errors="2""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testsuite name="c-broken" tests="1" failures="0" errors="1""#),
        "{xml}"
    );
    assert!(xml.contains(r#"classname="weft.sim.b-unknown""#), "{xml}");
    assert!(xml.contains(r#"type="refused""#), "{xml}");
    assert!(xml.contains("replay: greetsim sim run "), "{xml}");
    validate_junit(&junit);
}

#[test]
fn shards_of_a_sweep_with_refused_files_and_panics_merge_into_the_whole_sweep() {
    let dir = mixed_folder("cli-sweep-shards");
    let sweep = |extra: &[&str]| {
        let mut args = vec!["sim", "sweep", dir.to_str().unwrap(), "--seeds", "5"];
        args.extend(extra);
        let (status, out) = cli(&catalogue(), &args);
        assert_eq!(status, ExitCode::from(1), "{out}");
        out
    };
    let whole = sweep(&["--json"]);
    let mut shards = Vec::new();
    for i in 1..=3 {
        let path = dir.join(format!("shard-{i}.jsonl"));
        std::fs::write(&path, sweep(&["--json", "--shard", &format!("{i}/3")])).unwrap();
        shards.push(path.to_str().unwrap().to_owned());
    }
    let merge = |json: bool| {
        let mut args = vec!["sim", "merge"];
        args.extend(json.then_some("--json"));
        args.extend(shards.iter().map(String::as_str));
        let (status, out) = cli(&catalogue(), &args);
        assert_eq!(status, ExitCode::from(1), "{out}");
        out
    };
    let whole = SweepReport::read_json_lines("whole", &whole).unwrap();
    let merged = SweepReport::read_json_lines("merged", &merge(true)).unwrap();
    assert_eq!(merged.without_wall_times(), whole.without_wall_times());
    assert_eq!(merged.failure_count(), 7);
    let summary = merge(false);
    assert_eq!(summary, sweep(&[]), "the merged summary is the sweep's");
    assert!(summary.contains("; 7 failed"), "{summary}");
    assert!(
        summary.contains("FAILED d-panicking seed 4: host \"greeter\" panicked"),
        "{summary}"
    );
}

/// Validates a JUnit file against tests/data/junit-10.xsd with xmllint, if installed
/// (under CI=true it must be).
fn validate_junit(file: &Path) {
    let Ok(out) = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit-10.xsd"))
        .arg(file)
        .output()
    else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true needs xmllint"
        );
        eprintln!("skipped: xmllint is not installed");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
