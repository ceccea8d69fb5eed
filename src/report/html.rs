//! A run as a sequence diagram: one self-contained HTML page (inline style and
//! script, nothing fetched), readable offline and attachable to a bug report.
//!
//! The page draws a lane per host, top to bottom in virtual time. Each read a program
//! got (one `data` event of the transcript) is an arrow from the sending host's lane
//! to the reading host's lane, labelled with its byte count and the start of its bytes;
//! clicking it shows every byte (and `PAGE.html#read-N` opens the Nth read). Opens, ends of stream (`FIN`), clean closes, resets
//! and aborts are marked on their lanes; program output and log lines are written
//! beside their lane; a partition is a band over the two lanes it cuts, from the fault
//! to its heal, and a crash a band over its host's lane until the restart. The time
//! axis zooms (the buttons, or Ctrl and the mouse wheel). Broken expectations are
//! listed at the top.
//!
//! Peer bytes never reach the page as markup: the run's data is embedded as JSON with
//! `<`, `>` and `&` escaped, and the script draws text with `textContent` only.
//!
//! After drawing, the script writes what it drew into the `<body>`'s attributes
//! (`data-lanes`, `data-arrows`, `data-bands`, `data-errors`), for tests and tools.
//!
//! ```
//! use weft::report::{RunInfo, html};
//! use weft::scenario::Scenario;
//!
//! let catalogue = weft::programs::catalogue();
//! let scenario = Scenario::load("sim/crash-restart.toml".as_ref(), &catalogue).unwrap();
//! let info = RunInfo::new(&scenario.name, 1, &scenario.network(&catalogue, 1).unwrap());
//! let page = html::page(&scenario.run(&catalogue, 1).unwrap().transcript, &info);
//! std::fs::write(std::env::temp_dir().join("crash-restart.html"), page).unwrap();
//! ```

use serde::Serialize;

use super::RunInfo;
use super::json::reason_name;
use super::timeline::{FaultMark, Subject};
use crate::testing::{EventKind, Transcript};

const STYLE: &str = include_str!("sequence.css");
const SCRIPT: &str = include_str!("sequence.js");
/// Characters of escaped payload shown on an arrow.
const PREVIEW: usize = 28;

/// What the page's script draws, embedded as JSON.
#[derive(Serialize)]
struct Diagram<'a> {
    scenario: &'a str,
    seed: u64,
    hosts: Vec<Lane>,
    events: Vec<Row<'a>>,
    bands: Vec<Band>,
}

#[derive(Serialize)]
struct Lane {
    name: String,
    ip: String,
}

/// One drawn event: `kind` is `data`, `eof`, `discarded`, `open`, `lost`, `line`,
/// `connect-failed`, `flow` (producer paused, resumed, stopped), `timer` or `fault`.
#[derive(Serialize)]
struct Row<'a> {
    t: u64,
    kind: &'static str,
    /// The lane it is drawn on (the reader's, for arrows); `None` for network-wide
    /// faults.
    lane: Option<usize>,
    /// For arrows: the sender's lane.
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<usize>,
    who: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    len: Option<usize>,
    /// A short text for the diagram (preview, line, reason).
    text: String,
    /// The whole payload, escaped, for data.
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
}

/// A fault over lanes, from one row to another (`None`: to the end of the run).
#[derive(Serialize)]
struct Band {
    kind: &'static str,
    lanes: Vec<usize>,
    from: usize,
    to: Option<usize>,
    text: String,
}

