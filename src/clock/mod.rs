//! Time as data: the [`Clock`] trait protocols schedule on, the [`ManualClock`] every
//! driver keeps, and [`LoopingCall`].
//!
//! Twisted's `callLater(delay, f, *args)` stores a closure. weft stores a *value*: a
//! protocol names its timers (usually a small `enum`), schedules one with
//! [`Clock::call_later`], and gets it back through `timer_fired(timer)` when it falls due.
//! Nothing is captured, so nothing needs `Rc<RefCell<..>>`, and a pending timer can be
//! printed, compared and recorded in a transcript.
//!
//! The semantics are Twisted's `task.Clock`, checked against Twisted itself on random
//! operation sequences (`tests/compat/clock_ops.rs`):
//! - time starts at zero;
//! - [`ManualClock::advance`] moves time *first*, then runs every call due at or before
//!   the new time, earliest deadline first and calls due together in scheduling order,
//!   including calls scheduled while it runs, so `advance(0)` flushes zero-delay calls;
//! - a pending call can be cancelled, reset to a new delay, or delayed further; a reset
//!   or delayed call keeps its place among calls due at the same time as Twisted's
//!   stable sort keeps it (see [`ManualClock`]), and a call delayed while overdue stays
//!   overdue: delaying it by zero changes nothing;
//! - once a call has run or been cancelled those operations fail with a [`CallError`]
//!   that says which, for the last 16 million calls (Twisted's handle remembers
//!   forever; weft's is a number, so the clock remembers for it, within a bound).
//!
//! Times are integer nanoseconds, so sums and remainders are exact where Twisted's
//! floating-point seconds round.

mod heap;
mod looping;
mod manual;
#[cfg(test)]
mod model_tests;
mod outcomes;

use std::time::Duration;

use crate::time::Instant;

pub use looping::{LoopingCall, Tick};
pub use manual::ManualClock;

/// Handle to one scheduled call, for cancelling, resetting or delaying it.
///
/// Each call gets a number of its own, never reused by its clock, so an old handle can
/// never reach a newer call.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CallId(u64);

/// Why a [`CallId`] can no longer be cancelled, reset or delayed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CallError {
    /// The call has already run (Twisted's `AlreadyCalled`).
    #[error("tried to change an already-called event")]
    AlreadyCalled,
    /// The call was cancelled (Twisted's `AlreadyCancelled`).
    #[error("tried to change an already-cancelled event")]
    AlreadyCancelled,
    /// The call ended so long ago (more than 16 million calls since) that the clock no
    /// longer remembers whether it ran or was cancelled, or the handle is another
    /// clock's.
    #[error("tried to change an event that ended long ago")]
    Expired,
}

/// What a protocol may do with time: read it, and schedule, cancel, reset or delay named
/// calls. `T` is the protocol's timer type.
///
/// Implemented by [`ManualClock`] and by [`MapClock`], the view a program hands to the
/// protocols of its connections.
pub trait Clock<T> {
    /// The current virtual time.
    fn now(&self) -> Instant;
    /// Schedules `timer` to fire `delay` from now.
    fn call_later(&mut self, delay: Duration, timer: T) -> CallId;
    /// Cancels a pending call.
    fn cancel(&mut self, call: CallId) -> Result<(), CallError>;
    /// Moves a pending call to `delay` from now.
    fn reset(&mut self, call: CallId, delay: Duration) -> Result<(), CallError>;
    /// Pushes a pending call `by` later than its current deadline.
    fn delay(&mut self, call: CallId, by: Duration) -> Result<(), CallError>;
    /// The deadline of a pending call; `None` once it has run or been cancelled.
    fn deadline(&self, call: CallId) -> Option<Instant>;

    /// Whether the call is still pending (Twisted's `DelayedCall.active()`).
    fn active(&self, call: CallId) -> bool {
        self.deadline(call).is_some()
    }
}

/// A [`Clock`] for timer type `T` on top of a clock for a wider type `U`.
///
/// A program that owns several connections keeps one clock for its own timer type and
/// gives each connection's protocol this view, which wraps the protocol's timers (with
/// `wrap`, typically adding the connection id) on the way in.
pub struct MapClock<'a, U, F> {
    inner: &'a mut dyn Clock<U>,
    wrap: F,
}

impl<'a, U, F> MapClock<'a, U, F> {
    /// A view of `inner` that schedules `wrap(timer)` for each `timer`.
    pub fn new(inner: &'a mut dyn Clock<U>, wrap: F) -> Self {
        Self { inner, wrap }
    }
}

impl<T, U, F: Fn(T) -> U> Clock<T> for MapClock<'_, U, F> {
    fn now(&self) -> Instant {
        self.inner.now()
    }
    fn call_later(&mut self, delay: Duration, timer: T) -> CallId {
        self.inner.call_later(delay, (self.wrap)(timer))
    }
    fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        self.inner.cancel(call)
    }
    fn reset(&mut self, call: CallId, delay: Duration) -> Result<(), CallError> {
        self.inner.reset(call, delay)
    }
    fn delay(&mut self, call: CallId, by: Duration) -> Result<(), CallError> {
        self.inner.delay(call, by)
    }
    fn deadline(&self, call: CallId) -> Option<Instant> {
        self.inner.deadline(call)
    }
}
