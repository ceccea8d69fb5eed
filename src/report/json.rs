//! A run's transcript as JSON lines: one event per line, in the transcript's order,
//! then one line with the run's result.
//!
//! # Schema
//!
//! Every event line is an object with these keys:
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `kind` | string | `open`, `data`, `discarded`, `eof`, `lost`, `connect-failed`, `paused`, `resumed`, `stopped`, `timer`, `fault` or `line` |
//! | `at_ns` | integer | virtual time in nanoseconds since the run started |
//! | `who` | string | the transcript's `who` column: `net`, `HOST`, `HOST:PORT` or `FROM > TO` |
//! | `from`, `to` | string | for `data` and `eof`: the sending and the reading end, `HOST:PORT` |
//! | `len` | integer | for `data` and `discarded`: the byte count |
//! | `data` | string | for `data`: the bytes, escaped as Rust's `escape_ascii` does (`\n`, `\t`, `\\`, `\"`, `\xNN`), which is lossless |
//! | `reason` | string | for `lost`: `clean`, `reset`, `aborted` or `timed-out` |
//! | `text` | string | for `connect-failed` (the error), `timer` (its name), `fault` (its description) and `line` (the output or log line) |
//!
//! The last line has `kind` `result` and the keys `scenario`, `seed`, `passed` (bool)
//! and `failures` (an array of strings).
//!
//! ```
//! use weft::report::json;
//! use weft::testing::{EventKind, Transcript};
//! use weft::time::Instant;
//!
//! let mut t = Transcript::new();
//! t.record(Instant::from_millis(5), "a:1 > b:2", EventKind::Data(b"hi\n".to_vec().into()));
//! let mut out = Vec::new();
//! json::events(&t, &mut out).unwrap();
//! assert_eq!(
//!     String::from_utf8(out).unwrap(),
//!     "{\"kind\":\"data\",\"at_ns\":5000000,\"who\":\"a:1 > b:2\",\"from\":\"a:1\",\"to\":\"b:2\",\"len\":3,\"data\":\"hi\\\\n\"}\n"
//! );
//! ```

use std::io::{self, Write};

use serde::Serialize;

use super::RunInfo;
use super::timeline::Subject;
use crate::testing::{Event, EventKind, Transcript};
use crate::transport::Disconnect;

/// One event line.
#[derive(Serialize)]
struct EventLine<'a> {
    kind: &'static str,
    at_ns: u64,
    who: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    len: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

/// The result line.
#[derive(Serialize)]
struct ResultLine<'a> {
    kind: &'static str,
    scenario: &'a str,
    seed: u64,
    passed: bool,
    failures: &'a [String],
}

/// The name of a disconnect reason in the JSON schema.
pub fn reason_name(reason: Disconnect) -> &'static str {
    match reason {
        Disconnect::Clean => "clean",
        Disconnect::Reset => "reset",
        Disconnect::Aborted => "aborted",
        Disconnect::TimedOut => "timed-out",
    }
}

fn line(event: &Event) -> EventLine<'_> {
    let mut line = EventLine {
        kind: "",
        at_ns: event.at.as_nanos(),
        who: &event.who,
        from: None,
        to: None,
        len: None,
        data: None,
        reason: None,
        text: None,
    };
    if let EventKind::Data(_) | EventKind::Eof = event.what
        && let Subject::Direction { from, to } = Subject::parse(&event.who)
    {
        line.from = Some(from.to_string());
        line.to = Some(to.to_string());
    }
    line.kind = match &event.what {
        EventKind::Open => "open",
        EventKind::Data(bytes) => {
            line.len = Some(bytes.len());
            line.data = Some(bytes.escape_ascii().to_string());
            "data"
        }
        EventKind::Discarded(n) => {
            line.len = Some(*n);
            "discarded"
        }
        EventKind::Eof => "eof",
        EventKind::Lost(reason) => {
            line.reason = Some(reason_name(*reason));
            "lost"
        }
        EventKind::ConnectFailed(error) => {
            line.text = Some(error);
            "connect-failed"
        }
        EventKind::Paused => "paused",
        EventKind::Resumed => "resumed",
        EventKind::Stopped => "stopped",
        EventKind::Timer(name) => {
            line.text = Some(name);
            "timer"
        }
        EventKind::Fault(what) => {
            line.text = Some(what);
            "fault"
        }
        EventKind::Line(text) => {
            line.text = Some(text);
            "line"
        }
    };
    line
}

/// Writes every event of `transcript` as one JSON line.
pub fn events(transcript: &Transcript, mut out: impl Write) -> io::Result<()> {
    for event in transcript.events() {
        serde_json::to_writer(&mut out, &line(event))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes the events, then the result line of the run `info` describes.
pub fn run(transcript: &Transcript, info: &RunInfo, mut out: impl Write) -> io::Result<()> {
    events(transcript, &mut out)?;
    let result = ResultLine {
        kind: "result",
        scenario: &info.scenario,
        seed: info.seed,
        passed: info.failures.is_empty(),
        failures: &info.failures,
    };
    serde_json::to_writer(&mut out, &result)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    #[test]
    fn every_event_is_one_line_and_the_result_comes_last() {
        let mut t = Transcript::new();
        t.record(Instant::ZERO, "b:9", EventKind::Open);
        t.record(Instant::ZERO, "net", EventKind::Fault("crash b".into()));
        t.record(
            Instant::from_secs(1),
            "b:9",
            EventKind::Lost(Disconnect::TimedOut),
        );
        t.record(
            Instant::from_secs(1),
            "b",
            EventKind::Line("out: \"quoted\"\nx".into()),
        );
        let info = RunInfo {
            scenario: "s".into(),
            description: String::new(),
            seed: 7,
            hosts: Vec::new(),
            failures: vec!["exit of b: expected 0".into()],
        };
        let mut out = Vec::new();
        run(&t, &info, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1]["kind"], "fault");
        assert_eq!(lines[1]["text"], "crash b");
        assert_eq!(lines[2]["reason"], "timed-out");
        assert_eq!(lines[2]["at_ns"], 1_000_000_000u64);
        assert_eq!(lines[3]["text"], "out: \"quoted\"\nx");
        assert_eq!(lines[4]["kind"], "result");
        assert_eq!(lines[4]["passed"], false);
        assert_eq!(lines[4]["failures"][0], "exit of b: expected 0");
    }

    #[test]
    fn data_is_escaped_losslessly() {
        let all: Vec<u8> = (0..=255).collect();
        let mut t = Transcript::new();
        t.record(
            Instant::ZERO,
            "a:1 > b:2",
            EventKind::Data(all.clone().into()),
        );
        let mut out = Vec::new();
        events(&t, &mut out).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["data"], all.escape_ascii().to_string());
        assert_eq!(value["len"], 256);
    }
}
