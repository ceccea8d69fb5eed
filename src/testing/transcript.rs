//! Transcripts: the ordered record of a run, rendered as stable text for snapshots.
//!
//! Every byte that crosses a connection is recorded with its virtual time, its
//! connection and its direction, together with opens, half-closes, closes (clean or
//! reset), refusals, producer pauses and resumes, faults and (optionally) timer firings
//! and log lines. Two runs with the same seed give the same transcript, byte for byte,
//! which is what the determinism self-check compares.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use bytes::Bytes;

use crate::time::Instant;
use crate::transport::Disconnect;

/// Payloads are wrapped at this many characters of escaped text per line.
const WRAP: usize = 64;

/// One thing that happened.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum EventKind {
    /// A connection opened.
    Open,
    /// Bytes delivered to the receiving protocol (one `data_received`).
    Data(Bytes),
    /// Bytes thrown away because the receiver had stopped reading.
    Discarded(usize),
    /// End-of-stream delivered: the sender half-closed or closed.
    Eof,
    /// The connection ended for this side, with its reason.
    Lost(Disconnect),
    /// A connect failed.
    ConnectFailed(String),
    /// The transport paused its producer.
    Paused,
    /// The transport resumed its producer.
    Resumed,
    /// The transport stopped its producer.
    Stopped,
    /// A timer fired (recorded only when asked for).
    Timer(String),
    /// A fault was injected (partition, crash, reset, ...).
    Fault(String),
    /// A line of program output or a log line.
    Line(String),
}

/// A transcript entry: when, who (a side or a connection and direction), what.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Event {
    /// Virtual time.
    pub at: Instant,
    /// The side, connection or host it concerns, e.g. `client > server`. Shared, so
    /// recording an event on a busy connection does not copy its label.
    pub who: Arc<str>,
    /// What happened.
    pub what: EventKind,
}

/// An ordered record of a run.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Transcript {
    events: Vec<Event>,
}

impl Transcript {
    /// An empty transcript.
    pub const fn new() -> Self {
        Self { events: Vec::new() }
    }

    /// Appends an event.
    // Always inlined: SimNet records every read, and the event is then built in place.
    #[inline(always)]
    pub fn record(&mut self, at: Instant, who: impl Into<Arc<str>>, what: EventKind) {
        let event = Event {
            at,
            who: who.into(),
            what,
        };
        // With room known, the push cannot grow (nor unwind), so the event is written
        // straight into the vector rather than built aside and copied in.
        if self.events.len() < self.events.capacity() {
            self.events.push(event);
        } else {
            push_growing(&mut self.events, event);
        }
    }

