//! Running a scenario: building its network from a catalogue, running it, catching a
//! program's panic as the run's failure, and checking determinism.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{BrokenExpectation, Catalogue, Scenario, ScenarioError};
use crate::host::Stream;
use crate::simnet::{RunawayError, SimNet};
use crate::testing::{LifecycleLedger, Transcript, logs};
use crate::time::Instant;

/// What one run of a scenario produced.
#[derive(Debug)]
pub struct Outcome {
    /// The seed it ran with.
    pub seed: u64,
    /// Broken expectations (or the panic), one line each; empty means the run passed.
    pub failures: Vec<String>,
    /// The broken expectations as values, in the order of their lines in `failures`
    /// (which go on with any `connections-end-once` violation); empty when a panic or a
    /// limit stopped the run.
    pub broken: Vec<BrokenExpectation>,
    /// A program panicked and the run stopped there.
    pub panic: Option<PanicReport>,
    /// One of the scenario's `[limits]` stopped the run there.
    pub stopped: Option<RunawayError>,
    /// Everything that happened (up to the panic, if one stopped the run).
    pub transcript: Transcript,
    /// Exit status per host (`None`: still running or crashed at the end).
    pub exit_codes: BTreeMap<String, Option<i32>>,
    /// Output lines per host.
    pub output: BTreeMap<String, Vec<(Stream, String)>>,
    /// When the awaited hosts had all exited (or the run stopped).
    pub finished_at: Instant,
    /// Events processed.
    pub events: u64,
    /// The digest of the run's event stream, if the [`Recording`] asked for one.
    pub digest: Option<u64>,
}

/// What a run keeps of what happened (see [`Scenario::run_recording`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Recording {
    /// Keep the transcript. Recorded regardless when the scenario's expectations
    /// read it (`transcript-contains` and the like).
    pub transcript: bool,
    /// Keep a running digest of the events ([`SimNet::digest_events`]).
    pub digest: bool,
}

impl Recording {
    /// The transcript, no digest: what [`Scenario::run`] keeps.
    pub const TRANSCRIPT: Self = Self {
        transcript: true,
        digest: false,
    };
    /// Only the digest (and the transcript if the expectations read it): enough for a
    /// verdict and a determinism check.
    pub const DIGEST: Self = Self {
        transcript: false,
        digest: true,
    };
}

impl Outcome {
    /// Whether every expectation held (and nothing panicked).
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A panic inside a program, caught: the run is a failure, the sweep goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanicReport {
    /// The host whose program panicked (`None` if the panic was outside any program).
    pub host: Option<String>,
    /// The virtual time of the panic.
    pub at: Instant,
    /// The panic's message.
    pub message: String,
}

impl std::fmt::Display for PanicReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Some(host) => write!(
                f,
                "host {host:?} panicked at {} s: {}",
                self.at, self.message
            ),
            None => write!(f, "the run panicked at {} s: {}", self.at, self.message),
        }
    }
}

