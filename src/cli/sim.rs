//! `sim`: run, sweep and shrink scenario files over a catalogue, and the default job.
//!
//! Only virtual time is reported here; `weft bench sim` measures wall time.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Subcommand};
use rayon::prelude::*;

use crate::host::Stream;
use crate::scenario::{
    Catalogue, Outcome, Scenario, ScenarioError, scenario_files, seed_from_env, shrink,
};

/// Writes one line of the report; a closed output (`| head`) is not an error here.
macro_rules! say {
    ($ctx:expr, $($arg:tt)*) => {{
        let _ = writeln!($ctx.out, $($arg)*);
    }};
}

/// What a `sim` command runs against and where it reports.
pub(crate) struct SimContext<'a> {
    /// The programs scenario files may name.
    pub(crate) catalogue: &'a Catalogue,
    /// The binary's name, for replay lines (`weft`, or a user's binary).
    pub(crate) bin: String,
    /// The `sim/` folder to use when there is none in the current directory.
    pub(crate) fallback_dir: Option<PathBuf>,
    /// Where the report goes.
    pub(crate) out: &'a mut dyn Write,
}

/// Arguments of `sim`.
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
    /// List the programs a scenario host can run, with their options.
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

pub(crate) fn run(ctx: &mut SimContext<'_>, args: SimArgs) -> i32 {
    let result = match args.command {
        SimCommand::Run {
            file,
            seed,
            transcript,
        } => run_one(ctx, &file, seed, transcript),
        SimCommand::Sweep {
            paths,
            seeds,
            first_seed,
            jobs,
            shard,
            check_determinism,
        } => {
            let plan = SweepPlan {
                seeds,
                first_seed,
                jobs,
                shard,
                check_determinism,
            };
            sweep(ctx, &paths, &plan)
        }
        SimCommand::Shrink { file, seed, out } => shrink_one(ctx, &file, seed, out),
        SimCommand::Programs => {
            let _ = write!(ctx.out, "{}", ctx.catalogue.listing());
            Ok(0)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        2
    })
}

/// The default job: every scenario in `sim/` with its own seed, and a summary.
pub(crate) fn run_default(ctx: &mut SimContext<'_>) -> i32 {
    let dir = match default_dir(ctx) {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("error: {error}");
            return 2;
        }
    };
    say!(
        ctx,
        "{}: running the scenarios in {}",
        ctx.bin,
        dir.display()
    );
    let files = match scenario_files(&dir) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: cannot list {}: {error}", dir.display());
            return 2;
        }
    };
    let mut failed = 0;
    say!(
        ctx,
        "{:<28} {:>6} {:>12} {:>8}  result",
        "scenario",
        "seed",
        "virtual",
        "events"
    );
    for file in &files {
        let outcome = Scenario::load(file, ctx.catalogue).and_then(|scenario| {
            let seed = seed_from_env(scenario.seed);
            let outcome = scenario.run(ctx.catalogue, seed)?;
            Ok((scenario, outcome))
        });
        match outcome {
            Ok((scenario, outcome)) => {
                say!(
                    ctx,
                    "{:<28} {:>6} {:>11}s {:>8}  {}",
                    scenario.name,
                    outcome.seed,
                    outcome.finished_at,
                    outcome.events,
                    verdict(&outcome)
                );
                if !outcome.passed() {
                    failed += 1;
                    print_failures(ctx, &outcome, file);
                }
            }
            Err(error) => {
                say!(ctx, "{error}");
                failed += 1;
            }
        }
    }
    say!(
        ctx,
        "{} scenarios, {} passed, {} failed. More: {bin} sim run FILE --transcript; {bin} sim sweep --seeds 200",
        files.len(),
        files.len() - failed,
        failed,
        bin = ctx.bin,
    );
    i32::from(failed > 0)
}

fn verdict(outcome: &Outcome) -> &'static str {
    if outcome.passed() { "ok" } else { "FAILED" }
}

fn replay(ctx: &SimContext<'_>, file: &Path, seed: u64) -> String {
    format!("{} sim run {} --seed {seed}", ctx.bin, file.display())
}

