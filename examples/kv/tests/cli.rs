//! This crate's own binary, `kvsim` (`weft::cli::main` over its catalogue), as a user
//! runs it: a sweep with a determinism check over `sim/`, and a shrink of the kept
//! failure that writes the minimal file.

use std::path::Path;
use std::process::Command;

fn kvsim(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("kvsim runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_sweep_of_the_sim_folder_passes_every_seed_twice_identically() {
    let (code, out) = kvsim(&[
        "sim",
        "sweep",
        "sim",
        "--seeds",
        "20",
        "--check-determinism",
    ]);
    assert_eq!(code, Some(0), "{out}");
    for scenario in ["partition-retry", "set-get"] {
        let row: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with(scenario))
            .unwrap_or_else(|| panic!("no row for {scenario}:\n{out}"))
            .split_whitespace()
            .collect();
        // scenario, runs, passed, failed, nondet
        assert_eq!(row[1..5], ["20", "20", "0", "0"], "{out}");
    }
}

#[test]
fn shrink_writes_the_minimal_failing_file() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kvsim-shrink");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("no-retries.toml");
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim-failing/no-retries.toml");
    std::fs::copy(kept, &file).unwrap();
    let (code, out) = kvsim(&["sim", "shrink", file.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(code, Some(1), "a shrink of a failure exits 1:\n{out}");
    assert!(out.contains("no-retries: 1 of 3 faults remain"), "{out}");
    let minimal = std::fs::read_to_string(dir.join("no-retries.shrunk-1.toml")).unwrap();
    assert!(
        minimal.starts_with("# Shrunk by `kvsim sim shrink"),
        "{minimal}"
    );
    assert_eq!(minimal.matches("[[faults]]").count(), 1, "{minimal}");
    assert!(minimal.contains("partition"), "{minimal}");
    // The minimal file fails on its own, without the seed.
    let (code, out) = kvsim(&[
        "sim",
        "run",
        dir.join("no-retries.shrunk-1.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}");
}
