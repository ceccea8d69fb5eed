//! `weft sim sweep` and `weft sim merge`: many seeds in parallel, split over machines
//! by shards, reported as a summary, JSON lines, JUnit XML and pages of failing runs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::sim::SimContext;
use crate::report::sweep::{RunRecord, RunResult, ScenarioFile, Shard, SweepPlan, SweepReport};
use crate::report::{RunInfo, html, junit};
use crate::scenario::{Catalogue, Divergence, Recording, Scenario, ScenarioError, name_of_file};

/// What `weft sim sweep` was asked for, besides its files.
#[derive(Debug)]
pub(super) struct SweepOptions {
    pub(super) seeds: u64,
    pub(super) first_seed: u64,
    pub(super) jobs: Option<usize>,
    pub(super) shard: Option<Shard>,
    /// Shard count; the index comes from `JOB_COMPLETION_INDEX`.
    pub(super) shards: Option<u64>,
    pub(super) check_determinism: bool,
    pub(super) json: bool,
    pub(super) junit: Option<PathBuf>,
    pub(super) html_dir: Option<PathBuf>,
}

fn invalid(problem: String) -> ScenarioError {
    ScenarioError::Invalid {
        name: "sweep".into(),
        problem,
    }
}

fn read_error(path: &Path, source: std::io::Error) -> ScenarioError {
    ScenarioError::Read {
        path: path.to_owned(),
        source,
    }
}

fn write_error(path: &Path, source: std::io::Error) -> ScenarioError {
    invalid(format!("cannot write {}: {source}", path.display()))
}

/// Which shard this machine runs: `--shard`, or `--shards N` with the job system's
/// index.
fn shard(options: &SweepOptions) -> Result<Shard, ScenarioError> {
    match (options.shard, options.shards) {
        (Some(shard), _) => Ok(shard),
        (None, Some(count)) => match Shard::from_env(count) {
            Some(shard) => shard.map_err(|e| invalid(e.to_string())),
            None => Err(invalid(format!(
                "--shards {count} reads the shard from {} (a Kubernetes Indexed Job sets it); \
                 elsewhere give --shard I/{count}",
                crate::report::sweep::COMPLETION_INDEX_VAR
            ))),
        },
        (None, None) => Ok(Shard::WHOLE),
    }
}

/// What a sweep's runs share: the programs, the binary's name, the options.
struct Runner<'a> {
    catalogue: &'a Catalogue,
    bin: &'a str,
    options: &'a SweepOptions,
}

pub(super) fn sweep(
    ctx: &mut SimContext<'_>,
    files: &[PathBuf],
    options: &SweepOptions,
) -> Result<i32, ScenarioError> {
    // A file that does not load is refused: a failure in the report, and the other
    // files still run. Each is read once, for its fingerprint and its scenario.
    let mut scenarios: Vec<Option<Scenario>> = Vec::with_capacity(files.len());
    let mut listed = Vec::with_capacity(files.len());
    for file in files {
        let path = file.display().to_string();
        let (contents, loaded) = match std::fs::read(file) {
            Ok(bytes) => {
                let loaded = Scenario::from_file(file, &bytes, ctx.catalogue);
                (bytes, loaded)
            }
            Err(error) => (Vec::new(), Err(read_error(file, error))),
        };
        match loaded {
            Ok(scenario) => {
                listed.push(ScenarioFile::new(&scenario.name, &path, &contents));
                scenarios.push(Some(scenario));
            }
            Err(error) => {
                listed.push(
                    ScenarioFile::new(&name_of_file(file), &path, &contents)
                        .refused_for(error.to_string()),
                );
                scenarios.push(None);
            }
        }
    }
    if let Some(dir) = &options.html_dir {
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    }
    let mut plan = SweepPlan::new(listed, options.first_seed, options.seeds, shard(options)?);
    plan.bin.clone_from(&ctx.bin);
    plan.check_determinism = options.check_determinism;
    let work = plan.work();
    let jobs = (options.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| invalid(format!("cannot start {jobs} worker threads: {e}")))?;
    let runner = Runner {
        catalogue: ctx.catalogue,
        bin: &ctx.bin,
        options,
    };
    let progress = Progress::new(work.len());
    // Results come back in work order, so the report does not depend on scheduling.
    let runs: Vec<RunRecord> = pool.install(|| {
        work.par_iter()
            .map(|&(file, seed)| {
                let scenario = scenarios[file].as_ref().expect("only loaded files run");
                let record = runner.run_seed(scenario, &plan.files[file].path, seed);
                progress.tick();
                record
            })
            .collect()
    });
    progress.finish();
    let report = SweepReport { plan, runs };
    write_report(ctx, &report, options.json, options.junit.as_deref())
}

