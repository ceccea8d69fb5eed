//! Finding the external tools, and running scenarios for them.

use std::path::{Path, PathBuf};
use std::process::Command;

use weft::report::RunInfo;
use weft::scenario::{Outcome, Scenario};

/// The tool's path, or `None` (with the reason printed) when it is missing and the
/// tests may skip it. Under `CI=true` a missing tool fails the test.
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "{name} is not installed, and CI=true requires it (.ci/run installs it)"
        );
        eprintln!(
            "skipped: {name} is not installed (apt-get install {name}; CI=true makes this a failure)"
        );
    }
    found
}

/// Runs `command`, failing the test with its output if it fails; returns stdout.
pub(crate) fn output(command: &mut Command) -> String {
    let out = command.output().expect("the tool starts");
    assert!(
        out.status.success(),
        "{command:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the tool prints UTF-8")
}

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scenario file (relative to the crate) run with its own seed.
pub(crate) fn run(file: &str) -> (Outcome, RunInfo) {
    let catalogue = weft::programs::catalogue();
    let scenario = Scenario::load(&root().join(file), &catalogue).expect("the scenario loads");
    let seed = scenario.seed;
    let net = scenario
        .network(&catalogue, seed)
        .expect("the network builds");
    let outcome = scenario.run(&catalogue, seed).expect("the scenario runs");
    let info = RunInfo::new(&scenario.name, seed, &net)
        .with_description(&scenario.description)
        .with_failures(&outcome.failures);
    (outcome, info)
}

/// Every scenario of `sim/`, as paths relative to the crate.
pub(crate) fn bundled() -> Vec<String> {
    weft::scenario::scenario_files(&root().join("sim"))
        .expect("sim/ lists")
        .iter()
        .map(|p| format!("sim/{}", p.file_name().unwrap().to_string_lossy()))
        .collect()
}

/// A directory under target/ for this test's files.
pub(crate) fn out_dir(name: &str) -> PathBuf {
    let dir = root().join("target").join("review").join(name);
    std::fs::create_dir_all(&dir).expect("target/review is writable");
    dir
}
