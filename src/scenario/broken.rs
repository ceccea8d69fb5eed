//! An expectation a run broke, as a value: which one, of which host, and what the run
//! did instead; rendered, the line a report prints.

use std::time::Duration;

use crate::host::Stream;
use crate::simnet::HostStatus;
use crate::time::Instant;

/// One expectation of a scenario's `[expect]` that a finished run broke, named by its
/// key, with the host it is about (if any) and what the run did instead.
///
/// Its `Display` is the line [`Outcome::failures`](super::Outcome::failures) holds for
/// it; [`Outcome::broken`](super::Outcome::broken) keeps the values, so a report can
/// tell which hosts broke an expectation without reading the wording.
///
/// ```
/// use weft::scenario::{BrokenExpectation, Scenario};
///
/// let catalogue = weft::programs::catalogue();
/// let scenario = Scenario::parse("strict", r#"
///     [[hosts]]
///     name = "server"
///     program = "pingpong-server"
///     options = { port = 8000 }
///
///     [[hosts]]
///     name = "client"
///     program = "pingpong-client"
///     options = { connect = "server:8000", maximum = 10 }
///
///     [expect]
///     exit = { client = 3 }
/// "#, &catalogue)?;
/// let outcome = scenario.run(&catalogue, 1)?;
/// let broken = &outcome.broken[0];
/// assert_eq!((broken.key(), broken.host()), ("exit", Some("client")));
/// assert_eq!(broken.to_string(), "client exited with 0, expected 3");
/// assert_eq!(outcome.failures, [broken.to_string()]);
/// # Ok::<(), weft::scenario::ScenarioError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokenExpectation {
    /// `exit`: the host did not exit with `want` by the end of a run of `limit` (`got`
    /// is how it ended: another exit, crashed, or still running).
    Exit {
        /// The host.
        host: String,
        /// The exit status expected.
        want: i32,
        /// The host's status at the end of the run.
        got: Option<HostStatus>,
        /// The scenario's duration.
        limit: Duration,
    },
    /// `running`: the host was not running at the end of a run of `limit`.
    Running {
        /// The host.
        host: String,
        /// The host's status at the end of the run.
        got: Option<HostStatus>,
        /// The scenario's duration.
        limit: Duration,
    },
    /// `finish-by`: the awaited exits were not all done by `by`.
    FinishBy {
        /// When they were (or the run stopped).
        finished_at: Instant,
        /// The time expected.
        by: Duration,
    },
    /// `stdout`: the host printed other lines than expected.
    Stdout {
        /// The host.
        host: String,
        /// The lines it printed.
        got: Vec<String>,
        /// The lines expected.
        want: Vec<String>,
    },
    /// `stdout-contains` or `stderr-contains`: no line the host printed on `stream`
    /// contains `want`.
    Contains {
        /// The host.
        host: String,
        /// Which of its outputs.
        stream: Stream,
        /// The text expected in some line.
        want: String,
        /// The lines it printed there.
        got: Vec<String>,
    },
    /// `quiet`: the host printed on stderr.
    Quiet {
        /// The host.
        host: String,
        /// What it printed.
        got: Vec<String>,
    },
    /// `transcript-count`: another number of transcript lines contain `needle`.
    TranscriptCount {
        /// The text counted.
        needle: String,
        /// Lines with it.
        got: usize,
        /// Lines expected with it.
        want: usize,
    },
    /// `transcript-contains`: the transcript lacks `want`.
    TranscriptContains {
        /// The text expected.
        want: String,
    },
    /// `transcript-lacks`: the transcript contains `unwanted`.
    TranscriptLacks {
        /// The text not expected.
        unwanted: String,
    },
}

impl BrokenExpectation {
    /// The host the expectation is about; `None` for the run's (`finish-by`) and the
    /// transcript's.
    pub fn host(&self) -> Option<&str> {
        match self {
            Self::Exit { host, .. }
            | Self::Running { host, .. }
            | Self::Stdout { host, .. }
            | Self::Contains { host, .. }
            | Self::Quiet { host, .. } => Some(host),
            Self::FinishBy { .. }
            | Self::TranscriptCount { .. }
            | Self::TranscriptContains { .. }
            | Self::TranscriptLacks { .. } => None,
        }
    }

    /// The expectation's key in a scenario file's `[expect]`: `exit`, `running`,
    /// `stdout-contains` and so on.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Exit { .. } => "exit",
            Self::Running { .. } => "running",
            Self::FinishBy { .. } => "finish-by",
            Self::Stdout { .. } => "stdout",
            Self::Contains {
                stream: Stream::Stdout,
                ..
            } => "stdout-contains",
            Self::Contains {
                stream: Stream::Stderr,
                ..
            } => "stderr-contains",
            Self::Quiet { .. } => "quiet",
            Self::TranscriptCount { .. } => "transcript-count",
            Self::TranscriptContains { .. } => "transcript-contains",
            Self::TranscriptLacks { .. } => "transcript-lacks",
        }
    }
}

