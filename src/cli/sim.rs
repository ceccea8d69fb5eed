//! `weft sim`: run, sweep and shrink scenario files, and the default job.
//!
//! Only virtual time is reported here; `weft bench sim` measures wall time.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Subcommand};

use super::views::RunViews;
use crate::host::Stream;
use crate::scenario::{Outcome, Scenario, ScenarioError, scenario_files, seed_from_env, shrink};

/// Arguments of `weft sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    #[command(subcommand)]
    command: SimCommand,
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Run one scenario once and report; exit status 1 if an expectation fails.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// Seed (default: WEFT_SEED, else the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Print the whole transcript.
        #[arg(long)]
        transcript: bool,
        /// Write the run as a sequence diagram: one self-contained HTML page.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// Write the run as a packet capture for Wireshark or tshark.
        #[arg(long, value_name = "OUT.pcap")]
        pcap: Option<PathBuf>,
        /// Print the transcript as JSON lines (one event per line, then the result)
        /// instead of the report.
        #[arg(long)]
        json: bool,
    },
    /// Run scenarios over many seeds, in parallel, and summarise.
    Sweep {
        /// Scenario files or directories of them (default: sim/).
        paths: Vec<PathBuf>,
        /// Seeds per scenario: first-seed, first-seed + 1, ...
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Parallel jobs (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard I of N (1-based, as `I/N`), to split a sweep across machines.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(u64, u64)>,
        /// Run every seed twice and compare the transcripts byte for byte.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Shrink a failing run to a minimal fault schedule and write it as a scenario file.
    Shrink {
        /// The scenario file.
        file: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the minimal scenario (default: next to the file,
        /// `<name>.shrunk-<seed>.toml`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the programs a scenario host can run.
    Programs,
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (i, n) = text.split_once('/').ok_or("expected I/N, such as 2/4")?;
    let (i, n): (u64, u64) = (
        i.parse().map_err(|_| "I must be a number")?,
        n.parse().map_err(|_| "N must be a number")?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {i}/{n}: need 1 <= I <= N"));
    }
    Ok((i, n))
}

pub(crate) fn run(args: SimArgs) -> i32 {
    let result = match args.command {
        SimCommand::Run {
            file,
            seed,
            transcript,
            html,
            pcap,
            json,
        } => {
            let views = RunViews { html, pcap, json };
            run_one(&file, seed, transcript, &views)
        }
        SimCommand::Sweep {
            paths,
            seeds,
            first_seed,
            jobs,
            shard,
            check_determinism,
        } => sweep(&paths, seeds, first_seed, jobs, shard, check_determinism),
        SimCommand::Shrink { file, seed, out } => shrink_one(&file, seed, out),
        SimCommand::Programs => {
            for (name, about) in crate::scenario::PROGRAMS {
                println!("{name:<18} {about}");
            }
            Ok(0)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        2
    })
}

/// The default job: every scenario in `sim/` with its own seed, and a summary.
pub(crate) fn run_default() -> i32 {
    let dir = match default_dir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("error: {error}");
            return 2;
        }
    };
    println!("weft: running the scenarios in {}", dir.display());
    let files = match scenario_files(&dir) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: cannot list {}: {error}", dir.display());
            return 2;
        }
    };
    let mut failed = 0;
    println!(
        "{:<28} {:>6} {:>12} {:>8}  result",
        "scenario", "seed", "virtual", "events"
    );
    for file in &files {
        let scenario = match Scenario::load(file) {
            Ok(s) => s,
            Err(error) => {
                println!("{error}");
                failed += 1;
                continue;
            }
        };
        let seed = seed_from_env(scenario.seed);
        match scenario.run(seed) {
            Ok(outcome) => {
                println!(
                    "{:<28} {:>6} {:>11}s {:>8}  {}",
                    scenario.name,
                    seed,
                    outcome.finished_at,
                    outcome.events,
                    verdict(&outcome)
                );
                if !outcome.passed() {
                    failed += 1;
                    print_failures(&outcome, file);
                }
            }
            Err(error) => {
                println!("{error}");
                failed += 1;
            }
        }
    }
    println!(
        "{} scenarios, {} passed, {} failed. More: weft sim run FILE --transcript; weft sim sweep --seeds 200",
        files.len(),
        files.len() - failed,
        failed
    );
    i32::from(failed > 0)
}

