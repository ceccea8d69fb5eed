//! A sweep split into shards and merged is the unsplit sweep; its JUnit validates.

use std::path::Path;
use std::process::Command;

use weft::report::sweep::SweepReport;

use crate::tools::{out_dir, root, tool};

const SEEDS: &str = "30";

/// `weft` with `args` from the crate's directory: (exit status, stdout, stderr).
fn weft(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .expect("weft starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn sweep(extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec![
        "sim",
        "sweep",
        "sim/",
        "tests/data/sweep",
        "--seeds",
        SEEDS,
        "--json",
    ];
    args.extend(extra);
    let (status, stdout, stderr) = weft(&args, env);
    // Some seeds of tests/data/sweep miss their deadline: status 1.
    assert_eq!(status, 1, "{stderr}");
    stdout
}

fn without_times(junit: &str) -> String {
    junit
        .split(" time=\"")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                &part[part.find('"').unwrap() + 1..]
            }
        })
        .collect()
}

fn validate(file: &Path) {
    let Some(xmllint) = tool("xmllint") else {
        return;
    };
    let schema = root().join("tests/data/junit-10.xsd");
    let out = Command::new(xmllint)
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn four_shards_merged_equal_the_unsharded_sweep_and_the_junit_validates() {
    let dir = out_dir("shards");
    let whole_junit = dir.join("whole.xml");
    let whole = sweep(&["--junit", whole_junit.to_str().unwrap()], &[]);
    let mut reports = Vec::new();
    for i in 1..=4 {
        let shard = format!("{i}/4");
        // Shard 3 as a Kubernetes Indexed Job runs it: index 2, counted from 0.
        let text = if i == 3 {
            sweep(&["--shards", "4"], &[("JOB_COMPLETION_INDEX", "2")])
        } else {
            sweep(&["--shard", &shard], &[])
        };
        let path = dir.join(format!("shard-{i}.jsonl"));
        std::fs::write(&path, &text).unwrap();
        reports.push(path.to_str().unwrap().to_owned());
    }
    let merged_junit = dir.join("merged.xml");
    let mut args = vec![
        "sim",
        "merge",
        "--json",
        "--junit",
        merged_junit.to_str().unwrap(),
    ];
    args.extend(reports.iter().rev().map(String::as_str));
    let (status, merged, stderr) = weft(&args, &[]);
    assert_eq!(status, 1, "{stderr}");

    let whole_report = SweepReport::read_json_lines("whole", &whole).unwrap();
    let merged_report = SweepReport::read_json_lines("merged", &merged).unwrap();
    assert!(
        whole_report.failed().count() > 0,
        "the sweep has failures to compare"
    );
    assert!(whole_report.runs.len() > 400);
    assert_eq!(
        merged_report.without_wall_times(),
        whole_report.without_wall_times()
    );
    // The summary a person reads is the same, failures and replay commands included.
    let (_, whole_summary, _) = weft(
        &["sim", "sweep", "sim/", "tests/data/sweep", "--seeds", SEEDS],
        &[],
    );
    let mut args = vec!["sim", "merge"];
    args.extend(reports.iter().map(String::as_str));
    let (_, merged_summary, _) = weft(&args, &[]);
    assert_eq!(merged_summary, whole_summary);
    assert!(
        merged_summary.contains("FAILED tight-deadline seed"),
        "{merged_summary}"
    );

    let whole_xml = std::fs::read_to_string(&whole_junit).unwrap();
    let merged_xml = std::fs::read_to_string(&merged_junit).unwrap();
    assert_eq!(without_times(&merged_xml), without_times(&whole_xml));
    assert!(
        merged_xml.contains("replay: weft sim run tests/data/sweep/tight-deadline.toml --seed")
    );
    validate(&whole_junit);
    validate(&merged_junit);
}

#[test]
fn merge_refuses_shards_of_another_sweep() {
    let dir = out_dir("shards-refused");
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    let run = |seeds: &str, shard: &str| {
        let args = [
            "sim",
            "sweep",
            "sim/pingpong.toml",
            "--seeds",
            seeds,
            "--shard",
            shard,
            "--json",
        ];
        weft(&args, &[]).1
    };
    std::fs::write(&a, run("4", "1/2")).unwrap();
    std::fs::write(&b, run("5", "2/2")).unwrap();
    let (status, _, stderr) = weft(
        &["sim", "merge", a.to_str().unwrap(), b.to_str().unwrap()],
        &[],
    );
    assert_eq!(status, 2);
    assert_eq!(
        stderr.trim(),
        "error: merge: shard 2/2 ran 5 seeds from 0, shard 1/2 ran 4 seeds from 0"
    );
    let (status, _, stderr) = weft(&["sim", "merge", a.to_str().unwrap()], &[]);
    assert_eq!(status, 2);
    assert_eq!(stderr.trim(), "error: merge: shards missing: 2/2");
}