/// Prints the summary (or, with `json`, the report's JSON lines, and the summary on
/// stderr) and writes the JUnit file. Exit status 1 if a run did not pass.
fn write_report(
    ctx: &mut SimContext<'_>,
    report: &SweepReport,
    json: bool,
    junit: Option<&Path>,
) -> Result<i32, ScenarioError> {
    let written = if json {
        report
            .write_json_lines(&mut *ctx.out)
            .and_then(|()| report.write_summary(std::io::stderr().lock()))
    } else {
        report.write_summary(&mut *ctx.out)
    };
    written.map_err(|e| write_error(Path::new("stdout"), e))?;
    if let Some(path) = junit {
        let file = std::fs::File::create(path).map_err(|e| write_error(path, e))?;
        junit::write(report, std::io::BufWriter::new(file)).map_err(|e| write_error(path, e))?;
    }
    Ok(i32::from(report.failure_count() > 0))
}

/// One run of a sweep, timed on the wall clock, with its page if it failed and pages
/// were asked for.
impl Runner<'_> {
    fn run_seed(&self, scenario: &Scenario, path: &str, seed: u64) -> RunRecord {
        // A sweep reports how long each run took, which only the machine's clock knows;
        // nothing in the run reads it.
        #[allow(clippy::disallowed_methods)]
        let started = std::time::Instant::now();
        let mut record = RunRecord {
            scenario: scenario.name.clone(),
            file: path.to_owned(),
            seed,
            result: RunResult::Passed,
            failures: Vec::new(),
            virtual_secs: 0.0,
            wall_secs: 0.0,
            replay: RunRecord::replay_command(self.bin, path, seed),
        };
        // A verdict needs no transcript; a determinism check compares digests.
        let recording = Recording {
            transcript: false,
            digest: self.options.check_determinism,
        };
        match scenario.run_recording(self.catalogue, seed, recording) {
            Err(error) => {
                record.result = RunResult::Error;
                record.failures.push(error.to_string());
            }
            Ok(outcome) => {
                record.virtual_secs = outcome.finished_at.since_epoch().as_secs_f64();
                if !outcome.passed() {
                    record.result = RunResult::Failed;
                    record.failures.clone_from(&outcome.failures);
                }
                if self.options.check_determinism
                    && let Some(difference) = self.differs(scenario, seed, outcome.digest)
                {
                    record.result = RunResult::Nondeterministic;
                    record.failures.push(difference);
                }
                if record.result != RunResult::Passed
                    && let Some(dir) = &self.options.html_dir
                {
                    let page = dir.join(format!("{}-seed-{seed}.html", scenario.name));
                    // The page shows the transcript: the failing seed runs again with it.
                    let info = scenario.network(self.catalogue, seed).and_then(|net| {
                        let info = RunInfo::new(&scenario.name, seed, &net)
                            .with_description(&scenario.description)
                            .with_failures(&record.failures);
                        let full = scenario.run(self.catalogue, seed)?;
                        Ok((info, full.transcript))
                    });
                    match info.map(|(info, transcript)| {
                        std::fs::write(&page, html::page(&transcript, &info))
                    }) {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            eprintln!("{}: cannot write {}: {e}", self.bin, page.display())
                        }
                        Err(e) => eprintln!("{}: {e}", self.bin),
                    }
                }
            }
        }
        record.wall_secs = started.elapsed().as_secs_f64();
        record
    }

    /// Runs `seed` again and compares the event streams' digests with `first`'s. If
    /// they differ, says where the transcripts of two more runs do.
    fn differs(&self, scenario: &Scenario, seed: u64, first: Option<u64>) -> Option<String> {
        match scenario.diverges_from(self.catalogue, seed, first) {
            Ok(None) => None,
            Ok(Some(Divergence::Line { number, .. })) => {
                Some(format!("transcripts differ (first at line {number})"))
            }
            Ok(Some(divergence @ Divergence::DigestsOnly)) => Some(divergence.to_string()),
            Err(error) => Some(error.to_string()),
        }
    }
}

/// A progress bar with rate and ETA on a terminal; off a terminal, a line at every
/// tenth of the runs.
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: AtomicUsize,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} runs  {per_sec}  ETA {eta}  ({elapsed})",
                )
                .expect("the template is valid"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            total,
            done: AtomicUsize::new(0),
        }
    }

    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if self.total >= 10 && done.is_multiple_of((self.total / 10).max(1)) => {
                eprintln!("{done}/{} runs done", self.total);
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// `weft sim merge`: joins shard reports into one summary (or JSON lines) and JUnit.
pub(super) fn merge(
    ctx: &mut SimContext<'_>,
    reports: &[PathBuf],
    json: bool,
    junit: Option<&Path>,
) -> Result<i32, ScenarioError> {
    let mut read = Vec::with_capacity(reports.len());
    for path in reports {
        let text = std::fs::read_to_string(path).map_err(|e| read_error(path, e))?;
        let report = SweepReport::read_json_lines(&path.display().to_string(), &text)
            .map_err(|e| invalid(e.to_string()))?;
        read.push(report);
    }
    let merged = SweepReport::merge(read).map_err(|e| ScenarioError::Invalid {
        name: "merge".into(),
        problem: e.to_string(),
    })?;
    write_report(ctx, &merged, json, junit)
}