fn print_failures(ctx: &mut SimContext<'_>, outcome: &Outcome, file: &Path) {
    for failure in &outcome.failures {
        say!(ctx, "    {failure}");
    }
    let replay = replay(ctx, file, outcome.seed);
    say!(ctx, "    replay: {replay}");
}

/// `sim/` in the current directory, else the fallback (weft's own source tree).
fn default_dir(ctx: &SimContext<'_>) -> Result<PathBuf, String> {
    let here = PathBuf::from("sim");
    if here.is_dir() {
        return Ok(here);
    }
    if let Some(dir) = ctx.fallback_dir.as_ref().filter(|d| d.is_dir()) {
        return Ok(dir.clone());
    }
    Err("no sim/ directory here; pass scenario files or directories".into())
}

fn run_one(
    ctx: &mut SimContext<'_>,
    file: &Path,
    seed: Option<u64>,
    transcript: bool,
) -> Result<i32, ScenarioError> {
    let scenario = Scenario::load(file, ctx.catalogue)?;
    let seed = seed.unwrap_or_else(|| seed_from_env(scenario.seed));
    let outcome = scenario.run(ctx.catalogue, seed)?;
    if transcript {
        let _ = write!(ctx.out, "{}", outcome.transcript.render());
    }
    say!(
        ctx,
        "{}: seed {seed}, {} s virtual, {} events: {}",
        scenario.name,
        outcome.finished_at,
        outcome.events,
        verdict(&outcome)
    );
    for (host, code) in &outcome.exit_codes {
        let status = code.map_or_else(|| "running".to_owned(), |c| format!("exit {c}"));
        say!(ctx, "  {host}: {status}");
        if !transcript {
            for (stream, line) in &outcome.output[host] {
                let tag = if *stream == Stream::Stdout {
                    "out"
                } else {
                    "err"
                };
                say!(ctx, "    {tag}: {line}");
            }
        }
    }
    if !outcome.passed() {
        print_failures(ctx, &outcome, file);
    }
    Ok(i32::from(!outcome.passed()))
}

struct SweepPlan {
    seeds: u64,
    first_seed: u64,
    jobs: Option<usize>,
    shard: Option<(u64, u64)>,
    check_determinism: bool,
}

/// One run of a sweep: passed, its failures, a determinism mismatch, virtual seconds.
type RunSummary = Result<(bool, Vec<String>, Option<String>, f64), String>;

struct SweepResult {
    file: usize,
    seed: u64,
    outcome: RunSummary,
}

fn sweep(
    ctx: &mut SimContext<'_>,
    paths: &[PathBuf],
    plan: &SweepPlan,
) -> Result<i32, ScenarioError> {
    let files = collect_files(ctx, paths).map_err(|problem| ScenarioError::Invalid {
        name: "sweep".into(),
        problem,
    })?;
    // A file that does not load is a failed row; the others still run.
    let scenarios: Vec<Result<Scenario, String>> = files
        .iter()
        .map(|f| Scenario::load(f, ctx.catalogue).map_err(|e| e.to_string()))
        .collect();
    let mut work: Vec<(usize, u64)> = Vec::new();
    let mut index = 0u64;
    for (file, scenario) in scenarios.iter().enumerate() {
        if scenario.is_err() {
            continue;
        }
        for seed in plan.first_seed..plan.first_seed + plan.seeds {
            index += 1;
            if plan.shard.is_none_or(|(i, n)| (index - 1) % n == i - 1) {
                work.push((file, seed));
            }
        }
    }
    let jobs = plan
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let total = work.len();
    let done = AtomicUsize::new(0);
    let tty = std::io::stderr().is_terminal();
    let catalogue = ctx.catalogue;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| ScenarioError::Invalid {
            name: "sweep".into(),
            problem: format!("cannot start {jobs} worker threads: {e}"),
        })?;
    // Results come back in work order, so the report does not depend on scheduling.
    let results: Vec<SweepResult> = pool.install(|| {
        work.par_iter()
            .map(|&(file, seed)| {
                let scenario = scenarios[file].as_ref().expect("only loaded files run");
                let outcome = run_seed(catalogue, scenario, seed, plan.check_determinism);
                progress(tty, done.fetch_add(1, Ordering::Relaxed) + 1, total);
                SweepResult {
                    file,
                    seed,
                    outcome,
                }
            })
            .collect()
    });
    if tty {
        eprintln!();
    }
    Ok(report_sweep(ctx, &files, &scenarios, &results))
}

