//! Scenario files: one reproducible network scenario per TOML file in `sim/`.
//!
//! A scenario names its hosts and the program each runs (with options), the network's
//! settings, a fault schedule (scripted, seeded, frame-triggered), a default seed, and
//! what must hold at the end (exit codes, output lines, transcript lines, a deadline).
//! It is a front end only: [`Scenario::network`] turns it into a
//! [`SimNet`](crate::simnet::SimNet) through the same builder API a Rust test would use.
//!
//! The programs a host can name come from a [`Catalogue`]: weft's built-ins are
//! [`weft::programs::catalogue()`](crate::programs::catalogue), and a crate adds its own
//! through the same API. Everything that reads or runs a scenario takes the catalogue:
//!
//! ```
//! use weft::scenario::{Scenario, shrink};
//!
//! let catalogue = weft::programs::catalogue();
//! let scenario = Scenario::load("sim/pingpong.toml".as_ref(), &catalogue)?;
//! assert!(scenario.run(&catalogue, 42)?.passed());
//! assert_eq!(scenario.check_determinism(&catalogue, 42)?, None);
//! assert!(shrink(&catalogue, &scenario, 42)?.is_none(), "a passing run has nothing to shrink");
//! # Ok::<(), weft::scenario::ScenarioError>(())
//! ```
//!
//! A crate's `cargo test` runs a folder of them with [`assert_scenarios!`](crate::assert_scenarios)
//! and a [`ScenarioFolder`]; its binary gets the `sim` command line from
//! [`weft::cli::main`](crate::cli::main).
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
//!
//! ## Limits
//!
//! No file can make a run go on without end. Three caps, each set in `[limits]`, stop a
//! runaway with an error that names the cap and its key ([`RunawayError`]):
//!
//! | key | default | stops |
//! |---|---|---|
//! | `max-events` | 1,000,000 | a run past that many events (a retry loop over a huge `duration`) |
//! | `max-events-per-instant` | 100,000 | that many events in a row without virtual time moving (ping-pong over a zero latency), naming the hosts involved |
//! | `max-faults` | 100,000 | `[random-faults]` expanding into more faults (`partition-every = "1ns"`) |
//!
//! A run stopped by `max-events` or `max-events-per-instant` is a failed run
//! ([`Outcome::stopped`]); too many faults is a [`ScenarioError::Runaway`] before the run
//! starts. The defaults stop a runaway within seconds and well under 500 MB, and leave
//! the scenarios in `sim/` (at most a few hundred events each) far from any cap:
//!
//! ```toml
//! [limits]
//! max-events = 5000000
//! max-events-per-instant = 100000
//! max-faults = 100000
//! ```
//!
//! Durations are written `500ns`, `10us`, `150ms`, `1.5s`, `2m`, `1h`, or as a number of
//! seconds, up to 10^12 s; negative ones are refused.

mod broken;
mod catalogue;
mod expect;
mod folder;
mod groups;
mod run;
mod shrink;
mod validate;
mod words;

pub use broken::BrokenExpectation;
pub use catalogue::{
    Catalogue, Constructor, NoOptions, OptionDoc, ProgramError, ProgramOptions,
    assert_options_listed, options_listing_problems,
};
pub use expect::Expect;
pub use folder::{FolderReport, ScenarioFolder};
pub(crate) use run::{Divergence, in_run};
pub use run::{Outcome, PanicReport, Recording};
pub use shrink::{ShrinkReport, shrink};
pub(crate) use words::in_file_words;

/// A TOML table, the type of a host's `options` (re-exported from the `toml` crate, so a
/// crate that builds scenarios in Rust needs no dependency of its own on it).
pub use toml::Table;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::simnet::{
    Fault, Latency, Limits, NetConfig, RandomFaults, RunawayError, human_duration,
};

/// As many hosts as the default network, 10.0.0.0/16, has addresses.
const MAX_HOSTS: usize = 65_534;

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
    #[error("{name}: {}", words::in_file_words(&source.to_string()))]
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
    /// `[random-faults]` would generate more faults than `[limits] max-faults`.
    #[error("{name}: {source}")]
    Runaway {
        /// Which scenario.
        name: String,
        /// Which cap, and its key.
        source: RunawayError,
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
    /// Which program it runs: a name registered in the [`Catalogue`].
    pub program: String,
    /// The program's options.
    #[serde(default)]
    pub options: Table,
    /// Its address. Without one, a host takes the address of its place in the list in
    /// [`Subnet::DEFAULT`](crate::simnet::Subnet::DEFAULT): the first 10.0.0.1, the
    /// 255th 10.0.0.255, the 256th 10.0.1.0, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
}

