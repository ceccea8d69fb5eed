//! Sweep reports: one line per run, split into shards that run on different machines,
//! and merged back into one report.
//!
//! A sweep runs every scenario file with the seeds `first_seed .. first_seed + seeds`;
//! in that order (file by file, seed by seed), run number `k` (from 0) belongs to shard
//! `k % N + 1` of `N`. A file that does not load (bad TOML, an unknown program) is
//! refused: it has no runs, counts as one failure, and the other files still run. A
//! report is JSON lines:
//!
//! - first a `{"kind":"sweep", ...}` line: the weft version, the binary's name (`bin`,
//!   for replay commands), the scenario files (name, path, a fingerprint of their
//!   contents, and `refused` with the reason if the file did not load), `first_seed`,
//!   `seeds`, `check_determinism` and the `shard` (`{"index":I,"count":N}`, 1-based);
//! - then one `{"kind":"run", ...}` line per run, in sweep order: `scenario`, `file`,
//!   `seed`, `result` (`passed`, `failed`, `nondeterministic` or `error`), `failures`
//!   (strings), `virtual_secs`, `wall_secs` and `replay` (the command that replays it);
//! - last a `{"kind":"summary", ...}` line: `runs`, `passed`, `failed` (failed runs and
//!   refused files) and `refused` (refused files).
//!
//! [`SweepReport::merge`] joins the shards of one sweep and refuses shards that do not
//! fit together: another weft version, other files or file contents, other seeds, a
//! shard missing, twice, or short of runs.
//!
//! ```
//! use weft::report::sweep::Shard;
//!
//! let shard: Shard = "2/4".parse().unwrap();
//! assert!(shard.runs(1) && shard.runs(5) && !shard.runs(2));
//! // A Kubernetes Indexed Job counts from 0.
//! assert_eq!(Shard::from_completion_index("1", 4).unwrap(), shard);
//! ```

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The environment variable a Kubernetes Indexed Job sets: the pod's index, from 0.
pub const COMPLETION_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// Which part of a sweep one machine runs: shard `index` of `count`, from 1.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, 1 to `count`.
    pub index: u64,
    /// How many shards the sweep is split into.
    pub count: u64,
}

/// A shard that cannot be used.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ShardError {
    /// Not `I/N` with `1 <= I <= N`.
    #[error("--shard {0:?}: expected I/N with 1 <= I <= N, such as 2/4")]
    Malformed(String),
    /// The completion index is not a number below the shard count.
    #[error("{COMPLETION_INDEX_VAR}={index:?}: expected a number from 0 to {}", .count.saturating_sub(1))]
    BadIndex {
        /// What the variable says.
        index: String,
        /// The shard count given.
        count: u64,
    },
}

impl Shard {
    /// The whole sweep, unsplit.
    pub const WHOLE: Self = Self { index: 1, count: 1 };

    /// Shard `index` (from 1) of `count`, if `1 <= index <= count`.
    pub fn new(index: u64, count: u64) -> Option<Self> {
        (index >= 1 && index <= count).then_some(Self { index, count })
    }

    /// The shard of a job system that numbers its workers from 0, such as the
    /// `JOB_COMPLETION_INDEX` of a Kubernetes Indexed Job.
    pub fn from_completion_index(index: &str, count: u64) -> Result<Self, ShardError> {
        let bad = || ShardError::BadIndex {
            index: index.to_owned(),
            count,
        };
        let i: u64 = index.trim().parse().map_err(|_| bad())?;
        Self::new(i + 1, count).ok_or_else(bad)
    }

    /// The shard from [`COMPLETION_INDEX_VAR`] with `count` shards, if it is set.
    pub fn from_env(count: u64) -> Option<Result<Self, ShardError>> {
        let index = std::env::var(COMPLETION_INDEX_VAR).ok()?;
        Some(Self::from_completion_index(&index, count))
    }

