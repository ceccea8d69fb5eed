//! [`LoopingCall`]: Twisted's `task.LoopingCall`, with `withCount`'s count on every beat.

use std::time::Duration;

use super::{CallId, Clock};
use crate::time::Instant;

/// Permission to run one beat of a [`LoopingCall`], handed out by
/// [`LoopingCall::start`] and [`LoopingCall::fired`]. Run the beat's work, then give
/// the tick back to [`LoopingCall::finish`], which schedules the next beat.
#[must_use = "pass the tick to LoopingCall::finish after the beat's work, or the loop stops"]
#[derive(Debug, PartialEq, Eq)]
pub struct Tick {
    /// Intervals elapsed since the previous beat (Twisted's `withCount`): 1 normally,
    /// more when beats were skipped because time jumped, counted on the current
    /// interval grid (which a [`reset`](LoopingCall::reset) moves) and across a stop
    /// and restart.
    ///
    /// It is 0 only for the first beat of a restart with `now` less than an interval
    /// after the previous beat: Twisted's `withCount` then skips calling its function
    /// (and still schedules the next beat), while a plain `LoopingCall` runs it. A loop
    /// that uses the count should skip the beat's work too; [`finish`](LoopingCall::finish)
    /// it either way.
    pub count: u64,
    epoch: u64,
}

/// Twisted's `task.LoopingCall`: a named timer that fires every `interval`.
///
/// Missed beats are skipped, not replayed: after `advance(60 s)` a 30-second loop has
/// beaten once more, not twice, and its next beat is at the next interval boundary after
/// now. The loop can be stopped from anywhere, including inside its own beat.
///
/// ```
/// # use std::time::Duration;
/// # use weft::clock::{Clock, LoopingCall, ManualClock};
/// let mut clock = ManualClock::new();
/// let mut beats = 0;
/// let mut heartbeat = LoopingCall::new("beat");
/// if let Some(tick) = heartbeat.start(&mut clock, Duration::from_secs(30), true) {
///     beats += 1; // the beat's work
///     heartbeat.finish(&mut clock, tick);
/// }
/// clock.advance(Duration::from_secs(60), |clock, _timer| {
///     if let Some(tick) = heartbeat.fired(clock) {
///         assert_eq!(tick.count, 2); // two intervals since the beat at 0
///         beats += 1;
///         heartbeat.finish(clock, tick);
///     }
/// });
/// assert_eq!(beats, 2); // not 3: the missed beat at 30 s is skipped
/// ```
#[derive(Debug)]
pub struct LoopingCall<T> {
    timer: T,
    interval: Duration,
    started_at: Instant,
    /// The last beat with a count above zero; kept across a stop and restart, as
    /// Twisted's `_realLastTime` is.
    last_beat: Option<Instant>,
    call: Option<CallId>,
    running: bool,
    run_at_start: bool,
    epoch: u64,
}

impl<T: Copy> LoopingCall<T> {
    /// A stopped loop that will schedule `timer` for its beats.
    pub const fn new(timer: T) -> Self {
        Self {
            timer,
            interval: Duration::ZERO,
            started_at: Instant::ZERO,
            last_beat: None,
            call: None,
            running: false,
            run_at_start: false,
            epoch: 0,
        }
    }

    /// Whether the loop is running (from `start` until `stop`).
    pub fn running(&self) -> bool {
        self.running
    }

    /// The interval given to the last `start`.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Starts the loop. With `now`, the first beat is due at once: the returned tick
    /// says so, and the caller runs the beat then calls [`finish`](Self::finish).
    /// Without `now`, the first beat fires one interval from now.
    ///
    /// # Panics
    /// If the loop is already running, or `interval` is zero (it would spin forever
    /// inside `advance`). Both are bugs in the calling program.
    pub fn start(
        &mut self,
        clock: &mut dyn Clock<T>,
        interval: Duration,
        now: bool,
    ) -> Option<Tick> {
        assert!(!self.running, "LoopingCall::start on a running loop");
        assert!(!interval.is_zero(), "LoopingCall interval must be positive");
        self.running = true;
        self.interval = interval;
        self.started_at = clock.now();
        self.run_at_start = now;
        self.epoch += 1;
        if now {
            Some(self.tick(clock.now()))
        } else {
            self.schedule_next(clock);
            None
        }
    }

    /// Call from `timer_fired` when this loop's timer fires. Returns the tick to run,
    /// or `None` if the loop was stopped since the timer was scheduled.
    pub fn fired(&mut self, clock: &mut dyn Clock<T>) -> Option<Tick> {
        let call = self.call.take()?;
        if !self.running || clock.active(call) {
            // Not the call we scheduled (a same-named timer of another loop): put back.
            self.call = Some(call);
            return None;
        }
        Some(self.tick(clock.now()))
    }

    /// Ends a beat: schedules the next one at the next interval boundary strictly after
    /// now, unless the beat stopped (or restarted) the loop.
    pub fn finish(&mut self, clock: &mut dyn Clock<T>, tick: Tick) {
        if self.running && tick.epoch == self.epoch && self.call.is_none() {
            self.schedule_next(clock);
        }
    }

    /// Stops the loop and cancels its pending beat. Returns whether it was running.
    pub fn stop(&mut self, clock: &mut dyn Clock<T>) -> bool {
        if let Some(call) = self.call.take() {
            // The call may already have run if we are inside its beat; that is fine.
            let _ = clock.cancel(call);
        }
        std::mem::replace(&mut self.running, false)
    }

    /// Skips the pending beat and restarts interval timing from now, without running a
    /// beat (Twisted's `reset`). Like Twisted's, it does nothing between a tick and its
    /// [`finish`](Self::finish) (inside the loop's own beat), where no beat is pending:
    /// the beat then schedules the next on the old timing.
    pub fn reset(&mut self, clock: &mut dyn Clock<T>) {
        if !self.running {
            return;
        }
        if let Some(call) = self.call.take() {
            let _ = clock.cancel(call);
            self.started_at = clock.now();
            self.schedule_next(clock);
        }
    }

    fn tick(&mut self, now: Instant) -> Tick {
        // Twisted's `_intervalOf`: whole intervals from the start, truncated toward zero
        // (so a beat before a reset's new start counts from the interval it falls in).
        let interval = i128::try_from(self.interval.as_nanos()).unwrap_or(i128::MAX);
        let start = i128::from(self.started_at.as_nanos());
        let index = |t: Instant| (i128::from(t.as_nanos()) - start) / interval;
        let last = match self.last_beat {
            Some(last) => index(last),
            // Run at start: as if the previous beat was an interval before the start.
            None if self.run_at_start => -1,
            None => 0,
        };
        let count = (index(now) - last).max(0);
        if count > 0 {
            self.last_beat = Some(now);
        }
        Tick {
            count: u64::try_from(count).unwrap_or(u64::MAX),
            epoch: self.epoch,
        }
    }

    fn schedule_next(&mut self, clock: &mut dyn Clock<T>) {
        let interval = self.interval.as_nanos();
        let running_for = (clock.now() - self.started_at).as_nanos();
        // In (0, interval]: the next boundary strictly after now, skipping missed beats.
        let until_next = interval - running_for % interval;
        let delay = Duration::from_nanos(u64::try_from(until_next).unwrap_or(u64::MAX));
        self.call = Some(clock.call_later(delay, self.timer));
    }
}
