//! What a scenario expects at the end of a run, and the check.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::BrokenExpectation;
use crate::host::Stream;
use crate::simnet::{Fault, FaultAction, HostStatus, SimNet};
use crate::time::Instant;

/// Expectations, all optional. Hosts named in `exit` are awaited: the run stops once
/// they have all exited.
///
/// A host name with `*` in it is a pattern for every host whose name it matches, `*`
/// standing for any run of characters: `exit = { "client-*" = 0 }` expects each host of a
/// `name = "client"` group to exit 0. Where a host is also named exactly, the exact
/// entry is the one that applies to it.
///
/// ```
/// use weft::scenario::Scenario;
///
/// let scenario = Scenario::parse("group", r#"
///     [[hosts]]
///     name = "server"
///     program = "pingpong-server"
///     options = { port = 8000 }
///
///     [[hosts]]
///     name = "client"
///     count = 3
///     program = "pingpong-client"
///     options = { connect = "server:8000", maximum = 10 }
///
///     [expect]
///     exit = { "client-*" = 0 }
///     quiet = ["*"]
/// "#, &weft::programs::catalogue())?;
/// assert_eq!(scenario.hosts[3].name, "client-3");
/// assert!(scenario.run(&weft::programs::catalogue(), 1)?.passed());
/// # Ok::<(), weft::scenario::ScenarioError>(())
/// ```
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
    /// The hosts whose exits are awaited: every one `exit` names or matches, in the
    /// order of `hosts` (a network's host names).
    pub fn awaited(&self, hosts: &[String]) -> Vec<String> {
        let mut awaited: Vec<String> = (each_host(&self.exit, hosts).into_iter())
            .map(|(host, _)| host.to_owned())
            .collect();
        let place: BTreeMap<&str, usize> = (hosts.iter().enumerate())
            .map(|(i, h)| (h.as_str(), i))
            .collect();
        awaited.sort_by_key(|h| place.get(h.as_str()).copied());
        awaited.dedup();
        awaited
    }

    /// Every host name or pattern these expectations use.
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

    /// The broken expectations of a finished run, one line each: [`broken`](Self::broken)'s,
    /// rendered.
    pub fn check(&self, net: &SimNet, finished_at: Instant, limit: Duration) -> Vec<String> {
        let broken = self.broken(net, finished_at, limit);
        broken.iter().map(ToString::to_string).collect()
    }

    /// The broken expectations of a finished run, in the order of the keys: `exit`,
    /// `running`, `finish-by`, `stdout`, `stdout-contains`, `stderr-contains`, `quiet`,
    /// `transcript-count`, `transcript-contains`, `transcript-lacks`.
    pub fn broken(
        &self,
        net: &SimNet,
        finished_at: Instant,
        limit: Duration,
    ) -> Vec<BrokenExpectation> {
        let names = net.host_names();
        let mut broken = Vec::new();
        for (host, &want) in each_host(&self.exit, names) {
            let got = net.status(host);
            if got != Some(HostStatus::Exited(want)) {
                broken.push(BrokenExpectation::Exit {
                    host: host.to_owned(),
                    want,
                    got,
                    limit,
                });
            }
        }
        for host in &self.running {
            let got = net.status(host);
            if got != Some(HostStatus::Running) {
                broken.push(BrokenExpectation::Running {
                    host: host.clone(),
                    got,
                    limit,
                });
            }
        }
        if let Some(by) = self.finish_by
            && !self.exit.is_empty()
            && finished_at > Instant::ZERO + by
        {
            broken.push(BrokenExpectation::FinishBy { finished_at, by });
        }
        for (host, want) in each_host(&self.stdout, names) {
            let got = net.lines(host, Stream::Stdout);
            if got != *want {
                broken.push(BrokenExpectation::Stdout {
                    host: host.to_owned(),
                    got: owned(&got),
                    want: want.clone(),
                });
            }
        }
        let lacking = |stream, host: &str, wanted: &[String], broken: &mut Vec<_>| {
            let got = net.lines(host, stream);
            for want in wanted {
                if !got.iter().any(|line| line.contains(want.as_str())) {
                    broken.push(BrokenExpectation::Contains {
                        host: host.to_owned(),
                        stream,
                        want: want.clone(),
                        got: owned(&got),
                    });
                }
            }
        };
        for (host, wanted) in each_host(&self.stdout_contains, names) {
            lacking(Stream::Stdout, host, wanted, &mut broken);
        }
        for (host, wanted) in each_host(&self.stderr_contains, names) {
            lacking(Stream::Stderr, host, wanted, &mut broken);
        }
        let quiet: BTreeMap<String, ()> = self.quiet.iter().map(|h| (h.clone(), ())).collect();
        for (host, ()) in each_host(&quiet, names) {
            let got = net.lines(host, Stream::Stderr);
            if !got.is_empty() {
                broken.push(BrokenExpectation::Quiet {
                    host: host.to_owned(),
                    got: owned(&got),
                });
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
                    broken.push(BrokenExpectation::TranscriptCount {
                        needle: needle.clone(),
                        got,
                        want,
                    });
                }
            }
            for want in &self.transcript_contains {
                if !text.contains(want.as_str()) {
                    broken.push(BrokenExpectation::TranscriptContains { want: want.clone() });
                }
            }
            for unwanted in &self.transcript_lacks {
                if text.contains(unwanted.as_str()) {
                    broken.push(BrokenExpectation::TranscriptLacks {
                        unwanted: unwanted.clone(),
                    });
                }
            }
        }
        broken
    }
}

