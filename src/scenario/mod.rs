//! Scenario files: one reproducible network scenario per TOML file in `sim/`.
//!
//! A scenario names its hosts and the program each runs (with options), the network's
//! settings, a fault schedule (scripted, seeded, frame-triggered), a default seed, and
//! what must hold at the end (exit codes, output lines, transcript lines, a deadline).
//! It is a front end only: [`Scenario::network`] turns it into a [`SimNet`] through the
//! same builder API a Rust test would use.
//!
//! ```toml
//! description = "Ping-pong across a 5 ms link"
//! seed = 1
//! duration = "60s"
//!
//! [network]
//! latency = { fixed = "5ms" }
//!
//! [[hosts]]
//! name = "server"
//! program = "pingpong-server"
//! options = { port = 8000 }
//!
//! [[hosts]]
//! name = "client"
//! program = "pingpong-client"
//! options = { connect = "server:8000", maximum = 100 }
//!
//! [expect]
//! exit = { client = 0 }
//! ```

mod expect;
mod programs;
mod shrink;

pub use expect::Expect;
pub use programs::{PROGRAMS, ProgramError};
pub use shrink::{ShrinkReport, shrink};

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::host::Stream;
use crate::simnet::{Fault, Latency, NetConfig, RandomFaults, SimNet, human_duration};
use crate::testing::Transcript;
use crate::time::Instant;

/// Hosts get 10.0.0.1 to 10.0.0.254.
const MAX_HOSTS: usize = 254;

/// The seed used when neither the file, `--seed` nor `WEFT_SEED` gives one.
pub const DEFAULT_SEED: u64 = 1;

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("{name}: {source}")]
    Parse {
        /// Which scenario.
        name: String,
        /// What the parser said.
        source: Box<toml::de::Error>,
    },
    /// A host's program is unknown or its options are wrong.
    #[error("{name}: host {host:?}: {source}")]
    Program {
        /// Which scenario.
        name: String,
        /// Which host.
        host: String,
        /// What is wrong.
        source: ProgramError,
    },
    /// Two hosts share a name, a fault or link names a host that does not exist, ...
    #[error("{name}: {problem}")]
    Invalid {
        /// Which scenario.
        name: String,
        /// What is wrong.
        problem: String,
    },
}

/// One host of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Its name (also resolvable as a host name by the others).
    pub name: String,
    /// Which program it runs (see [`PROGRAMS`]).
    pub program: String,
    /// The program's options.
    #[serde(default)]
    pub options: toml::Table,
    /// Its address (10.0.0.N by default, in the order hosts are listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
}

impl HostSpec {
    /// A fresh instance of this host's program, ready for any driver: what SimNet runs
    /// for it, and what a test can run on turmoil or real TCP to compare.
    pub fn node(&self) -> Result<Box<dyn crate::host::Node>, ProgramError> {
        programs::factory(self).map(|mut make| make())
    }
}

/// A latency for one pair of hosts, both ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One host.
    pub a: String,
    /// The other.
    pub b: String,
    /// Their latency.
    pub latency: Latency,
}

/// A parsed scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scenario {
    /// Short name; the file stem when loaded from a file.
    #[serde(default, skip_serializing)]
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Default seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Virtual time limit.
    #[serde(default = "default_duration", with = "human_duration")]
    pub duration: Duration,
    /// Once the awaited hosts have exited, run this much longer so that closes still
    /// in flight land (1 s by default).
    #[serde(default = "default_linger", with = "human_duration")]
    pub linger: Duration,
    /// Program log lines at this level and above go into the transcript: `error`,
    /// `warn`, `info` (the default), `debug`, `trace`, or `off`.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Network settings.
    #[serde(default)]
    pub network: NetConfig,
    /// Per-pair latencies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkSpec>,
    /// The hosts.
    pub hosts: Vec<HostSpec>,
    /// Scripted and triggered faults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    /// Seeded faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_faults: Option<RandomFaults>,
    /// What must hold at the end.
    #[serde(default)]
    pub expect: Expect,
}

fn default_seed() -> u64 {
    DEFAULT_SEED
}

fn default_duration() -> Duration {
    Duration::from_secs(60)
}

fn default_linger() -> Duration {
    Duration::from_secs(1)
}

fn default_log_level() -> String {
    "info".to_owned()
}

/// What one run of a scenario produced.
#[derive(Debug)]
pub struct Outcome {
    /// The seed it ran with.
    pub seed: u64,
    /// Broken expectations, one line each; empty means the run passed.
    pub failures: Vec<String>,
    /// Everything that happened.
    pub transcript: Transcript,
    /// Exit status per host (`None`: still running or crashed at the end).
    pub exit_codes: BTreeMap<String, Option<i32>>,
    /// Output lines per host.
    pub output: BTreeMap<String, Vec<(Stream, String)>>,
    /// When the awaited hosts had all exited (or the run stopped).
    pub finished_at: Instant,
    /// Events processed.
    pub events: u64,
}