    /// The events, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// All bytes delivered to `who`'s data events, concatenated: the byte stream of one
    /// connection direction, whatever its chunking.
    pub fn bytes(&self, who: &str) -> Vec<u8> {
        self.events
            .iter()
            .filter(|e| &*e.who == who)
            .filter_map(|e| match &e.what {
                EventKind::Data(bytes) => Some(bytes.as_ref()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// Renders every event as one or more lines of stable text:
    /// fixed-width time, the `who` column, then the event. Payloads are escaped with
    /// `escape_ascii` and wrapped; a payload of one repeated byte is shown as a count.
    pub fn render(&self) -> String {
        let width = self.events.iter().map(|e| e.who.len()).max().unwrap_or(0);
        let mut out = String::with_capacity(self.events.len() * (width + 40));
        // One prefix buffer for all events: rendering is on the hot path of sweeps
        // whose expectations read the transcript.
        let mut prefix = String::with_capacity(width + 16);
        for event in &self.events {
            prefix.clear();
            write_time(&mut prefix, event.at);
            prefix.push_str("  ");
            prefix.push_str(&event.who);
            prefix.extend(std::iter::repeat_n(' ', width - event.who.len() + 2));
            render_event(&mut out, &prefix, &event.what);
        }
        out
    }
}

/// `Vec::push` when the vector is full: out of the way of the common case.
#[cold]
#[inline(never)]
fn push_growing(events: &mut Vec<Event>, event: Event) {
    events.push(event);
}

/// A running digest of a stream of events, for comparing two runs without keeping
/// either's transcript: equal streams give equal digests, and a stream that differs
/// in any event (its time, who, kind or bytes) gives another with overwhelming
/// likelihood.
///
/// The hash is SipHash-1-3 with fixed keys (`std`'s `DefaultHasher::new()`): the same
/// in every run of one binary, which is all a determinism check compares.
///
/// ```
/// use weft::testing::{EventDigest, EventKind};
/// use weft::time::Instant;
///
/// let (mut a, mut b) = (EventDigest::new(), EventDigest::new());
/// a.add(Instant::ZERO, "a > b", &EventKind::Data(b"hi".to_vec().into()));
/// b.add(Instant::ZERO, "a > b", &EventKind::Data(b"ho".to_vec().into()));
/// assert_ne!(a.value(), b.value());
/// assert_eq!(a.events(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct EventDigest {
    hasher: std::hash::DefaultHasher,
    events: u64,
}

impl EventDigest {
    /// The digest of no events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event to the stream.
    pub fn add(&mut self, at: Instant, who: &str, what: &EventKind) {
        use std::hash::Hash;
        at.hash(&mut self.hasher);
        who.hash(&mut self.hasher);
        what.hash(&mut self.hasher);
        self.events += 1;
    }

    /// The digest of the events so far.
    pub fn value(&self) -> u64 {
        std::hash::Hasher::finish(&self.hasher)
    }

    /// How many events it has seen.
    pub fn events(&self) -> u64 {
        self.events
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Seconds with six decimals, right-aligned in 11 columns, without allocating.
fn write_time(out: &mut String, at: Instant) {
    let nanos = at.as_nanos();
    let (secs, micros) = (nanos / 1_000_000_000, (nanos % 1_000_000_000) / 1_000);
    let digits = secs.checked_ilog10().unwrap_or(0) as usize + 1;
    out.extend(std::iter::repeat_n(' ', 11usize.saturating_sub(digits + 7)));
    // Writing to a String cannot fail.
    let _ = write!(out, "{secs}.{micros:06}");
}

fn render_event(out: &mut String, prefix: &str, what: &EventKind) {
    out.push_str(prefix);
    // Writing to a String cannot fail.
    let _ = match what {
        EventKind::Open => writeln!(out, "open"),
        EventKind::Data(bytes) => {
            out.truncate(out.len() - prefix.len());
            render_data(out, prefix, bytes);
            Ok(())
        }
        EventKind::Discarded(n) => writeln!(out, "discarded {n} B (not reading)"),
        EventKind::Eof => writeln!(out, "eof"),
        EventKind::Lost(reason) => writeln!(out, "lost: {reason}"),
        EventKind::ConnectFailed(error) => writeln!(out, "connect failed: {error}"),
        EventKind::Paused => writeln!(out, "producer paused"),
        EventKind::Resumed => writeln!(out, "producer resumed"),
        EventKind::Stopped => writeln!(out, "producer stopped"),
        EventKind::Timer(name) => writeln!(out, "timer {name}"),
        EventKind::Fault(what) => writeln!(out, "FAULT {what}"),
        EventKind::Line(text) => writeln!(out, "| {text}"),
    };
}

fn render_data(out: &mut String, prefix: &str, bytes: &[u8]) {
    let n = bytes.len();
    if n > 16 && bytes.iter().all(|&b| b == bytes[0]) {
        let one = [bytes[0]].escape_ascii().to_string();
        let _ = writeln!(out, "{prefix}{n:>6} B  \"{one}\" x {n}");
        return;
    }
    let mut escaped = String::with_capacity(bytes.len() + bytes.len() / 8);
    escape_into(&mut escaped, bytes);
    let mut chunks = wrap_escaped(&escaped);
    let first = chunks.next().unwrap_or_default();
    let _ = writeln!(out, "{prefix}{n:>6} B  \"{first}\"");
    let indent = " ".repeat(prefix.len() + 10);
    for chunk in chunks {
        let _ = writeln!(out, "{indent}\"{chunk}\"");
    }
}

/// Appends `bytes` escaped exactly as `<[u8]>::escape_ascii` does, without going
/// through the formatting machinery one character at a time.
fn escape_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' | b'\'' | b'"' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push_str("\\x");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

/// Splits escaped text into pieces of at most [`WRAP`] characters without cutting an
/// escape sequence (`\n`, `\x7f`) in two. Splitting after a `\n` escape is preferred,
/// so poems wrap at their line ends.
fn wrap_escaped(escaped: &str) -> impl Iterator<Item = &str> {
    let mut rest = escaped;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = 0;
        let mut last_newline = None;
        let bytes = rest.as_bytes();
        while end < bytes.len() {
            let len = match (bytes[end], bytes.get(end + 1)) {
                (b'\\', Some(b'x')) => 4,
                (b'\\', Some(_)) => 2,
                _ => 1,
            };
            if end + len > WRAP && end > 0 {
                break;
            }
            end += len;
            if rest[..end].ends_with("\\n") {
                last_newline = Some(end);
            }
        }
        if end < bytes.len()
            && let Some(nl) = last_newline
        {
            end = nl;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fixed_width_columns_and_escapes() {
        let mut t = Transcript::new();
        t.record(Instant::ZERO, "a > b", EventKind::Open);
        t.record(
            Instant::from_millis(100),
            "b > a",
            EventKind::Data(b"hi\n\x00".to_vec().into()),
        );
        t.record(
            Instant::from_secs(12),
            "a",
            EventKind::Lost(Disconnect::Clean),
        );
        insta::assert_snapshot!(t.render(), @r#"
           0.000000  a > b  open
           0.100000  b > a       4 B  "hi\n\x00"
          12.000000  a      lost: connection was closed cleanly
        "#);
    }

    #[test]
    fn repeated_bytes_are_counted_and_long_text_wraps_after_newlines() {
        let mut t = Transcript::new();
        t.record(
            Instant::ZERO,
            "s",
            EventKind::Data(vec![b'*'; 65536].into()),
        );
        let poem = b"This is the first line of the poem\nand here comes the second line of it\n";
        t.record(Instant::ZERO, "s", EventKind::Data(poem.to_vec().into()));
        let text = t.render();
        assert!(text.contains(r#"65536 B  "*" x 65536"#), "{text}");
        assert!(
            text.contains(r#""This is the first line of the poem\n""#),
            "{text}"
        );
        assert!(
            text.contains(r#""and here comes the second line of it\n""#),
            "{text}"
        );
    }

    #[test]
    fn escaping_matches_escape_ascii_for_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut ours = String::new();
        escape_into(&mut ours, &all);
        assert_eq!(ours, all.escape_ascii().to_string());
    }

    #[test]
    fn wrapping_never_splits_an_escape() {
        let text = "\\x00".repeat(40);
        for piece in wrap_escaped(&text) {
            assert!(piece.len() <= WRAP);
            assert_eq!(piece.len() % 4, 0, "{piece}");
        }
    }

    #[test]
    fn digests_agree_on_equal_streams_and_tell_times_and_order_apart() {
        let events = [
            (Instant::ZERO, "a", EventKind::Open),
            (
                Instant::from_millis(1),
                "a > b",
                EventKind::Data(b"x".to_vec().into()),
            ),
            (
                Instant::from_millis(2),
                "b",
                EventKind::Lost(Disconnect::Clean),
            ),
        ];
        let digest = |order: &[usize], shift: u64| {
            let mut d = EventDigest::new();
            for &i in order {
                let (at, who, what) = &events[i];
                d.add(*at + std::time::Duration::from_nanos(shift), who, what);
            }
            d.value()
        };
        assert_eq!(digest(&[0, 1, 2], 0), digest(&[0, 1, 2], 0));
        assert_ne!(digest(&[0, 1, 2], 0), digest(&[0, 2, 1], 0), "order counts");
        assert_ne!(digest(&[0, 1, 2], 0), digest(&[0, 1, 2], 1), "times count");
        assert_ne!(digest(&[0, 1], 0), digest(&[0, 1, 2], 0));
    }

    #[test]
    fn bytes_concatenates_one_direction() {
        let mut t = Transcript::new();
        t.record(Instant::ZERO, "x", EventKind::Data(b"ab".to_vec().into()));
        t.record(Instant::ZERO, "y", EventKind::Data(b"zz".to_vec().into()));
        t.record(Instant::ZERO, "x", EventKind::Data(b"c".to_vec().into()));
        assert_eq!(t.bytes("x"), b"abc");
    }
}