    /// Whether this shard runs the sweep's run number `k` (from 0, in sweep order).
    pub fn runs(&self, k: u64) -> bool {
        k % self.count == self.index - 1
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, ShardError> {
        let malformed = || ShardError::Malformed(text.to_owned());
        let (i, n) = text.split_once('/').ok_or_else(malformed)?;
        let (i, n) = (i.trim().parse().ok(), n.trim().parse().ok());
        i.zip(n)
            .and_then(|(i, n)| Self::new(i, n))
            .ok_or_else(malformed)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A scenario file of a sweep.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ScenarioFile {
    /// The scenario's name (the file stem).
    pub name: String,
    /// The path the sweep was given.
    pub path: String,
    /// FNV-1a (64 bits, hex) of the file's bytes: shards of one sweep must have run
    /// the same contents, wherever the file lives on each machine.
    pub fingerprint: String,
    /// Why the file did not load, if it did not: it has no runs and is one failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl ScenarioFile {
    /// A file named `name` at `path` with these contents.
    pub fn new(name: &str, path: &str, contents: &[u8]) -> Self {
        // Not a cryptographic hash: it catches edited or different files, not forgeries.
        let hash = contents.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Self {
            name: name.to_owned(),
            path: path.to_owned(),
            fingerprint: format!("{hash:016x}"),
            refused: None,
        }
    }

    /// The file, refused for `reason` (what loading it said).
    pub fn refused_for(mut self, reason: impl Into<String>) -> Self {
        self.refused = Some(reason.into());
        self
    }
}

/// What a sweep (or one shard of it) runs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SweepPlan {
    /// The version of weft that ran it.
    pub weft_version: String,
    /// The binary that ran it (`weft`, or a user's binary over its own catalogue): the
    /// replay commands name it.
    #[serde(default = "default_bin")]
    pub bin: String,
    /// The scenario files, in sweep order.
    pub files: Vec<ScenarioFile>,
    /// The first seed.
    pub first_seed: u64,
    /// Seeds per file.
    pub seeds: u64,
    /// Whether every run was checked for determinism.
    pub check_determinism: bool,
    /// Which part of the sweep this is.
    pub shard: Shard,
}

impl SweepPlan {
    /// A plan for this build of weft, run by the `weft` binary.
    pub fn new(files: Vec<ScenarioFile>, first_seed: u64, seeds: u64, shard: Shard) -> Self {
        Self {
            weft_version: env!("CARGO_PKG_VERSION").to_owned(),
            bin: default_bin(),
            files,
            first_seed,
            seeds,
            check_determinism: false,
            shard,
        }
    }

    /// The runs of this shard, in sweep order: (index into `files`, seed). Refused
    /// files have none, and do not count in the run numbers.
    pub fn work(&self) -> Vec<(usize, u64)> {
        let seeds = self.first_seed..self.first_seed.saturating_add(self.seeds);
        (0..self.files.len())
            .filter(|&file| self.files[file].refused.is_none())
            .flat_map(|file| seeds.clone().map(move |seed| (file, seed)))
            .enumerate()
            .filter(|&(k, _)| self.shard.runs(k as u64))
            .map(|(_, run)| run)
            .collect()
    }
}

fn default_bin() -> String {
    "weft".to_owned()
}

/// How a run ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
    /// Every expectation held.
    Passed,
    /// An expectation broke.
    Failed,
    /// Two runs with the same seed gave different transcripts.
    Nondeterministic,
    /// The scenario could not run.
    Error,
}

/// One run of a sweep.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// The scenario's name.
    pub scenario: String,
    /// Its file, as the sweep was given it.
    pub file: String,
    /// The seed.
    pub seed: u64,
    /// How it ended.
    pub result: RunResult,
    /// What went wrong, one line each (empty if it passed).
    pub failures: Vec<String>,
    /// Virtual time the run took, in seconds.
    pub virtual_secs: f64,
    /// Wall-clock time the run took, in seconds (the one field two identical sweeps do
    /// not share).
    pub wall_secs: f64,
    /// The command that replays it.
    pub replay: String,
}

impl RunRecord {
    /// The command that replays `file` with `seed` with the binary `bin`.
    ///
    /// ```
    /// use weft::report::sweep::RunRecord;
    ///
    /// assert_eq!(
    ///     RunRecord::replay_command("weft", "sim/pingpong.toml", 7),
    ///     "weft sim run sim/pingpong.toml --seed 7"
    /// );
    /// ```
    pub fn replay_command(bin: &str, file: &str, seed: u64) -> String {
        format!("{bin} sim run {file} --seed {seed}")
    }
}

/// One scenario's line of a summary.
#[derive(Clone, PartialEq, Debug)]
pub struct ScenarioSummary {
    /// The scenario.
    pub name: String,
    /// Why its file did not load, if it did not (then it has no runs).
    pub refused: Option<String>,
    /// Its runs.
    pub runs: usize,
    /// Runs that passed.
    pub passed: usize,
    /// Runs whose transcripts differed between two runs with the same seed.
    pub nondeterministic: usize,
    /// The longest run's virtual time, in seconds.
    pub max_virtual_secs: f64,
}

