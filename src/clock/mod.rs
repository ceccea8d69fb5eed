//! Time as data: the [`Clock`] trait protocols schedule on, the [`ManualClock`] every
//! driver keeps, and [`LoopingCall`].
//!
//! Twisted's `callLater(delay, f, *args)` stores a closure. weft stores a *value*: a
//! protocol names its timers (usually a small `enum`), schedules one with
//! [`Clock::call_later`], and gets it back through `timer_fired(timer)` when it falls due.
//! Nothing is captured, so nothing needs `Rc<RefCell<..>>`, and a pending timer can be
//! printed, compared and recorded in a transcript.
//!
//! The semantics are Twisted's `task.Clock`:
//! - time starts at zero;
//! - [`ManualClock::advance`] moves time *first*, then runs every call due at or before
//!   the new time in (deadline, scheduling order), including calls scheduled while it
//!   runs, so `advance(0)` flushes zero-delay calls;
//! - a pending call can be cancelled, reset to a new delay, or delayed further; once it
//!   has run or been cancelled those operations fail with a [`CallError`].
//!
//! One deliberate refinement: a call that is reset or delayed takes its place in the
//! scheduling order anew, as if it had just been scheduled. (Twisted's tie order after a
//! reset depends on the history of its list sorts.)

mod heap;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::time::Instant;
use heap::{Entry, MAX_SLOTS, TimerHeap};

/// Handle to one scheduled call, for cancelling, resetting or delaying it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CallId {
    slot: u32,
    generation: u32,
}

/// Why a [`CallId`] can no longer be cancelled, reset or delayed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CallError {
    /// The call has already run (Twisted's `AlreadyCalled`).
    #[error("tried to change an already-called event")]
    AlreadyCalled,
    /// The call was cancelled (Twisted's `AlreadyCancelled`).
    #[error("tried to change an already-cancelled event")]
    AlreadyCancelled,
    /// The handle belongs to a call that ended long ago and whose record was recycled.
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

enum SlotState<T> {
    Pending {
        deadline: Instant,
        seq: u64,
        timer: T,
    },
    Called,
    Cancelled,
}

struct Slot<T> {
    generation: u32,
    state: SlotState<T>,
}

/// A clock whose time moves only when told to, holding every pending call.
///
/// This is both Twisted's `task.Clock` test double and the timer queue of every weft
/// driver: under simulation time is always manual, and the tokio driver moves it to
/// tokio's clock before popping due calls.
///
/// Pending calls live in a binary heap keyed by (deadline, sequence number), so
/// scheduling is O(log n) rather than Twisted's sort on every insert. Cancelled and
/// rescheduled calls leave stale heap entries that are skipped when they surface and
/// swept when they outnumber the live ones.
pub struct ManualClock<T> {
    now: Instant,
    next_seq: u64,
    heap: TimerHeap,
    slots: Vec<Slot<T>>,
    /// Ended slots, reused oldest first so that a stale handle keeps its precise error
    /// ([`CallError::AlreadyCalled`] or [`CallError::AlreadyCancelled`]) as long as possible.
    free: VecDeque<u32>,
    pending: usize,
}

impl<T> Default for ManualClock<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for ManualClock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now)
            .field("pending", &self.pending)
            .finish()
    }
}

impl<T> ManualClock<T> {
    /// A clock at time zero with nothing scheduled.
    pub fn new() -> Self {
        Self {
            now: Instant::ZERO,
            next_seq: 0,
            heap: TimerHeap::default(),
            slots: Vec::new(),
            free: VecDeque::new(),
            pending: 0,
        }
    }

