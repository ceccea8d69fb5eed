//! Capturing program logs into the transcript.
//!
//! Programs log through `tracing`. While SimNet calls into a host it marks that host as
//! current; a tracing layer installed for the run turns each event into a transcript
//! line for the current host, at the current virtual time, in order with everything
//! else that happened.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

thread_local! {
    static CURRENT_HOST: Cell<Option<usize>> = const { Cell::new(None) };
    static LINES: RefCell<Vec<(usize, Level, String)>> = const { RefCell::new(Vec::new()) };
}

/// A dispatcher that captures events at `level` and above.
pub(crate) fn dispatch(level: Level) -> tracing::Dispatch {
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::from_level(level))
        .with(CaptureLayer);
    tracing::Dispatch::new(subscriber)
}

/// Marks `host` as the one logging until the guard drops.
pub(crate) fn enter(host: usize) -> HostGuard {
    HostGuard(CURRENT_HOST.replace(Some(host)))
}

/// Restores the previously current host.
pub(crate) struct HostGuard(Option<usize>);

impl Drop for HostGuard {
    fn drop(&mut self) {
        CURRENT_HOST.set(self.0);
    }
}

/// The lines captured since the last call.
pub(crate) fn take_lines() -> Vec<(usize, Level, String)> {
    LINES.with_borrow_mut(std::mem::take)
}

struct CaptureLayer;

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(host) = CURRENT_HOST.get() else {
            return;
        };
        let mut text = Message::default();
        event.record(&mut text);
        LINES.with_borrow_mut(|lines| lines.push((host, *event.metadata().level(), text.0)));
    }
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