/// Output lines, kept.
fn owned(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|&line| line.to_owned()).collect()
}

/// Whether a host name in an expectation is a pattern.
pub(super) fn is_pattern(name: &str) -> bool {
    name.contains('*')
}

/// Whether `name` matches `pattern`, whose every `*` stands for any run of characters.
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    // Taking each middle part at its first place leaves the most room for the rest.
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Each host an expectation map applies to, with its value: an exact name as itself,
/// a pattern as every host in `hosts` it matches that no exact key names, in their order.
fn each_host<'a, V>(map: &'a BTreeMap<String, V>, hosts: &'a [String]) -> Vec<(&'a str, &'a V)> {
    let mut out = Vec::new();
    for (key, value) in map {
        if is_pattern(key) {
            out.extend(
                (hosts.iter())
                    .filter(|h| !map.contains_key(h.as_str()) && matches(key, h))
                    .map(|h| (h.as_str(), value)),
            );
        } else {
            out.push((key.as_str(), value));
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_matches_any_run_of_characters() {
        for (pattern, name) in [
            ("client-*", "client-1"),
            ("client-*", "client-"),
            ("*", "server"),
            ("*-1", "client-1"),
            ("c*t-*9", "client-1999"),
            ("a*a", "aa"),
        ] {
            assert!(matches(pattern, name), "{pattern} {name}");
        }
        for (pattern, name) in [
            ("client-*", "client"),
            ("client-*", "server-1"),
            ("*-1", "client-10"),
            ("a*a", "a"),
            ("c*x*t", "client"),
        ] {
            assert!(!matches(pattern, name), "{pattern} {name}");
        }
    }

    #[test]
    fn an_exact_name_wins_over_a_pattern_and_patterns_follow_the_host_order() {
        let hosts: Vec<String> = ["s", "c-2", "c-1", "c-3"].map(String::from).to_vec();
        let exit: BTreeMap<String, i32> = [("c-*".to_owned(), 0), ("c-3".to_owned(), 1)].into();
        let got: Vec<(&str, i32)> = (each_host(&exit, &hosts).into_iter())
            .map(|(h, &v)| (h, v))
            .collect();
        assert_eq!(got, [("c-2", 0), ("c-1", 0), ("c-3", 1)]);
        let expect = Expect {
            exit,
            ..Expect::default()
        };
        assert_eq!(expect.awaited(&hosts), ["c-2", "c-1", "c-3"]);
    }
}