    /// Schedules `timer` at an absolute deadline (clamped to now if in the past).
    pub fn call_at(&mut self, deadline: Instant, timer: T) -> CallId {
        let deadline = deadline.max(self.now);
        let seq = self.take_seq();
        let state = SlotState::Pending {
            deadline,
            seq,
            timer,
        };
        // Reuse an ended slot only when enough have ended, so recently ended handles
        // keep answering precisely.
        let slot = if self.free.len() > 64 {
            let slot = self.free.pop_front().expect("free list is non-empty");
            let entry = &mut self.slots[slot as usize];
            entry.generation = entry.generation.wrapping_add(1);
            entry.state = state;
            slot
        } else {
            assert!(
                self.slots.len() < MAX_SLOTS,
                "more than 16M timers pending at once"
            );
            let slot = u32::try_from(self.slots.len()).expect("MAX_SLOTS fits u32");
            self.slots.push(Slot {
                generation: 0,
                state,
            });
            slot
        };
        self.heap.push(Entry::new(deadline.as_nanos(), seq, slot));
        self.pending += 1;
        CallId {
            slot,
            generation: self.slots[slot as usize].generation,
        }
    }

    /// Number of pending calls.
    pub fn pending_count(&self) -> usize {
        self.pending
    }

    /// The pending calls in firing order, with their deadlines (Twisted's
    /// `getDelayedCalls`, sorted).
    pub fn pending_calls(&self) -> Vec<(CallId, Instant, &T)> {
        let mut calls: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match &slot.state {
                SlotState::Pending {
                    deadline,
                    seq,
                    timer,
                } => Some((*deadline, *seq, i, slot.generation, timer)),
                _ => None,
            })
            .collect();
        calls.sort_by_key(|&(deadline, seq, ..)| (deadline, seq));
        calls
            .into_iter()
            .map(|(deadline, _, slot, generation, timer)| {
                let id = CallId {
                    slot: u32::try_from(slot).expect("slot index fits u32"),
                    generation,
                };
                (id, deadline, timer)
            })
            .collect()
    }

    /// The earliest pending deadline, if any.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.discard_stale_top();
        self.heap.peek().map(|e| Instant::from_nanos(e.deadline()))
    }

    /// Moves time to `t` without running anything. Time never goes backwards: an
    /// earlier `t` is ignored.
    pub fn set_now(&mut self, t: Instant) {
        self.now = self.now.max(t);
    }

    /// Removes and returns the earliest call due at or before now, if any.
    pub fn pop_due(&mut self) -> Option<(CallId, T)> {
        self.discard_stale_top();
        let top = self.heap.peek()?;
        if top.deadline() > self.now.as_nanos() {
            return None;
        }
        self.heap.pop();
        let slot = top.slot();
        let entry = &mut self.slots[slot as usize];
        let SlotState::Pending { timer, .. } =
            std::mem::replace(&mut entry.state, SlotState::Called)
        else {
            unreachable!("discard_stale_top leaves a pending call on top");
        };
        let id = CallId {
            slot,
            generation: entry.generation,
        };
        self.end(slot);
        Some((id, timer))
    }

    /// Twisted's `Clock.advance`: moves time forward by `amount`, then hands every call
    /// due at or before the new time to `fire`, in (deadline, scheduling) order. Calls
    /// that `fire` schedules are run too if they fall due.
    pub fn advance(&mut self, amount: Duration, mut fire: impl FnMut(&mut Self, T)) {
        self.now += amount;
        while let Some((_, timer)) = self.pop_due() {
            fire(self, timer);
        }
    }

    /// Twisted's `Clock.pump`: one [`advance`](Self::advance) per step.
    pub fn pump(&mut self, steps: &[Duration], mut fire: impl FnMut(&mut Self, T)) {
        for &step in steps {
            self.advance(step, &mut fire);
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn end(&mut self, slot: u32) {
        self.pending -= 1;
        self.free.push_back(slot);
        // Sweep stale entries once they dominate, so cancel-heavy workloads (a timeout
        // reset on every read) keep the heap proportional to the live calls.
        if self.heap.len() > 64 && self.heap.len() > 4 * self.pending {
            let slots = &self.slots;
            self.heap.retain(|e| is_live(slots, e.slot(), e.seq()));
        }
    }

    fn discard_stale_top(&mut self) {
        while let Some(top) = self.heap.peek() {
            if is_live(&self.slots, top.slot(), top.seq()) {
                return;
            }
            self.heap.pop();
        }
    }

    fn pending_slot(&mut self, call: CallId) -> Result<&mut SlotState<T>, CallError> {
        let entry = self
            .slots
            .get_mut(call.slot as usize)
            .ok_or(CallError::Expired)?;
        if entry.generation != call.generation {
            return Err(CallError::Expired);
        }
        match entry.state {
            SlotState::Pending { .. } => Ok(&mut entry.state),
            SlotState::Called => Err(CallError::AlreadyCalled),
            SlotState::Cancelled => Err(CallError::AlreadyCancelled),
        }
    }

    fn reschedule(&mut self, call: CallId, new_deadline: Instant) -> Result<(), CallError> {
        let seq = self.next_seq;
        let now = self.now;
        let SlotState::Pending {
            deadline,
            seq: slot_seq,
            ..
        } = self.pending_slot(call)?
        else {
            unreachable!("pending_slot returns pending slots");
        };
        *deadline = new_deadline.max(now);
        *slot_seq = seq;
        let deadline = *deadline;
        self.next_seq += 1;
        self.heap
            .push(Entry::new(deadline.as_nanos(), seq, call.slot));
        Ok(())
    }
}

fn is_live<T>(slots: &[Slot<T>], slot: u32, seq: u64) -> bool {
    matches!(slots[slot as usize].state, SlotState::Pending { seq: s, .. } if s == seq)
}

impl<T> Clock<T> for ManualClock<T> {
    fn now(&self) -> Instant {
        self.now
    }

    fn call_later(&mut self, delay: Duration, timer: T) -> CallId {
        self.call_at(self.now + delay, timer)
    }

    fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        let state = self.pending_slot(call)?;
        *state = SlotState::Cancelled;
        self.end(call.slot);
        Ok(())
    }

    fn reset(&mut self, call: CallId, delay: Duration) -> Result<(), CallError> {
        self.reschedule(call, self.now + delay)
    }

    fn delay(&mut self, call: CallId, by: Duration) -> Result<(), CallError> {
        let current = self.deadline(call);
        match current {
            Some(deadline) => self.reschedule(call, deadline + by),
            None => self.pending_slot(call).map(|_| ()),
        }
    }

    fn deadline(&self, call: CallId) -> Option<Instant> {
        let entry = self.slots.get(call.slot as usize)?;
        match entry.state {
            SlotState::Pending { deadline, .. } if entry.generation == call.generation => {
                Some(deadline)
            }
            _ => None,
        }
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

/// Permission to run one beat of a [`LoopingCall`], handed out by
/// [`LoopingCall::start`] and [`LoopingCall::fired`]. Run the beat's work, then give
/// the tick back to [`LoopingCall::finish`], which schedules the next beat.
#[must_use = "pass the tick to LoopingCall::finish after the beat's work, or the loop stops"]
#[derive(Debug, PartialEq, Eq)]
pub struct Tick {
    /// Intervals elapsed since the previous beat (Twisted's `withCount`): 1 normally,
    /// more when beats were skipped because time jumped.
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
        self.last_beat = None;
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

    /// Restarts interval timing from now without running a beat (Twisted's `reset`).
    pub fn reset(&mut self, clock: &mut dyn Clock<T>) {
        if !self.running {
            return;
        }
        if let Some(call) = self.call.take() {
            let _ = clock.cancel(call);
        }
        self.started_at = clock.now();
        self.schedule_next(clock);
    }

    fn tick(&mut self, now: Instant) -> Tick {
        let interval = self.interval.as_nanos();
        let index = |t: Instant| (t - self.started_at).as_nanos() / interval;
        let count = match self.last_beat {
            Some(last) => index(now).saturating_sub(index(last)),
            // The first beat counts from the beat before the start when run at start.
            None if self.run_at_start => 1,
            None => index(now),
        };
        self.last_beat = Some(now);
        Tick {
            count: u64::try_from(count.max(1)).unwrap_or(u64::MAX),
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
