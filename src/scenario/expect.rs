//! What a scenario expects at the end of a run, and the check.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::host::Stream;
use crate::simnet::{Fault, FaultAction, HostStatus, SimNet};
use crate::time::Instant;

/// Expectations, all optional. Hosts named in `exit` are awaited: the run stops once
/// they have all exited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Expect {
    /// Exit status per host.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exit: BTreeMap<String, i32>,
    /// Exactly these stdout lines, per host.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stdout: BTreeMap<String, Vec<String>>,
    /// Stdout lines that must appear (as substrings of some line), per host.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stdout_contains: BTreeMap<String, Vec<String>>,
    /// Stderr lines that must appear (as substrings), per host.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stderr_contains: BTreeMap<String, Vec<String>>,
    /// Hosts that must print nothing on stderr.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiet: Vec<String>,
    /// The awaited exits must all have happened by this virtual time.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::simnet::opt_human_duration"
    )]
    pub finish_by: Option<Duration>,
    /// Substrings that must appear in the rendered transcript.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript_contains: Vec<String>,
    /// Substrings that must not appear in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript_lacks: Vec<String>,
    /// Exactly how many transcript lines contain each substring.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transcript_count: BTreeMap<String, usize>,
    /// Hosts that must still be running at the end of the run: neither exited nor
    /// crashed (client 3.0 waiting forever on a failed server). A host cannot be both
    /// here and in `exit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<String>,
    /// Every connect ends exactly once and every connection is lost at most once, as
    /// [`LifecycleLedger`](crate::testing::LifecycleLedger) checks: promises that hold
    /// whatever faults land, so the schedule fuzzer writes its failures with this.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub connections_end_once: bool,
}

impl Expect {
    /// Every host these expectations name.
    pub(super) fn hosts(&self) -> impl Iterator<Item = &str> {
        self.exit
            .keys()
            .chain(self.stdout.keys())
            .chain(self.stdout_contains.keys())
            .chain(self.stderr_contains.keys())
            .chain(&self.quiet)
            .chain(&self.running)
            .map(String::as_str)
    }

    /// The broken expectations of a finished run, one line each.
    pub fn check(&self, net: &SimNet, finished_at: Instant, limit: Duration) -> Vec<String> {
        let mut failures = Vec::new();
        for (host, &want) in &self.exit {
            match net.status(host) {
                Some(HostStatus::Exited(code)) if code == want => {}
                Some(HostStatus::Exited(code)) => {
                    failures.push(format!("{host} exited with {code}, expected {want}"));
                }
                Some(HostStatus::Crashed) => {
                    failures.push(format!("{host} is crashed, expected exit {want}"))
                }
                _ => failures.push(format!(
                    "{host} did not exit within {limit:?} (expected exit {want})"
                )),
            }
        }
        for host in &self.running {
            match net.status(host) {
                Some(HostStatus::Running) => {}
                Some(HostStatus::Exited(code)) => failures.push(format!(
                    "{host} exited with {code}, expected it still running after {limit:?}"
                )),
                _ => failures.push(format!("{host} is crashed, expected it still running")),
            }
        }
        if let Some(by) = self.finish_by
            && !self.exit.is_empty()
            && finished_at > Instant::ZERO + by
        {
            failures.push(format!("finished at {finished_at}, expected by {by:?}"));
        }
        for (host, want) in &self.stdout {
            let got = net.lines(host, Stream::Stdout);
            if got != *want {
                failures.push(format!("{host} stdout was {got:#?}, expected {want:#?}"));
            }
        }
        let missing = |stream, host: &str, wanted: &[String], failures: &mut Vec<String>| {
            let got = net.lines(host, stream);
            for want in wanted {
                if !got.iter().any(|line| line.contains(want.as_str())) {
                    failures.push(format!("{host} {stream:?} lacks {want:?}; it has {got:?}"));
                }
            }
        };
        for (host, wanted) in &self.stdout_contains {
            missing(Stream::Stdout, host, wanted, &mut failures);
        }
        for (host, wanted) in &self.stderr_contains {
            missing(Stream::Stderr, host, wanted, &mut failures);
        }
        for host in &self.quiet {
            let got = net.lines(host, Stream::Stderr);
            if !got.is_empty() {
                failures.push(format!("{host} printed on stderr: {got:?}"));
            }
        }
        let needs_text = !self.transcript_contains.is_empty()
            || !self.transcript_lacks.is_empty()
            || !self.transcript_count.is_empty();
        if needs_text {
            let text = net.transcript().render();
            for (needle, &want) in &self.transcript_count {
                let got = text.lines().filter(|l| l.contains(needle.as_str())).count();
                if got != want {
                    failures.push(format!(
                        "transcript has {got} lines with {needle:?}, expected {want}"
                    ));
                }
            }
            for want in &self.transcript_contains {
                if !text.contains(want.as_str()) {
                    failures.push(format!("transcript lacks {want:?}"));
                }
            }
            for unwanted in &self.transcript_lacks {
                if text.contains(unwanted.as_str()) {
                    failures.push(format!("transcript contains {unwanted:?}"));
                }
            }
        }
        failures
    }
}

/// Hosts a fault names.
pub(super) fn fault_hosts(fault: &Fault) -> Vec<&str> {
    let mut hosts = match &fault.action {
        FaultAction::Partition(p) => vec![p.a.as_str(), p.b.as_str()],
        FaultAction::Heal(b) => vec![b.a.as_str(), b.b.as_str()],
        FaultAction::Crash(h) | FaultAction::Restart(h) => vec![h.as_str()],
        FaultAction::Reset(r) => vec![r.host.as_str()],
        FaultAction::Latency(l) => l.a.iter().chain(&l.b).map(String::as_str).collect(),
        FaultAction::ClockJump(j) => vec![j.host.as_str()],
    };
    if let Some(t) = &fault.after {
        hosts.extend([t.from.as_str(), t.to.as_str()]);
    }
    hosts
}