impl HostSpec {
    /// A fresh instance of this host's program from `catalogue`, ready for any driver:
    /// what SimNet runs for it, and what a test can run on turmoil or real TCP to compare.
    pub fn node(&self, catalogue: &Catalogue) -> Result<Box<dyn crate::host::Node>, ProgramError> {
        catalogue
            .prepare(&self.program, &self.options)
            .map(|make| make())
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
    #[serde(default = "default_seed", deserialize_with = "seed_value")]
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
    /// The hosts, one entry each: a file's groups (`count`) are expanded when it is
    /// read, and written back as groups.
    #[serde(
        default,
        deserialize_with = "groups::expand",
        serialize_with = "groups::regroup"
    )]
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
    /// Caps on the run: events, events at one instant, generated faults.
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
}

fn default_seed() -> u64 {
    DEFAULT_SEED
}

/// Reads a seed, saying its range in words when it is out of it.
fn seed_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a seed: a whole number from 0 to 18446744073709551615")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            self.visit_i128(v.into())
        }
        fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(format!(
                    "seed {v} is out of range: a seed is a whole number from 0 to 18446744073709551615"
                ))
            })
        }
        fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(format!(
                    "seed {v} is out of range: a seed is a whole number from 0 to 18446744073709551615"
                ))
            })
        }
    }
    d.deserialize_any(Visitor)
}

fn default_duration() -> Duration {
    Duration::from_secs(60)
}

/// The name a scenario gets from its file: the file's stem.
pub(crate) fn name_of_file(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn default_linger() -> Duration {
    Duration::from_secs(1)
}

fn default_log_level() -> String {
    "info".to_owned()
}

impl Scenario {
    /// Reads a scenario file and checks it against `catalogue`.
    pub fn load(path: &Path, catalogue: &Catalogue) -> Result<Self, ScenarioError> {
        let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_file(path, &bytes, catalogue)
    }

    /// [`load`](Self::load) of a file already read: `bytes` are its contents.
    pub(crate) fn from_file(
        path: &Path,
        bytes: &[u8],
        catalogue: &Catalogue,
    ) -> Result<Self, ScenarioError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ScenarioError::Read {
            path: path.to_owned(),
            // What `read_to_string` says of such a file.
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ),
        })?;
        Self::parse(&name_of_file(path), text, catalogue)
    }

    /// Parses scenario text and checks it against `catalogue`: every host's program
    /// must be registered there and its options must parse and pass their check.
    /// `name` labels errors and the result.
    pub fn parse(name: &str, text: &str, catalogue: &Catalogue) -> Result<Self, ScenarioError> {
        let mut scenario: Self = toml::from_str(text).map_err(|source| ScenarioError::Parse {
            name: name.to_owned(),
            source: Box::new(source),
        })?;
        scenario.name = name.to_owned();
        scenario.validate(catalogue)?;
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

    /// Checks the scenario against `catalogue` (done by [`parse`](Self::parse); call it
    /// again after editing a scenario in code).
    pub fn validate(&self, catalogue: &Catalogue) -> Result<(), ScenarioError> {
        validate::check(self, catalogue)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_once_parses_and_is_refused_as_load_would() {
        let catalogue = crate::programs::catalogue();
        let dir = std::env::temp_dir().join(format!("weft-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        let good = std::fs::read("sim/pingpong.toml").expect("a scenario");
        for (file, bytes) in [
            ("pingpong.toml", &good[..]),
            ("latin-1.toml", b"# caf\xe9\n"),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, bytes).expect("written");
            let loaded = Scenario::load(&path, &catalogue).map(|s| s.to_toml());
            let read = Scenario::from_file(&path, bytes, &catalogue).map(|s| s.to_toml());
            match (loaded, read) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{file}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{file}"),
                (a, b) => panic!("{file}: load {a:?} but from_file {b:?}"),
            }
        }
        let refused = Scenario::from_file(&dir.join("latin-1.toml"), b"\xe9", &catalogue)
            .expect_err("not UTF-8");
        assert!(refused.to_string().contains("valid UTF-8"), "{refused}");
        assert_eq!(name_of_file(Path::new("sim/pingpong.toml")), "pingpong");
        let _ = std::fs::remove_dir_all(dir);
    }
}