fn run_seed(
    catalogue: &Catalogue,
    scenario: &Scenario,
    seed: u64,
    check_determinism: bool,
) -> RunSummary {
    let outcome = scenario.run(catalogue, seed).map_err(|e| e.to_string())?;
    let mismatch = if check_determinism {
        let again = scenario.run(catalogue, seed).map_err(|e| e.to_string())?;
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

fn file_label(file: &Path) -> String {
    file.file_stem().map_or_else(
        || file.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn report_sweep(
    ctx: &mut SimContext<'_>,
    files: &[PathBuf],
    scenarios: &[Result<Scenario, String>],
    results: &[SweepResult],
) -> i32 {
    say!(
        ctx,
        "{:<28} {:>6} {:>6} {:>6} {:>9} {:>14}",
        "scenario",
        "runs",
        "passed",
        "failed",
        "nondet",
        "virtual (max)"
    );
    let mut bad = 0;
    for (i, scenario) in scenarios.iter().enumerate() {
        let Ok(scenario) = scenario else {
            say!(
                ctx,
                "{:<28}  not run: the file is refused",
                file_label(&files[i])
            );
            continue;
        };
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
        say!(
            ctx,
            "{:<28} {:>6} {:>6} {:>6} {:>9} {:>13.3}s",
            scenario.name,
            mine.len(),
            passed,
            mine.len() - passed,
            nondet,
            max_virtual
        );
    }
    for (file, scenario) in files.iter().zip(scenarios) {
        if let Err(error) = scenario {
            bad += 1;
            say!(ctx, "FAILED {}: {error}", file.display());
        }
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
        let name = scenarios[r.file].as_ref().map_or("?", |s| s.name.as_str());
        say!(ctx, "FAILED {name} seed {}: {problem}", r.seed);
        let replay = replay(ctx, &files[r.file], r.seed);
        say!(ctx, "  replay: {replay}");
    }
    let simulated: f64 = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|o| o.3))
        .sum();
    say!(
        ctx,
        "{} runs, {simulated:.1} s of virtual time; {bad} failed",
        results.len()
    );
    i32::from(bad > 0)
}

fn collect_files(ctx: &SimContext<'_>, paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let paths = if paths.is_empty() {
        vec![default_dir(ctx)?]
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

fn shrink_one(
    ctx: &mut SimContext<'_>,
    file: &Path,
    seed: u64,
    out: Option<PathBuf>,
) -> Result<i32, ScenarioError> {
    let scenario = Scenario::load(file, ctx.catalogue)?;
    let Some(report) = shrink(ctx.catalogue, &scenario, seed)? else {
        say!(
            ctx,
            "{}: seed {seed} passes; nothing to shrink",
            scenario.name
        );
        return Ok(0);
    };
    let out =
        out.unwrap_or_else(|| file.with_file_name(format!("{}.shrunk-{seed}.toml", scenario.name)));
    let text = format!(
        "# Shrunk by `{} sim shrink {} --seed {seed}`: {} of {} faults remain.\n# Still fails with seed {seed}: {}\n{}",
        ctx.bin,
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
    say!(
        ctx,
        "{}: {} of {} faults remain after {} runs; wrote {}",
        scenario.name,
        report.minimal.faults.len(),
        report.original_faults,
        report.runs,
        out.display()
    );
    for failure in &report.failures {
        say!(ctx, "  {failure}");
    }
    let replay = replay(ctx, &out, seed);
    say!(ctx, "  replay: {replay}");
    Ok(1)
}