/// A sweep's report: its plan and its runs in sweep order.
#[derive(Clone, PartialEq, Debug)]
pub struct SweepReport {
    /// What was run.
    pub plan: SweepPlan,
    /// The runs, in sweep order.
    pub runs: Vec<RunRecord>,
}

pub use super::merge::{MergeError, ReadError};

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(super) enum Line {
    Sweep(SweepPlan),
    Run(RunRecord),
    Summary {
        runs: usize,
        passed: usize,
        failed: usize,
        #[serde(default)]
        refused: usize,
    },
}

impl SweepReport {
    /// Runs that did not pass, in sweep order.
    pub fn failed(&self) -> impl Iterator<Item = &RunRecord> {
        self.runs.iter().filter(|r| r.result != RunResult::Passed)
    }

    /// Files that did not load, in sweep order.
    pub fn refused(&self) -> impl Iterator<Item = &ScenarioFile> {
        self.plan.files.iter().filter(|f| f.refused.is_some())
    }

    /// Failures in all: runs that did not pass and files that did not load. The sweep
    /// passed if this is 0.
    pub fn failure_count(&self) -> usize {
        self.failed().count() + self.refused().count()
    }

    /// A line per scenario file, in sweep order.
    pub fn summary(&self) -> Vec<ScenarioSummary> {
        (self.plan.files.iter())
            .map(|file| {
                let mine: Vec<&RunRecord> = (self.runs.iter())
                    .filter(|r| r.scenario == file.name)
                    .collect();
                ScenarioSummary {
                    name: file.name.clone(),
                    refused: file.refused.clone(),
                    runs: mine.len(),
                    passed: mine
                        .iter()
                        .filter(|r| r.result == RunResult::Passed)
                        .count(),
                    nondeterministic: (mine.iter())
                        .filter(|r| r.result == RunResult::Nondeterministic)
                        .count(),
                    max_virtual_secs: mine.iter().map(|r| r.virtual_secs).fold(0.0, f64::max),
                }
            })
            .collect()
    }

    /// The report with every wall time zeroed: what two sweeps of the same files and
    /// seeds share, byte for byte.
    pub fn without_wall_times(&self) -> Self {
        let mut report = self.clone();
        for run in &mut report.runs {
            run.wall_secs = 0.0;
        }
        report
    }

    /// Writes the report as JSON lines (see the module docs).
    pub fn write_json_lines(&self, mut out: impl Write) -> io::Result<()> {
        let failed_runs = self.failed().count();
        let mut line = |line: &Line| -> io::Result<()> {
            serde_json::to_writer(&mut out, line)?;
            out.write_all(b"\n")
        };
        line(&Line::Sweep(self.plan.clone()))?;
        for run in &self.runs {
            line(&Line::Run(run.clone()))?;
        }
        line(&Line::Summary {
            runs: self.runs.len(),
            passed: self.runs.len() - failed_runs,
            failed: self.failure_count(),
            refused: self.refused().count(),
        })
    }

    /// Writes the human summary `weft sim sweep` prints: a line per scenario, each
    /// refused file with the reason, each failed run with its replay command, and the
    /// totals.
    pub fn write_summary(&self, mut out: impl Write) -> io::Result<()> {
        writeln!(
            out,
            "{:<28} {:>6} {:>6} {:>6} {:>9} {:>14}",
            "scenario", "runs", "passed", "failed", "nondet", "virtual (max)"
        )?;
        for s in self.summary() {
            if s.refused.is_some() {
                writeln!(out, "{:<28}  not run: the file is refused", s.name)?;
                continue;
            }
            writeln!(
                out,
                "{:<28} {:>6} {:>6} {:>6} {:>9} {:>13.3}s",
                s.name,
                s.runs,
                s.passed,
                s.runs - s.passed,
                s.nondeterministic,
                s.max_virtual_secs
            )?;
        }
        for file in self.refused() {
            let reason = file.refused.as_deref().unwrap_or_default();
            writeln!(out, "FAILED {}: {reason}", file.path)?;
        }
        for run in self.failed() {
            let problem = run.failures.join("; ");
            writeln!(out, "FAILED {} seed {}: {problem}", run.scenario, run.seed)?;
            writeln!(out, "  replay: {}", run.replay)?;
        }
        let simulated: f64 = self.runs.iter().map(|r| r.virtual_secs).sum();
        writeln!(
            out,
            "{} runs, {simulated:.1} s of virtual time; {} failed",
            self.runs.len(),
            self.failure_count()
        )
    }
}
