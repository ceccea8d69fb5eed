//! Time for tasks: [`Timers`], the timer source every [`Sleep`] and [`Timeout`] registers
//! with, and [`FakeClock`], a standalone one a test advances by hand.
//!
//! Inside a [`TaskProgram`](super::TaskProgram) the timers follow the host's clock: the
//! program keeps one host timer armed at the earliest pending deadline and wakes the
//! sleepers when it fires. Outside a host, a [`FakeClock`] plays the host's part, so any
//! future that sleeps can be driven by `advance` and polled with the
//! [synchronous helpers](super::sync).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::clock::{CallId, Clock, ManualClock};
use crate::time::{Instant, format_timedelta};

#[derive(Default)]
struct TimerState {
    clock: ManualClock<()>,
    wakers: BTreeMap<CallId, Waker>,
}

/// A shared timer source: the clock that [`Sleep`], [`Timeout`] and [`Interval`] wait on.
/// Cloning gives another handle to the same timers.
#[derive(Clone, Default)]
pub struct Timers {
    state: Rc<RefCell<TimerState>>,
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("Timers")
            .field("now", &state.clock.now())
            .field("pending", &state.clock.pending_count())
            .finish()
    }
}

impl Timers {
    /// Timers at time zero with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.state.borrow().clock.now()
    }

    /// Pending timers (Twisted's `len(clock.getDelayedCalls())`).
    pub fn pending_count(&self) -> usize {
        self.state.borrow().clock.pending_count()
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.state.borrow_mut().clock.next_deadline()
    }

    /// Moves time to `now` (never backwards) and wakes every sleeper due by then, in
    /// (deadline, registration) order. Returns how many were woken.
    pub(crate) fn set_now_and_wake(&self, now: Instant) -> usize {
        let due: Vec<Waker> = {
            let mut state = self.state.borrow_mut();
            state.clock.set_now(now);
            let mut due = Vec::new();
            while let Some((call, ())) = state.clock.pop_due() {
                if let Some(waker) = state.wakers.remove(&call) {
                    due.push(waker);
                }
            }
            due
        };
        // Woken outside the borrow: a waker may poll at once.
        let woken = due.len();
        due.into_iter().for_each(Waker::wake);
        woken
    }

    /// A future that completes `delay` from now (Twisted's `deferLater(clock, delay)`).
    pub fn sleep(&self, delay: Duration) -> Sleep {
        self.sleep_until(self.now().saturating_add(delay))
    }

    /// A future that completes at `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep {
            timers: self.clone(),
            deadline,
            call: None,
        }
    }

    /// Runs `future` with a time limit (Twisted's `Deferred.addTimeout`): its output, or
    /// [`TimedOut`] once `limit` has passed, in which case `future` is dropped
    /// (cancelled) first. A result in time cancels the timer.
    pub fn timeout<F: Future>(&self, limit: Duration, future: F) -> Timeout<F> {
        Timeout {
            inner: Some(Box::pin(future)),
            sleep: Some(self.sleep(limit)),
            limit,
        }
    }

    /// Ticks every `period`, the first at once (Twisted's `LoopingCall.start(period,
    /// now=True)`). Missed ticks are skipped, as `LoopingCall` skips them: after a
    /// jump over three periods the next tick comes once, then on the old grid.
    pub fn interval(&self, period: Duration) -> Interval {
        let start = self.now();
        Interval {
            timers: self.clone(),
            period,
            start,
            next: start,
            ticks: 0,
            sleep: None,
        }
    }
}

/// A [`Timers`] of its own whose time moves only by [`advance`](Self::advance): Twisted's
/// `task.Clock` for futures polled without an executor.
///
/// ```
/// use std::pin::pin;
/// use std::time::Duration;
/// use weft::task::{FakeClock, assert_no_result, result_of};
///
/// let clock = FakeClock::new();
/// let mut nap = pin!(clock.timers().sleep(Duration::from_secs(5)));
/// assert_no_result(&mut nap);
/// clock.advance(Duration::from_secs(5));
/// result_of(&mut nap);
/// assert_eq!(clock.pending_count(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeClock {
    timers: Timers,
}