impl std::fmt::Display for BrokenExpectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exit {
                host,
                want,
                got,
                limit,
            } => match got {
                Some(HostStatus::Exited(code)) => {
                    write!(f, "{host} exited with {code}, expected {want}")
                }
                Some(HostStatus::Crashed) => write!(f, "{host} is crashed, expected exit {want}"),
                _ => write!(
                    f,
                    "{host} did not exit within {limit:?} (expected exit {want})"
                ),
            },
            Self::Running { host, got, limit } => match got {
                Some(HostStatus::Exited(code)) => write!(
                    f,
                    "{host} exited with {code}, expected it still running after {limit:?}"
                ),
                _ => write!(f, "{host} is crashed, expected it still running"),
            },
            Self::FinishBy { finished_at, by } => {
                write!(f, "finished at {finished_at}, expected by {by:?}")
            }
            Self::Stdout { host, got, want } => {
                write!(f, "{host} stdout was {got:#?}, expected {want:#?}")
            }
            Self::Contains {
                host,
                stream,
                want,
                got,
            } => write!(f, "{host} {stream:?} lacks {want:?}; it has {got:?}"),
            Self::Quiet { host, got } => write!(f, "{host} printed on stderr: {got:?}"),
            Self::TranscriptCount { needle, got, want } => write!(
                f,
                "transcript has {got} lines with {needle:?}, expected {want}"
            ),
            Self::TranscriptContains { want } => write!(f, "transcript lacks {want:?}"),
            Self::TranscriptLacks { unwanted } => write!(f, "transcript contains {unwanted:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(all: &[&str]) -> Vec<String> {
        all.iter().map(|&l| l.to_owned()).collect()
    }

    #[test]
    fn each_broken_expectation_reads_as_its_failure_line_and_names_its_key_and_host() {
        let limit = Duration::from_secs(10);
        let exit = |got| BrokenExpectation::Exit {
            host: "c".into(),
            want: 0,
            got,
            limit,
        };
        let running = |got| BrokenExpectation::Running {
            host: "s".into(),
            got,
            limit,
        };
        let cases = [
            (
                exit(Some(HostStatus::Exited(2))),
                "c exited with 2, expected 0",
            ),
            (
                exit(Some(HostStatus::Crashed)),
                "c is crashed, expected exit 0",
            ),
            (exit(None), "c did not exit within 10s (expected exit 0)"),
            (
                exit(Some(HostStatus::Running)),
                "c did not exit within 10s (expected exit 0)",
            ),
            (
                running(Some(HostStatus::Exited(1))),
                "s exited with 1, expected it still running after 10s",
            ),
            (
                running(Some(HostStatus::Crashed)),
                "s is crashed, expected it still running",
            ),
            (
                BrokenExpectation::FinishBy {
                    finished_at: Instant::ZERO + Duration::from_millis(1500),
                    by: Duration::from_secs(1),
                },
                "finished at 1.500000, expected by 1s",
            ),
            (
                BrokenExpectation::Stdout {
                    host: "c".into(),
                    got: lines(&["a"]),
                    want: lines(&[]),
                },
                "c stdout was [\n    \"a\",\n], expected []",
            ),
            (
                BrokenExpectation::Contains {
                    host: "c".into(),
                    stream: Stream::Stderr,
                    want: "oops".into(),
                    got: lines(&["fine"]),
                },
                "c Stderr lacks \"oops\"; it has [\"fine\"]",
            ),
            (
                BrokenExpectation::Quiet {
                    host: "c".into(),
                    got: lines(&["warn"]),
                },
                "c printed on stderr: [\"warn\"]",
            ),
            (
                BrokenExpectation::TranscriptCount {
                    needle: "open".into(),
                    got: 1,
                    want: 2,
                },
                "transcript has 1 lines with \"open\", expected 2",
            ),
            (
                BrokenExpectation::TranscriptContains { want: "x".into() },
                "transcript lacks \"x\"",
            ),
            (
                BrokenExpectation::TranscriptLacks {
                    unwanted: "y".into(),
                },
                "transcript contains \"y\"",
            ),
        ];
        for (broken, line) in &cases {
            assert_eq!(broken.to_string(), *line);
        }
        let keys: Vec<(&str, Option<&str>)> =
            (cases.iter().map(|(b, _)| (b.key(), b.host()))).collect();
        assert_eq!(
            keys,
            [
                ("exit", Some("c")),
                ("exit", Some("c")),
                ("exit", Some("c")),
                ("exit", Some("c")),
                ("running", Some("s")),
                ("running", Some("s")),
                ("finish-by", None),
                ("stdout", Some("c")),
                ("stderr-contains", Some("c")),
                ("quiet", Some("c")),
                ("transcript-count", None),
                ("transcript-contains", None),
                ("transcript-lacks", None),
            ]
        );
    }
}
