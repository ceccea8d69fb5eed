//! The lines the texts' programs print on stdout, taken from `tracing` events with
//! [`STDOUT_TARGET`] and printed bare, as the originals print them.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::programs::STDOUT_TARGET;

/// Whether `metadata` is one of those lines.
pub(super) fn is_stdout_line(metadata: &Metadata<'_>) -> bool {
    metadata.target() == STDOUT_TARGET
}

/// Prints each event's message on stdout, one line, nothing else.
pub(super) struct StdoutLines;

impl<S: Subscriber> Layer<S> for StdoutLines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        println!("{}", message.0);
    }
}

struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            use fmt::Write;
            let _ = write!(self.0, "{value:?}");
        }
    }
}
