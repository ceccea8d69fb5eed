//! `sim`: run, sweep and shrink scenario files over a catalogue, and the default job.
//!
//! Only virtual time is reported here; `weft bench sim` measures wall time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::sweep::{self, SweepOptions};
use super::views::RunViews;
use crate::host::Stream;
use crate::report::sweep::Shard;
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
    /// The process ends once the command returns (a binary's `main`, not an in-process
    /// run): a single run's outcome may be left to the exit instead of freed.
    pub(crate) process_exits: bool,
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
        /// Print a line for every host, however many (past 20 hosts, the report
        /// shows in full only those that broke an expectation or exited non-zero, and
        /// counts the rest by status).
        #[arg(long, short)]
        verbose: bool,
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
        #[arg(long, conflicts_with = "shards")]
        shard: Option<Shard>,
        /// Split into N shards and run the one JOB_COMPLETION_INDEX (from 0) names, as
        /// a Kubernetes Indexed Job sets it.
        #[arg(long, value_name = "N")]
        shards: Option<u64>,
        /// Run every seed twice and compare the transcripts byte for byte.
        #[arg(long)]
        check_determinism: bool,
        /// Print the sweep report as JSON lines (one per run; what `sim merge` reads)
        /// instead of the summary, which goes to stderr.
        #[arg(long)]
        json: bool,
        /// Write a JUnit XML report: a test case per scenario and seed.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write the sequence diagram of every failing run into DIR.
        #[arg(long, value_name = "DIR")]
        html_dir: Option<PathBuf>,
    },
    /// Join the reports of a sweep's shards (`sim sweep --shard I/N --json`) into one
    /// summary; refuses shards of other files, seeds or weft versions.
    Merge {
        /// The shard reports, in any order.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Print the merged report as JSON lines instead of the summary.
        #[arg(long)]
        json: bool,
        /// Write the merged JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
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

pub(crate) fn run(ctx: &mut SimContext<'_>, args: SimArgs) -> i32 {
    let result = match args.command {
        SimCommand::Run {
            file,
            seed,
            transcript,
            verbose,
            html,
            pcap,
            json,
        } => {
            let views = RunViews { html, pcap, json };
            let report = RunReport {
                transcript,
                verbose,
            };
            run_one(ctx, &file, seed, report, &views)
        }
        SimCommand::Sweep {
            paths,
            seeds,
            first_seed,
            jobs,
            shard,
            shards,
            check_determinism,
            json,
            junit,
            html_dir,
        } => collect_files(ctx, &paths)
            .map_err(|problem| ScenarioError::Invalid {
                name: "sweep".into(),
                problem,
            })
            .and_then(|files| {
                let options = SweepOptions {
                    seeds,
                    first_seed,
                    jobs,
                    shard,
                    shards,
                    check_determinism,
                    json,
                    junit,
                    html_dir,
                };
                sweep::sweep(ctx, &files, &options)
            }),
        SimCommand::Merge {
            reports,
            json,
            junit,
        } => sweep::merge(ctx, &reports, json, junit.as_deref()),
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

/// What `sim run` prints besides its summary line.
#[derive(Clone, Copy, Debug)]
struct RunReport {
    /// The whole transcript, and no output lines per host.
    transcript: bool,
    /// A line for every host, however many.
    verbose: bool,
}

/// Past this many hosts, `sim run` counts the hosts that did what was expected of them
/// instead of listing them (unless `--verbose`).
const HOSTS_LISTED_MAX: usize = 20;

fn run_one(
    ctx: &mut SimContext<'_>,
    file: &Path,
    seed: Option<u64>,
    report: RunReport,
    views: &RunViews,
) -> Result<i32, ScenarioError> {
    let RunReport {
        transcript,
        verbose,
    } = report;
    let scenario = Scenario::load(file, ctx.catalogue)?;
    let seed = seed.unwrap_or_else(|| seed_from_env(scenario.seed));
    let outcome = scenario.run(ctx.catalogue, seed)?;
    if views.write(ctx, &scenario, &outcome)? {
        return Ok(i32::from(!outcome.passed()));
    }
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
    let every_host = verbose || outcome.exit_codes.len() <= HOSTS_LISTED_MAX;
    // The hosts listed; the others are counted by status.
    let mut counted: BTreeMap<(bool, Option<i32>), usize> = BTreeMap::new();
    for (host, code) in &outcome.exit_codes {
        if !every_host && !stands_out(&outcome, host, *code) {
            *counted.entry((code.is_none(), *code)).or_default() += 1;
            continue;
        }
        say!(ctx, "  {host}: {}", status(*code));
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
    for ((_, code), hosts) in &counted {
        let (hosts, status) = (plural(*hosts, "host"), status(*code));
        match code {
            Some(code) => say!(ctx, "  {hosts} exited {code}"),
            None => say!(ctx, "  {hosts} {status}"),
        }
    }
    if !counted.is_empty() {
        say!(ctx, "  (--verbose lists every host)");
    }
    if !outcome.passed() {
        print_failures(ctx, &outcome, file);
    }
    let status = i32::from(!outcome.passed());
    if ctx.process_exits {
        // The binary's `main` returns right after this run: freeing the transcript (an
        // allocation or more per event, some 5% of a long run) would be work the
        // process's exit does anyway. A run from `run_from` or a sweep frees as usual.
        std::mem::forget(outcome);
    }
    Ok(status)
}

/// A host's status as a report line says it.
fn status(code: Option<i32>) -> String {
    code.map_or_else(|| "running".to_owned(), |c| format!("exit {c}"))
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Whether a report of many hosts lists `host` in full: it exited non-zero, broke an
/// expectation, or panicked.
fn stands_out(outcome: &Outcome, host: &str, code: Option<i32>) -> bool {
    code.is_some_and(|c| c != 0)
        || outcome
            .broken
            .iter()
            .any(|broken| broken.host() == Some(host))
        || (outcome.panic.as_ref()).is_some_and(|panic| panic.host.as_deref() == Some(host))
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
    let text = report.file_text(&format!(
        "{} sim shrink {} --seed {seed}",
        ctx.bin,
        file.display()
    ));
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