thread_local! {
    /// Set while this thread runs a scenario, so a panic hook can stay quiet about
    /// panics that the run catches and reports itself.
    static IN_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread is inside a scenario run (whose panics are caught).
pub(crate) fn in_run() -> bool {
    IN_RUN.with(std::cell::Cell::get)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

impl Scenario {
    /// The faults this scenario applies with `seed`: the scripted ones, plus the seeded
    /// ones expanded (an error if those pass `[limits] max-faults`).
    pub fn fault_schedule(&self, seed: u64) -> Result<Vec<crate::simnet::Fault>, ScenarioError> {
        let mut faults = self.faults.clone();
        if let Some(random) = &self.random_faults {
            let names: Vec<String> = self.hosts.iter().map(|h| h.name.clone()).collect();
            let room = self.limits.max_faults.saturating_sub(faults.len());
            let expanded =
                random
                    .expand(seed, &names, room)
                    .map_err(|source| ScenarioError::Runaway {
                        name: self.name.clone(),
                        source,
                    })?;
            faults.extend(expanded);
        }
        Ok(faults)
    }

    /// Builds the network for a run with `seed`, its hosts' programs from `catalogue`.
    pub fn network(&self, catalogue: &Catalogue, seed: u64) -> Result<SimNet, ScenarioError> {
        self.watched_network(catalogue, seed, None)
    }

    /// [`network`](Self::network), with every host's program watched by `ledger`.
    fn watched_network(
        &self,
        catalogue: &Catalogue,
        seed: u64,
        ledger: Option<&LifecycleLedger>,
    ) -> Result<SimNet, ScenarioError> {
        let mut net = SimNet::new(self.network.clone(), seed).with_limits(self.limits);
        if let Ok(level) = self.log_level.parse::<tracing::Level>() {
            net = net.capture_logs(level);
        }
        for host in &self.hosts {
            let make = catalogue
                .prepare(&host.program, &host.options)
                .map_err(|source| ScenarioError::Program {
                    name: self.name.clone(),
                    host: host.name.clone(),
                    source,
                })?;
            let (name, ledger) = (host.name.clone(), ledger.cloned());
            let factory = move || match &ledger {
                Some(ledger) => ledger.watch(&name, make()),
                None => make(),
            };
            match host.ip {
                Some(ip) => net.add_host_at(&host.name, ip, factory),
                None => net.add_host(&host.name, factory),
            };
        }
        for link in &self.links {
            net.set_latency(&link.a, &link.b, link.latency.clone());
        }
        for fault in self.fault_schedule(seed)? {
            net.add_fault(fault);
        }
        Ok(net)
    }

    /// Runs the scenario once with `seed` and checks its expectations. A panic in a
    /// program ends the run and is its failure ([`Outcome::panic`]).
    ///
    /// ```
    /// use weft::scenario::Scenario;
    ///
    /// let catalogue = weft::programs::catalogue();
    /// let scenario = Scenario::load("sim/pingpong.toml".as_ref(), &catalogue)?;
    /// let outcome = scenario.run(&catalogue, scenario.seed)?;
    /// assert!(outcome.passed(), "{:?}", outcome.failures);
    /// # Ok::<(), weft::scenario::ScenarioError>(())
    /// ```
    pub fn run(&self, catalogue: &Catalogue, seed: u64) -> Result<Outcome, ScenarioError> {
        self.run_recording(catalogue, seed, Recording::TRANSCRIPT)
    }

    /// Whether checking the expectations reads the transcript.
    fn expectations_read_transcript(&self) -> bool {
        let expect = &self.expect;
        !expect.transcript_contains.is_empty()
            || !expect.transcript_lacks.is_empty()
            || !expect.transcript_count.is_empty()
    }

    /// [`run`](Self::run), keeping only what `recording` asks for: a sweep that needs
    /// a verdict and a digest pays for no transcript.
    ///
    /// ```
    /// use weft::scenario::{Recording, Scenario};
    ///
    /// let catalogue = weft::programs::catalogue();
    /// let scenario = Scenario::load("sim/pingpong.toml".as_ref(), &catalogue)?;
    /// let quick = scenario.run_recording(&catalogue, 3, Recording::DIGEST)?;
    /// let again = scenario.run_recording(&catalogue, 3, Recording::DIGEST)?;
    /// assert!(quick.passed());
    /// assert_eq!(quick.digest, again.digest);
    /// # Ok::<(), weft::scenario::ScenarioError>(())
    /// ```
    pub fn run_recording(
        &self,
        catalogue: &Catalogue,
        seed: u64,
        recording: Recording,
    ) -> Result<Outcome, ScenarioError> {
        let ledger = self.expect.connections_end_once.then(LifecycleLedger::new);
        let mut net = self.watched_network(catalogue, seed, ledger.as_ref())?;
        if !recording.transcript && !self.expectations_read_transcript() {
            net = net.without_transcript();
        }
        if recording.digest {
            net = net.digest_events();
        }
        let (finished_at, panic) = match self.drive(&mut net) {
            Ok(finished_at) => (finished_at, None),
            Err(panic) => (panic.at, Some(panic)),
        };
        let stopped = net.runaway().cloned();
        let mut failures = Vec::new();
        let mut broken = Vec::new();
        match (&panic, &stopped) {
            (Some(panic), _) => failures.push(panic.to_string()),
            (None, Some(stopped)) => failures.push(format!("stopped: {stopped}")),
            (None, None) => {
                broken = self.expect.broken(&net, finished_at, self.duration);
                failures = broken.iter().map(ToString::to_string).collect();
                failures.extend(ledger.iter().flat_map(|l| l.violations(&net)));
            }
        }
        let names = net.host_names().to_vec();
        Ok(Outcome {
            seed,
            failures,
            broken,
            panic,
            stopped,
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
            digest: net.event_digest(),
            transcript: net.take_transcript(),
        })
    }

    /// Builds the network for `seed` and runs it: until the awaited hosts have exited
    /// (plus the linger) or the time limit. Returns it with the time the awaited hosts
    /// had all exited (or the run stopped). No expectation is checked, and a program's
    /// panic is not caught.
    pub fn simulate(
        &self,
        catalogue: &Catalogue,
        seed: u64,
    ) -> Result<(SimNet, Instant), ScenarioError> {
        let mut net = self.network(catalogue, seed)?;
        let finished_at = self.drive_uncaught(&mut net);
        Ok((net, finished_at))
    }

    /// Runs `net` as the scenario says, catching a program's panic.
    fn drive(&self, net: &mut SimNet) -> Result<Instant, PanicReport> {
        let was_in_run = IN_RUN.with(|flag| flag.replace(true));
        let result = catch_unwind(AssertUnwindSafe(|| self.drive_uncaught(net)));
        IN_RUN.with(|flag| flag.set(was_in_run));
        result.map_err(|payload| {
            // Lines the program logged before it panicked were never collected; they
            // must not leak into the next run on this thread.
            drop(logs::take_lines());
            PanicReport {
                host: net.host_in_call().map(str::to_owned),
                at: net.now(),
                message: panic_message(payload.as_ref()),
            }
        })
    }

    fn drive_uncaught(&self, net: &mut SimNet) -> Instant {
        let awaited = self.expect.awaited(net.host_names());
        let awaited: Vec<&str> = awaited.iter().map(String::as_str).collect();
        if awaited.is_empty() {
            net.run_until(Instant::ZERO + self.duration);
            net.now()
        } else {
            net.run_until_exit(&awaited, self.duration);
            let exited = net.now();
            if net.runaway().is_none() {
                net.run_for(self.linger);
            }
            exited
        }
    }

    /// Runs twice with `seed` and compares digests of the two event streams. Only if
    /// they differ does it run twice more with transcripts, to return the first line
    /// where those differ (line number and both lines), or a note that only the
    /// digests did.
    pub fn check_determinism(
        &self,
        catalogue: &Catalogue,
        seed: u64,
    ) -> Result<Option<String>, ScenarioError> {
        let first = self
            .run_recording(catalogue, seed, Recording::DIGEST)?
            .digest;
        let divergence = self.diverges_from(catalogue, seed, first)?;
        Ok(divergence.map(|d| d.to_string()))
    }

    /// Runs `seed` again with a digest and compares it with `first` (a digest run's).
    /// If they differ, runs twice more with transcripts, for where. The determinism
    /// check of [`check_determinism`](Self::check_determinism) and of a sweep.
    pub(crate) fn diverges_from(
        &self,
        catalogue: &Catalogue,
        seed: u64,
        first: Option<u64>,
    ) -> Result<Option<Divergence>, ScenarioError> {
        let again = self
            .run_recording(catalogue, seed, Recording::DIGEST)?
            .digest;
        if again == first {
            return Ok(None);
        }
        let one = self.run(catalogue, seed)?.transcript.render();
        let two = self.run(catalogue, seed)?.transcript.render();
        Ok(Some(
            first_difference(&one, &two).unwrap_or(Divergence::DigestsOnly),
        ))
    }
}

/// How two runs with one seed parted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Divergence {
    /// Their transcripts first differ at this line (from 1); `None` past a
    /// transcript's end.
    Line {
        number: usize,
        first: Option<String>,
        second: Option<String>,
    },
    /// Their event streams' digests differed, but two more runs with transcripts
    /// agreed (state that outlives a run changes at some runs only).
    DigestsOnly,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Line {
                number,
                first,
                second,
            } => write!(f, "line {number}: {first:?} vs {second:?}"),
            Self::DigestsOnly => f.write_str(
                "event streams differ (their digests do), though two more runs with \
                 transcripts agreed",
            ),
        }
    }
}

/// Where two rendered transcripts first differ, if they do.
pub(crate) fn first_difference(first: &str, second: &str) -> Option<Divergence> {
    if first == second {
        return None;
    }
    let (mut one, mut two) = (first.lines(), second.lines());
    let mut number = 1;
    loop {
        match (one.next(), two.next()) {
            (Some(a), Some(b)) if a == b => number += 1,
            // Rendered lines all end in a newline, so equal lines make equal texts; a
            // pair of `None` cannot be reached, and would still say where.
            (a, b) => {
                return Some(Divergence::Line {
                    number,
                    first: a.map(str::to_owned),
                    second: b.map(str::to_owned),
                });
            }
        }
    }
}