impl FakeClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The timers futures under test should wait on.
    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.timers.now()
    }

    /// Moves time forward by `amount`, then wakes every sleeper due (Twisted's
    /// `Clock.advance`). Woken futures run when next polled.
    pub fn advance(&self, amount: Duration) {
        let to = self.timers.now().saturating_add(amount);
        self.timers.set_now_and_wake(to);
    }

    /// Pending timers (`len(clock.getDelayedCalls())`).
    pub fn pending_count(&self) -> usize {
        self.timers.pending_count()
    }
}

/// Completes at its deadline. Dropping it cancels its timer.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    timers: Timers,
    deadline: Instant,
    call: Option<CallId>,
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn cancel(&mut self) {
        if let Some(call) = self.call.take() {
            let mut state = self.timers.state.borrow_mut();
            let _ = state.clock.cancel(call);
            state.wakers.remove(&call);
        }
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut state = this.timers.state.borrow_mut();
        if state.clock.now() >= this.deadline {
            drop(state);
            this.cancel();
            return Poll::Ready(());
        }
        match this.call {
            Some(call) => match state.wakers.get_mut(&call) {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                Some(waker) => waker.clone_from(cx.waker()),
                None => {
                    state.wakers.insert(call, cx.waker().clone());
                }
            },
            None => {
                let call = state.clock.call_at(this.deadline, ());
                state.wakers.insert(call, cx.waker().clone());
                this.call = Some(call);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The time limit of a [`Timeout`] passed first (Twisted's `TimeoutError` from
/// `addTimeout`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("timed out after {}", format_timedelta(*.limit))]
pub struct TimedOut {
    /// The limit that passed.
    pub limit: Duration,
}

/// A future with a time limit; see [`Timers::timeout`].
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F: Future> {
    inner: Option<Pin<Box<F>>>,
    sleep: Option<Sleep>,
    limit: Duration,
}

impl<F: Future> std::fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("limit", &self.limit)
            .field("finished", &self.inner.is_none())
            .finish()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, TimedOut>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(inner) = &mut this.inner else {
            return Poll::Pending;
        };
        // The inner future first: a result that is in when the timer falls due wins,
        // as a Deferred fired before `timeItOut` runs.
        if let Poll::Ready(output) = inner.as_mut().poll(cx) {
            this.inner = None;
            this.sleep = None;
            return Poll::Ready(Ok(output));
        }
        let sleep = this
            .sleep
            .as_mut()
            .expect("a running timeout has its timer");
        if Pin::new(sleep).poll(cx).is_ready() {
            this.sleep = None;
            // Cancel (drop) what was running before reporting.
            this.inner = None;
            return Poll::Ready(Err(TimedOut { limit: this.limit }));
        }
        Poll::Pending
    }
}

/// Periodic ticks; see [`Timers::interval`].
pub struct Interval {
    timers: Timers,
    period: Duration,
    start: Instant,
    next: Instant,
    ticks: u64,
    sleep: Option<Sleep>,
}

impl std::fmt::Debug for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interval")
            .field("period", &self.period)
            .field("next", &self.next)
            .field("ticks", &self.ticks)
            .finish()
    }
}

impl Interval {
    /// Waits for the next tick; returns the time it ran.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Ticks delivered so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let now = self.timers.now();
        if now < self.next {
            let next = self.next;
            let sleep = match &mut self.sleep {
                Some(sleep) if sleep.deadline() == next => sleep,
                slot => slot.insert(self.timers.sleep_until(next)),
            };
            if Pin::new(sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        self.sleep = None;
        self.ticks += 1;
        // The first point of the grid after now: missed ticks are skipped.
        let period = self.period.as_nanos().max(1);
        let elapsed = u128::from(now.as_nanos() - self.start.as_nanos());
        let next = (elapsed / period + 1) * period;
        let next = Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX));
        self.next = self.start.saturating_add(next);
        Poll::Ready(now)
    }
}