fn verdict(outcome: &Outcome) -> &'static str {
    if outcome.passed() { "ok" } else { "FAILED" }
}

fn print_failures(outcome: &Outcome, file: &Path) {
    for failure in &outcome.failures {
        println!("    {failure}");
    }
    println!(
        "    replay: weft sim run {} --seed {}",
        file.display(),
        outcome.seed
    );
}

/// `sim/` in the current directory, else in the source tree weft was built from.
fn default_dir() -> Result<PathBuf, String> {
    let here = PathBuf::from("sim");
    if here.is_dir() {
        return Ok(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim");
    if built.is_dir() {
        return Ok(built);
    }
    Err("no sim/ directory here; pass scenario files or directories".into())
}

fn run_one(
    file: &Path,
    seed: Option<u64>,
    transcript: bool,
    views: &RunViews,
) -> Result<i32, ScenarioError> {
    let scenario = Scenario::load(file)?;
    let seed = seed.unwrap_or_else(|| seed_from_env(scenario.seed));
    let outcome = scenario.run(seed)?;
    if views.write(&scenario, &outcome)? {
        return Ok(i32::from(!outcome.passed()));
    }
    if transcript {
        print!("{}", outcome.transcript.render());
    }
    println!(
        "{}: seed {seed}, {} s virtual, {} events: {}",
        scenario.name,
        outcome.finished_at,
        outcome.events,
        verdict(&outcome)
    );
    for (host, code) in &outcome.exit_codes {
        let status = code.map_or_else(|| "running".to_owned(), |c| format!("exit {c}"));
        println!("  {host}: {status}");
        if !transcript {
            for (stream, line) in &outcome.output[host] {
                let tag = if *stream == Stream::Stdout {
                    "out"
                } else {
                    "err"
                };
                println!("    {tag}: {line}");
            }
        }
    }
    if !outcome.passed() {
        print_failures(&outcome, file);
    }
    Ok(i32::from(!outcome.passed()))
}

struct SweepResult {
    file: usize,
    seed: u64,
    outcome: Result<(bool, Vec<String>, Option<String>, f64), String>,
}

fn sweep(
    paths: &[PathBuf],
    seeds: u64,
    first_seed: u64,
    jobs: Option<usize>,
    shard: Option<(u64, u64)>,
    check_determinism: bool,
) -> Result<i32, ScenarioError> {
    let files = collect_files(paths).map_err(|problem| ScenarioError::Invalid {
        name: "sweep".into(),
        problem,
    })?;
    let scenarios: Vec<Scenario> = files
        .iter()
        .map(|f| Scenario::load(f))
        .collect::<Result<_, _>>()?;
    let mut work: Vec<(usize, u64)> = Vec::new();
    let mut index = 0u64;
    for file in 0..scenarios.len() {
        for seed in first_seed..first_seed + seeds {
            index += 1;
            if shard.is_none_or(|(i, n)| (index - 1) % n == i - 1) {
                work.push((file, seed));
            }
        }
    }
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let total = work.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(total));
    let tty = std::io::stderr().is_terminal();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(file, seed)) = work.get(i) else {
                        break;
                    };
                    let result = run_seed(&scenarios[file], seed, check_determinism);
                    results
                        .lock()
                        .expect("a sweep worker panicked")
                        .push(SweepResult {
                            file,
                            seed,
                            outcome: result,
                        });
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(tty, finished, total);
                }
            });
        }
    });
    if tty {
        eprintln!();
    }
    let mut results = results.into_inner().expect("a sweep worker panicked");
    results.sort_by_key(|r| (r.file, r.seed));
    Ok(report_sweep(&files, &scenarios, &results))
}

fn run_seed(
    scenario: &Scenario,
    seed: u64,
    check_determinism: bool,
) -> Result<(bool, Vec<String>, Option<String>, f64), String> {
    let outcome = scenario.run(seed).map_err(|e| e.to_string())?;
    let mismatch = if check_determinism {
        let again = scenario.run(seed).map_err(|e| e.to_string())?;
        let (a, b) = (outcome.transcript.render(), again.transcript.render());
        (a != b).then(|| {
            let line = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .map_or(0, |i| i + 1);
            format!("transcripts differ (first at line {line})")
        })
    } else {
        None
    };
    let virtual_secs = outcome.finished_at.since_epoch().as_secs_f64();
    Ok((outcome.passed(), outcome.failures, mismatch, virtual_secs))
}

