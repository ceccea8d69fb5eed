//! Retrying a failed download (the exercises of Parts 4 to 8; a poetry server that
//! crashes and restarts while a client keeps trying).
//!
//! A failed attempt (refused or timed-out connect, a reset or unclean close whose
//! truncated poem is not accepted, the download timeout) with attempts left does not
//! settle the download: it waits as [`GetPoetryOptions::retry`](super::GetPoetryOptions::retry)
//! says (a fixed [`retry_delay`](super::GetPoetryOptions::retry_delay) unless a
//! [`RetryPolicy`](crate::host::RetryPolicy) says otherwise, jitter drawn from the
//! host's seeded random source) in [`Stage::Backoff`], then connects afresh. The bytes of the failed attempt are
//! dropped with its client protocol, so the poem starts again from its first byte. A
//! poetry connection that is not its download's latest is routed as
//! [`Leg::Stale`](super::Leg::Stale), so anything still arriving from it (the close of a timed-out connection, a connect a driver completes after it
//! was withdrawn) is counted as late and never reaches the new attempt. Only the last
//! attempt's failure settles the download, so it still ends exactly once.

use crate::host::HostContext;
use crate::time::format_timedelta;

use super::super::client::Failure;
use super::{GetPoetry, GetPoetryTimer, Stage};

impl GetPoetry {
    /// If download `i` has attempts left, gives up on its current one after `failure`
    /// and schedules the next; returns whether it did (if not, the failure is final).
    pub(super) fn retry_later(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        failure: &Failure,
    ) -> bool {
        let download = &mut self.downloads[i];
        // Every attempt so far has failed: that is the policy's failure count.
        let Some(delay) = self.options.retry.delay(download.attempts, cx.rng()) else {
            return false;
        };
        if let Some(call) = download.timeout.take() {
            let _ = cx.cancel(call);
        }
        download.stage = Stage::Backoff;
        download.timeout = Some(cx.call_later(delay, GetPoetryTimer::Retry(i)));
        let of_total = match self.options.attempts() {
            Some(total) => format!(" of {total}"),
            None => String::new(),
        };
        tracing::info!(
            "Task {}: retrying {} in {} (attempt {}{of_total}): {failure}",
            i + 1,
            download.server,
            format_timedelta(delay),
            download.attempts + 1,
        );
        true
    }

    /// Whether a failure of download `i`'s current attempt would be retried.
    pub(super) fn has_attempts_left(&self, i: usize) -> bool {
        self.options.retry.allows(self.downloads[i].attempts)
    }
}