impl Outcome {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Self::parse(&name, &text)
    }

    /// Parses scenario text; `name` labels errors and the result.
    pub fn parse(name: &str, text: &str) -> Result<Self, ScenarioError> {
        let mut scenario: Self = toml::from_str(text).map_err(|source| ScenarioError::Parse {
            name: name.to_owned(),
            source: Box::new(source),
        })?;
        scenario.name = name.to_owned();
        scenario.validate()?;
        Ok(scenario)
    }

    /// The scenario as TOML text (what `weft sim shrink` writes).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("scenarios are plain data")
    }

    fn invalid(&self, problem: String) -> ScenarioError {
        ScenarioError::Invalid {
            name: self.name.clone(),
            problem,
        }
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        if self.hosts.is_empty() {
            return Err(self.invalid("a scenario needs at least one host".into()));
        }
        if self.hosts.len() > MAX_HOSTS {
            return Err(self.invalid(format!(
                "{} hosts: at most {MAX_HOSTS} fit the 10.0.0.0/24 network",
                self.hosts.len()
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for host in &self.hosts {
            if !seen.insert(host.name.as_str()) {
                return Err(self.invalid(format!("two hosts are named {:?}", host.name)));
            }
            programs::check(host).map_err(|source| ScenarioError::Program {
                name: self.name.clone(),
                host: host.name.clone(),
                source,
            })?;
        }
        let known = |h: &str| seen.contains(h);
        let mut named: Vec<&str> = self
            .links
            .iter()
            .flat_map(|l| [l.a.as_str(), l.b.as_str()])
            .collect();
        named.extend(self.expect.hosts());
        for fault in &self.faults {
            named.extend(expect::fault_hosts(fault));
        }
        if let Some(problem) = self.network.problems().into_iter().next() {
            return Err(self.invalid(format!("[network] {problem}")));
        }
        if self.log_level != "off" && self.log_level.parse::<tracing::Level>().is_err() {
            return Err(self.invalid(format!(
                "log-level {:?} is not one of off, error, warn, info, debug, trace",
                self.log_level
            )));
        }
        if let Some(unknown) = named.into_iter().find(|h| !known(h)) {
            return Err(self.invalid(format!("no host is named {unknown:?}")));
        }
        for fault in &self.faults {
            if fault.at.is_some() == fault.after.is_some() {
                return Err(self.invalid(format!(
                    "fault `{}` needs exactly one of `at` and `after`",
                    fault.describe()
                )));
            }
        }
        Ok(())
    }

    /// The faults this scenario applies with `seed`: the scripted ones, plus the seeded
    /// ones expanded.
    pub fn fault_schedule(&self, seed: u64) -> Vec<Fault> {
        let mut faults = self.faults.clone();
        if let Some(random) = &self.random_faults {
            let names: Vec<String> = self.hosts.iter().map(|h| h.name.clone()).collect();
            faults.extend(random.expand(seed, &names));
        }
        faults
    }

    /// Builds the network for a run with `seed`.
    pub fn network(&self, seed: u64) -> Result<SimNet, ScenarioError> {
        let mut net = SimNet::new(self.network.clone(), seed);
        if let Ok(level) = self.log_level.parse::<tracing::Level>() {
            net = net.capture_logs(level);
        }
        for host in &self.hosts {
            let factory = programs::factory(host).map_err(|source| ScenarioError::Program {
                name: self.name.clone(),
                host: host.name.clone(),
                source,
            })?;
            match host.ip {
                Some(ip) => net.add_host_at(&host.name, ip, factory),
                None => net.add_host(&host.name, factory),
            };
        }
        for link in &self.links {
            net.set_latency(&link.a, &link.b, link.latency.clone());
        }
        for fault in self.fault_schedule(seed) {
            net.add_fault(fault);
        }
        Ok(net)
    }

    /// Runs the scenario once with `seed` and checks its expectations.
    pub fn run(&self, seed: u64) -> Result<Outcome, ScenarioError> {
        let (mut net, finished_at) = self.simulate(seed)?;
        let failures = self.expect.check(&net, finished_at, self.duration);
        let names = net.host_names().to_vec();
        Ok(Outcome {
            seed,
            failures,
            exit_codes: names
                .iter()
                .map(|h| (h.clone(), net.exit_code(h)))
                .collect(),
            output: names
                .iter()
                .map(|h| (h.clone(), net.output(h).to_vec()))
                .collect(),
            finished_at,
            events: net.events_processed(),
            transcript: net.take_transcript(),
        })
    }

    /// Builds the network for `seed` and runs it: until the awaited hosts have exited
    /// (plus the linger) or the time limit. Returns it with the time the awaited hosts
    /// had all exited (or the run stopped). No expectation is checked.
    pub fn simulate(&self, seed: u64) -> Result<(SimNet, Instant), ScenarioError> {
        let mut net = self.network(seed)?;
        let awaited: Vec<&str> = self.expect.exit.keys().map(String::as_str).collect();
        let finished_at = if awaited.is_empty() {
            net.run_until(Instant::ZERO + self.duration);
            net.now()
        } else {
            net.run_until_exit(&awaited, self.duration);
            let exited = net.now();
            net.run_for(self.linger);
            exited
        };
        Ok((net, finished_at))
    }

    /// Runs twice with `seed` and compares the transcripts byte for byte. Returns the
    /// first differing line if they differ.
    pub fn check_determinism(&self, seed: u64) -> Result<Option<String>, ScenarioError> {
        let first = self.run(seed)?.transcript.render();
        let second = self.run(seed)?.transcript.render();
        Ok(first
            .lines()
            .zip(second.lines())
            .position(|(a, b)| a != b)
            .map(|i| {
                format!(
                    "line {}: {:?} vs {:?}",
                    i + 1,
                    first.lines().nth(i),
                    second.lines().nth(i)
                )
            })
            .or_else(|| {
                (first.len() != second.len()).then(|| "transcripts differ in length".to_owned())
            }))
    }
}

/// The seed to use: `WEFT_SEED` if set, else the given default.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("WEFT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// Every `.toml` file in `dir`, sorted by name.
pub fn scenario_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
