//! Calling into hosts' programs: with their clock's time, their log lines captured
//! into the transcript, and the host marked for settling.

use super::{Level, SimNet};
use crate::host::Node;
use crate::testing::{EventDigest, EventKind, Transcript, logs};
use crate::time::Instant;
use std::cmp::Reverse;

impl SimNet {
    /// Runs `f` with log capture on, if asked for.
    pub(super) fn captured<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        match self.capture {
            Some(level) => {
                let _level = logs::level(level);
                tracing::dispatcher::with_default(&logs::dispatch(), || f(self))
            }
            None => f(self),
        }
    }

    /// Calls into host `h`'s running program with its clock's time; what it logs goes
    /// to the transcript as its lines.
    pub(super) fn call_node<R>(
        &mut self,
        h: usize,
        f: impl FnOnce(&mut dyn Node, Instant) -> R,
    ) -> Option<R> {
        self.touch_host(h);
        self.call_node_untouched(h, f)
    }

    /// Marks host `h` for settling: its commands, dirty connections and wake-up.
    pub(super) fn touch_host(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        if !host.touched && host.node.is_some() {
            host.touched = true;
            self.touched.push(Reverse(h));
            self.unsettled = true;
        }
    }

    /// Lists host `h` as settled in this step, as settling does with a host it looks
    /// at: its wake-up is scheduled anew at the end of the step.
    pub(super) fn note_settled(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        if !host.settled {
            host.settled = true;
            self.settled.push(h);
            self.unsettled = true;
        }
    }

    /// [`call_node`](Self::call_node) for a call that may leave the host as it was:
    /// the caller touches it if the call did anything.
    pub(super) fn call_node_untouched<R>(
        &mut self,
        h: usize,
        f: impl FnOnce(&mut dyn Node, Instant) -> R,
    ) -> Option<R> {
        let now = self.host_now(h);
        let node = self.hosts[h].node.as_mut()?;
        self.calling = Some(h);
        let result = {
            let _logging = logs::enter(h);
            f(node.as_mut(), now)
        };
        self.calling = None;
        if self.capture.is_some() && logs::has_lines() {
            self.record_log_lines();
        }
        Some(result)
    }

    /// Records the log lines captured since the last call as their hosts' lines.
    #[cold]
    pub(super) fn record_log_lines(&mut self) {
        for (host, level, line) in logs::take_lines() {
            let who = self.labels[host].clone();
            let mut text = String::with_capacity(line.len() + 12);
            text.push_str("log");
            if level != Level::INFO {
                text.push(' ');
                text.push_str(level.as_str());
            }
            text.push_str(": ");
            text.push_str(&line);
            self.record(who, EventKind::Line(text));
        }
    }

    #[inline(always)]
    pub(super) fn record(&mut self, who: impl Into<std::sync::Arc<str>>, what: EventKind) {
        if self.digest.is_none() {
            if self.record {
                self.transcript.record(self.now, who, what);
            }
            return;
        }
        let transcript = self.record.then_some(&mut self.transcript);
        record_into(self.digest.as_mut(), transcript, self.now, who.into(), what);
    }
}

/// What [`SimNet::record`] does with a digest kept, over the two sinks alone, so a
/// caller holding a connection borrowed can record too: into the digest if given, then
/// the transcript if given.
#[inline(never)]
pub(super) fn record_into(
    digest: Option<&mut EventDigest>,
    transcript: Option<&mut Transcript>,
    now: Instant,
    who: std::sync::Arc<str>,
    what: EventKind,
) {
    if let Some(digest) = digest {
        digest.add(now, &who, &what);
    }
    if let Some(transcript) = transcript {
        transcript.record(now, who, what);
    }
}