/// The page of a run.
pub fn page(transcript: &Transcript, info: &RunInfo) -> String {
    let diagram = diagram(transcript, info);
    let data = serde_json::to_string(&diagram).expect("the diagram is plain data");
    // Inside <script>, `</script>` or `<!--` in peer bytes would end the element:
    // JSON allows these characters escaped, so none of them appears raw.
    let data = data
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let verdict = if info.failures.is_empty() {
        "passed"
    } else {
        "FAILED"
    };
    let mut failures = String::new();
    for failure in &info.failures {
        failures.push_str("<li>");
        failures.push_str(&escape(failure));
        failures.push_str("</li>");
    }
    let failures = if failures.is_empty() {
        String::new()
    } else {
        format!(
            "<section id=\"failures\"><h2>Broken expectations</h2><ul>{failures}</ul></section>"
        )
    };
    let title = format!("{} seed {} — weft", info.scenario, info.seed);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>{name} <span class=\"seed\">seed {seed}</span> \
         <span class=\"verdict {verdict}\">{verdict}</span></h1>\
         <p class=\"description\">{description}</p>{failures}\
         <nav><button id=\"zoom-out\" title=\"Zoom out (Ctrl + wheel)\">−</button>\
         <button id=\"zoom-in\" title=\"Zoom in (Ctrl + wheel)\">+</button>\
         <button id=\"zoom-fit\">fit</button> <span id=\"scale\"></span> \
         <span class=\"legend\">click an arrow for its bytes</span></nav></header>\n\
         <main id=\"diagram\"></main>\n<aside id=\"detail\" hidden><button id=\"close\">×</button>\
         <h2 id=\"detail-title\"></h2><pre id=\"detail-body\"></pre></aside>\n\
         <script type=\"application/json\" id=\"weft-run\">{data}</script>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        title = escape(&title),
        name = escape(&info.scenario),
        seed = info.seed,
        description = escape(&info.description),
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn diagram<'a>(transcript: &'a Transcript, info: &'a RunInfo) -> Diagram<'a> {
    let mut hosts: Vec<Lane> = (info.hosts.iter())
        .map(|(name, ip)| Lane {
            name: name.clone(),
            ip: ip.to_string(),
        })
        .collect();
    let mut lane = |host: &str| -> usize {
        if let Some(i) = hosts.iter().position(|l| l.name == host) {
            return i;
        }
        hosts.push(Lane {
            name: host.to_owned(),
            ip: String::new(),
        });
        hosts.len() - 1
    };
    let mut events = Vec::with_capacity(transcript.events().len());
    let mut bands: Vec<Band> = Vec::new();
    // Open bands: partitions by (a, b, one way), crashes by host.
    let mut open: Vec<((String, String, bool), usize)> = Vec::new();
    for event in transcript.events() {
        let subject = Subject::parse(&event.who);
        let row = events.len();
        let mut r = Row {
            t: event.at.as_nanos(),
            kind: "",
            lane: subject.host().map(&mut lane),
            from: None,
            who: &event.who,
            len: None,
            text: String::new(),
            payload: None,
        };
        if let Subject::Direction { from, .. } = &subject {
            r.from = Some(lane(&from.host));
        }
        r.kind = match &event.what {
            EventKind::Data(bytes) => {
                let escaped = bytes.escape_ascii().to_string();
                r.text = preview(&escaped);
                r.len = Some(bytes.len());
                r.payload = Some(escaped);
                "data"
            }
            EventKind::Eof => "eof",
            EventKind::Discarded(n) => {
                r.len = Some(*n);
                r.text = format!("{n} B discarded");
                "discarded"
            }
            EventKind::Open => "open",
            EventKind::Lost(reason) => {
                r.text = reason_name(*reason).to_owned();
                "lost"
            }
            EventKind::ConnectFailed(error) => {
                r.text = format!("connect failed: {error}");
                "connect-failed"
            }
            EventKind::Paused => flow_row(&mut r, "producer paused"),
            EventKind::Resumed => flow_row(&mut r, "producer resumed"),
            EventKind::Stopped => flow_row(&mut r, "producer stopped"),
            EventKind::Timer(name) => {
                r.text = format!("timer {name}");
                "timer"
            }
            EventKind::Line(text) => {
                r.text.clone_from(text);
                "line"
            }
            EventKind::Fault(text) => {
                r.text.clone_from(text);
                fault(
                    &FaultMark::parse(text),
                    row,
                    &mut r,
                    &mut open,
                    &mut bands,
                    &mut lane,
                );
                "fault"
            }
        };
        events.push(r);
    }
    for ((a, b, _), from) in open {
        let crash = b.is_empty();
        bands.push(Band {
            kind: if crash { "crash" } else { "partition" },
            lanes: if crash {
                vec![lane(&a)]
            } else {
                vec![lane(&a), lane(&b)]
            },
            from,
            to: None,
            text: events[from].text.clone(),
        });
    }
    // A band's tooltip names the fault that opened it and the one that closed it.
    for band in &mut bands {
        band.text = match band.to {
            Some(to) => format!("{} until {}", events[band.from].text, events[to].text),
            None => events[band.from].text.clone(),
        };
    }
    bands.sort_by_key(|b| b.from);
    Diagram {
        scenario: &info.scenario,
        seed: info.seed,
        hosts,
        events,
        bands,
    }
}

fn flow_row(r: &mut Row<'_>, text: &str) -> &'static str {
    text.clone_into(&mut r.text);
    "flow"
}

/// Opens or closes the band a fault starts or ends, and places the fault's row.
fn fault(
    mark: &FaultMark,
    row: usize,
    r: &mut Row<'_>,
    open: &mut Vec<((String, String, bool), usize)>,
    bands: &mut Vec<Band>,
    lane: &mut impl FnMut(&str) -> usize,
) {
    let key = |a: &str, b: &str, one_way: bool| {
        if one_way || a <= b {
            (a.to_owned(), b.to_owned(), one_way)
        } else {
            (b.to_owned(), a.to_owned(), one_way)
        }
    };
    match mark {
        FaultMark::Partition { a, b, one_way } => {
            r.lane = Some(lane(a));
            open.push((key(a, b, *one_way), row));
        }
        FaultMark::Heal { a, b, one_way } => {
            r.lane = Some(lane(a));
            close(key(a, b, *one_way), "partition", row, open, bands, lane);
        }
        FaultMark::Crash(host) => {
            r.lane = Some(lane(host));
            open.push(((host.clone(), String::new(), false), row));
        }
        FaultMark::Restart(host) => {
            r.lane = Some(lane(host));
            let k = (host.clone(), String::new(), false);
            close(k, "crash", row, open, bands, lane);
        }
        FaultMark::Instant { host, .. } => r.lane = Some(lane(host)),
        FaultMark::Global(_) => r.lane = None,
    }
}

/// Ends the open band `k`, if there is one, at `row`.
fn close(
    k: (String, String, bool),
    kind: &'static str,
    row: usize,
    open: &mut Vec<((String, String, bool), usize)>,
    bands: &mut Vec<Band>,
    lane: &mut impl FnMut(&str) -> usize,
) {
    let Some(i) = open.iter().position(|(o, _)| *o == k) else {
        return;
    };
    let (k, from) = open.remove(i);
    let lanes = if k.1.is_empty() {
        vec![lane(&k.0)]
    } else {
        vec![lane(&k.0), lane(&k.1)]
    };
    bands.push(Band {
        kind,
        lanes,
        from,
        to: Some(row),
        text: String::new(),
    });
}

/// The first characters of escaped text, cut between escapes.
fn preview(escaped: &str) -> String {
    if escaped.len() <= PREVIEW {
        return escaped.to_owned();
    }
    let mut end = 0;
    let bytes = escaped.as_bytes();
    while end < PREVIEW {
        end += match (bytes[end], bytes.get(end + 1)) {
            (b'\\', Some(b'x')) => 4,
            (b'\\', Some(_)) => 2,
            _ => 1,
        };
    }
    format!("{}…", &escaped[..end.min(escaped.len())])
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::time::Instant;

    fn info() -> RunInfo {
        RunInfo {
            scenario: "s<x>".into(),
            description: "d & \"e\"".into(),
            seed: 3,
            hosts: vec![
                ("a".into(), Ipv4Addr::new(10, 0, 0, 1)),
                ("b".into(), Ipv4Addr::new(10, 0, 0, 2)),
            ],
            failures: vec!["<img src=x onerror=alert(1)>".into()],
        }
    }

    #[test]
    fn peer_bytes_and_names_never_appear_as_markup() {
        let evil = b"</script><script>alert(1)</script><!-- &amp; <img src=x onerror=alert(2)>";
        let mut t = Transcript::new();
        t.record(
            Instant::ZERO,
            "a:1 > b:40001",
            EventKind::Data(evil.to_vec().into()),
        );
        t.record(
            Instant::ZERO,
            "b",
            EventKind::Line("out: </script><b>".into()),
        );
        let page = page(&t, &info());
        // Exactly the page's own two scripts, one style, and no injected element.
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(!page.contains("<!--"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
        assert!(page.contains("<title>s&lt;x&gt; seed 3"), "{page}");
        // The bytes are all there, escaped, for the script to show as text.
        let start = page.find("id=\"weft-run\">").unwrap() + "id=\"weft-run\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(
            data["events"][0]["payload"],
            evil.escape_ascii().to_string()
        );
    }

    #[test]
    fn partitions_and_crashes_become_bands_until_their_heal_or_restart() {
        let mut t = Transcript::new();
        let fault = |t: &mut Transcript, s, text: &str| {
            t.record(Instant::from_secs(s), "net", EventKind::Fault(text.into()));
        };
        fault(&mut t, 1, "partition b <-> a (Drop)");
        fault(&mut t, 2, "crash b");
        fault(&mut t, 3, "heal a <-> b");
        fault(&mut t, 4, "partition a -> b (Hold)");
        let info = info();
        let d = diagram(&t, &info);
        let bands: Vec<(&str, &[usize], usize, Option<usize>)> = (d.bands.iter())
            .map(|b| (b.kind, b.lanes.as_slice(), b.from, b.to))
            .collect();
        assert_eq!(
            bands,
            [
                ("partition", &[0, 1][..], 0, Some(2)),
                ("crash", &[1][..], 1, None),
                ("partition", &[0, 1][..], 3, None),
            ]
        );
        assert_eq!(
            d.bands[0].text,
            "partition b <-> a (Drop) until heal a <-> b"
        );
    }

    #[test]
    fn previews_stop_between_escapes() {
        let text = "\\x00".repeat(20);
        let p = preview(&text);
        assert!(p.ends_with('…'));
        assert_eq!((p.len() - '…'.len_utf8()) % 4, 0, "{p}");
    }
}
