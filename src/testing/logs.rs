//! Capturing program logs: into SimNet's transcript, or for a test with [`capture`].
//!
//! Programs log through `tracing`. While SimNet calls into a host it marks that host as
//! the current source; a subscriber installed for the run turns each event into a
//! transcript line for that host, at the current virtual time, in order with everything
//! else that happened.
//!
//! There is one capturing subscriber per process, and what it captures is decided per
//! thread and per call. `tracing` caches, per log statement, whether any subscriber
//! wants it, and while only one subscriber is registered it asks just the calling
//! thread's current one: a statement first reached on a thread that is not capturing
//! (another test, a run without capture) would be cached as unwanted everywhere. So
//! the capturing subscriber lives for the whole process, always answers "sometimes"
//! (keeping every decision dynamic), and has a silent companion registered beside it so
//! that `tracing` always consults every registered subscriber. Its level hint is the
//! most verbose level captured so far in the process, raised (and `tracing`'s cache
//! rebuilt) when a capture asks for more, so statements below every capture's level
//! cost one comparison.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// A log event's level (`tracing`'s, re-exported so a test needs no `tracing`
/// dependency to choose what to capture).
pub use tracing::Level;
use tracing_subscriber::filter::LevelFilter;

thread_local! {
    static SOURCE: Cell<Option<usize>> = const { Cell::new(None) };
    static LEVEL: Cell<Option<Level>> = const { Cell::new(None) };
    static LINES: RefCell<Vec<(usize, Level, String)>> = const { RefCell::new(Vec::new()) };
    // Whether LINES holds anything: asked after every callback, so it is a plain flag
    // (a `RefCell` with a destructor is a lazily registered thread local, dearer to read).
    static HAS_LINES: Cell<bool> = const { Cell::new(false) };
}

/// The process's capturing dispatcher.
pub(crate) fn dispatch() -> tracing::Dispatch {
    static DISPATCH: OnceLock<(tracing::Dispatch, tracing::Dispatch)> = OnceLock::new();
    let (capture, _companion) = DISPATCH.get_or_init(|| {
        let capture = tracing::Dispatch::new(Capture);
        let companion = tracing::Dispatch::new(Silent);
        // Log statements first seen while these were being registered may have
        // cached "nobody wants me"; ask again now that both exist.
        tracing::callsite::rebuild_interest_cache();
        (capture, companion)
    });
    capture.clone()
}

/// Captures events at `level` and above on this thread until the guard drops.
pub(crate) fn level(level: Level) -> LevelGuard {
    widen(level);
    LevelGuard(LEVEL.replace(Some(level)))
}

/// The most verbose level any thread has captured at so far, as a rank (0: none yet,
/// 1 error ... 5 trace): the capturing subscriber's level hint, so that `tracing`'s
/// global level check turns away a `trace!` at once while nobody has captured at
/// trace, instead of asking the subscriber at every call.
static WIDEST: AtomicU8 = AtomicU8::new(0);

fn rank(level: Level) -> u8 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Raises the capturing subscriber's hint to `level` if it is below, and has `tracing`
/// read the hints again before this thread logs anything more.
fn widen(level: Level) {
    let rank = rank(level);
    if WIDEST.fetch_max(rank, Ordering::SeqCst) < rank {
        tracing::callsite::rebuild_interest_cache();
    }
}

fn widest_filter() -> LevelFilter {
    match WIDEST.load(Ordering::SeqCst) {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Whether this thread is capturing (for SimNet, or in [`capture`]): its subscriber is
/// then the capturing one, which ignores spans, so making one is wasted work.
pub(crate) fn capturing() -> bool {
    LEVEL.get().is_some()
}

/// Restores the previous capture level.
pub(crate) struct LevelGuard(Option<Level>);

impl Drop for LevelGuard {
    fn drop(&mut self) {
        LEVEL.set(self.0);
    }
}

/// Marks `source` (a SimNet host) as the one logging until the guard drops.
pub(crate) fn enter(source: usize) -> SourceGuard {
    SourceGuard(SOURCE.replace(Some(source)))
}

/// Restores the previously current source.
pub(crate) struct SourceGuard(Option<usize>);

impl Drop for SourceGuard {
    fn drop(&mut self) {
        SOURCE.set(self.0);
    }
}

/// Whether any lines were captured since the last [`take_lines`].
pub(crate) fn has_lines() -> bool {
    HAS_LINES.get()
}

/// The lines captured since the last call: (source, level, text).
pub(crate) fn take_lines() -> Vec<(usize, Level, String)> {
    HAS_LINES.set(false);
    LINES.with_borrow_mut(std::mem::take)
}

/// Runs `f` and returns, beside its result, what it logged at `level` and above on this
/// thread, one `(level, text)` per event, the message first and then other fields as
/// `key=value`. Safe to use from tests running in parallel.
///
/// ```
/// use weft::testing::logs::{Level, capture};
/// let ((), lines) = capture(Level::INFO, || tracing::warn!(port = 8000, "cannot bind"));
/// assert_eq!(lines, [(Level::WARN, "cannot bind port=8000".to_owned())]);
/// ```
pub fn capture<R>(level: Level, f: impl FnOnce() -> R) -> (R, Vec<(Level, String)>) {
    let before = take_lines();
    let result = {
        let _level = self::level(level);
        let _source = enter(usize::MAX);
        tracing::dispatcher::with_default(&dispatch(), f)
    };
    let lines = take_lines()
        .into_iter()
        .map(|(_, level, text)| (level, text))
        .collect();
    HAS_LINES.set(!before.is_empty());
    LINES.with_borrow_mut(|lines| *lines = before);
    (result, lines)
}

/// Records events of the current source; ignores spans.
struct Capture;

impl Subscriber for Capture {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(widest_filter())
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event()
            && SOURCE.get().is_some()
            && LEVEL.get().is_some_and(|level| metadata.level() <= &level)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(source) = SOURCE.get() else { return };
        let mut text = Message::default();
        event.record(&mut text);
        LINES.with_borrow_mut(|lines| lines.push((source, *event.metadata().level(), text.0)));
        HAS_LINES.set(true);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
/// The capturing subscriber's companion: wants nothing, and says so in its level hint
/// (`tracing`'s own `NoSubscriber` gives none, which counts as "every level").
struct Silent;

impl Subscriber for Silent {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        Interest::never()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::OFF)
    }

    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, _event: &Event<'_>) {}

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// The event's message, then its other fields as `key=value`.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            if !rest.is_empty() {
                let _ = write!(self.0, " {rest}");
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_more_verbose_than_any_before_it_still_sees_its_lines() {
        let ((), info) = capture(Level::INFO, || tracing::trace!("below info"));
        assert!(info.is_empty());
        let ((), trace) = capture(Level::TRACE, || tracing::trace!("at trace"));
        assert_eq!(trace, [(Level::TRACE, "at trace".to_owned())]);
        assert_eq!(widest_filter(), LevelFilter::TRACE);
    }
}