fn progress(tty: bool, done: usize, total: usize) {
    if tty {
        let width = 30;
        let filled = done * width / total.max(1);
        eprint!(
            "\r[{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
        let _ = std::io::stderr().flush();
    } else if total >= 10 && done.is_multiple_of((total / 10).max(1)) {
        eprintln!("{done}/{total} runs done");
    }
}

fn report_sweep(files: &[PathBuf], scenarios: &[Scenario], results: &[SweepResult]) -> i32 {
    println!(
        "{:<28} {:>6} {:>6} {:>6} {:>9} {:>14}",
        "scenario", "runs", "passed", "failed", "nondet", "virtual (max)"
    );
    let mut bad = 0;
    for (i, scenario) in scenarios.iter().enumerate() {
        let mine: Vec<&SweepResult> = results.iter().filter(|r| r.file == i).collect();
        let passed = mine
            .iter()
            .filter(|r| matches!(r.outcome, Ok((true, _, None, _))))
            .count();
        let nondet = mine
            .iter()
            .filter(|r| matches!(&r.outcome, Ok((_, _, Some(_), _))))
            .count();
        let max_virtual = mine
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok().map(|o| o.3))
            .fold(0.0, f64::max);
        println!(
            "{:<28} {:>6} {:>6} {:>6} {:>9} {:>13.3}s",
            scenario.name,
            mine.len(),
            passed,
            mine.len() - passed,
            nondet,
            max_virtual
        );
    }
    for r in results {
        let problem = match &r.outcome {
            Ok((true, _, None, _)) => continue,
            Ok((_, failures, mismatch, _)) => {
                let mut lines = failures.clone();
                lines.extend(mismatch.clone());
                lines.join("; ")
            }
            Err(error) => error.clone(),
        };
        bad += 1;
        println!(
            "FAILED {} seed {}: {problem}",
            scenarios[r.file].name, r.seed
        );
        println!(
            "  replay: weft sim run {} --seed {}",
            files[r.file].display(),
            r.seed
        );
    }
    let simulated: f64 = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|o| o.3))
        .sum();
    println!(
        "{} runs, {simulated:.1} s of virtual time; {bad} failed",
        results.len()
    );
    i32::from(bad > 0)
}

fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let paths = if paths.is_empty() {
        vec![default_dir()?]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(
                scenario_files(&path)
                    .map_err(|e| format!("cannot list {}: {e}", path.display()))?,
            );
        } else if path.is_file() {
            files.push(path);
        } else {
            return Err(format!("no such file or directory: {}", path.display()));
        }
    }
    Ok(files)
}

fn shrink_one(file: &Path, seed: u64, out: Option<PathBuf>) -> Result<i32, ScenarioError> {
    let scenario = Scenario::load(file)?;
    let Some(report) = shrink(&scenario, seed)? else {
        println!("{}: seed {seed} passes; nothing to shrink", scenario.name);
        return Ok(0);
    };
    let out =
        out.unwrap_or_else(|| file.with_file_name(format!("{}.shrunk-{seed}.toml", scenario.name)));
    let text = format!(
        "# Shrunk by `weft sim shrink {} --seed {seed}`: {} of {} faults remain.\n# Still fails with seed {seed}: {}\n{}",
        file.display(),
        report.minimal.faults.len(),
        report.original_faults,
        report.failures.join("; "),
        report.minimal.to_toml()
    );
    std::fs::write(&out, text).map_err(|source| ScenarioError::Read {
        path: out.clone(),
        source,
    })?;
    println!(
        "{}: {} of {} faults remain after {} runs; wrote {}",
        scenario.name,
        report.minimal.faults.len(),
        report.original_faults,
        report.runs,
        out.display()
    );
    for failure in &report.failures {
        println!("  {failure}");
    }
    println!("  replay: weft sim run {} --seed {seed}", out.display());
    Ok(1)
}
