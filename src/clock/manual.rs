//! [`ManualClock`]: Twisted's `task.Clock`, on a timer queue instead of a sorted list.

use std::fmt;
use std::time::Duration;

use super::heap::{Entry, MAX_SLOTS, PLACE_LIMIT, SLOT_BITS, TimerQueue};
use super::outcomes::Outcomes;
use super::{CallError, CallId, Clock};
use crate::time::Instant;

/// Marks a slot's place while its call has been reset or delayed and not yet re-sorted.
const MOVED: u64 = 1 << 63;
/// The serial and place of an empty slot: never issued, never matched.
const VACANT: u64 = u64::MAX;
/// [`ManualClock`]'s cached next deadline when it is not known.
const UNKNOWN: u64 = u64::MAX;
/// [`ManualClock`]'s cached next deadline when nothing is pending.
const NOTHING: u64 = u64::MAX - 1;

struct Slot<T> {
    /// Serial number of the pending call in this slot, or [`VACANT`].
    serial: u64,
    /// When the call is due now.
    deadline: u64,
    /// Its rank among calls due at the same time (its queue entry's place), with
    /// [`MOVED`] set while it waits to be re-sorted.
    place: u64,
    timer: Option<T>,
}

/// A call reset or delayed since the last sort, and its deadline at that sort.
#[derive(Clone, Copy)]
struct Moved {
    slot: u32,
    from: u64,
}

/// A clock whose time moves only when told to, holding every pending call.
///
/// This is both Twisted's `task.Clock` test double and the timer queue of every weft
/// driver: under simulation time is always manual, and the tokio driver moves it to
/// tokio's clock before popping due calls.
///
/// Order follows Twisted's `Clock`, which keeps its calls in a list that it sorts
/// stably by time whenever a call is scheduled and before each call of `advance` runs:
/// calls due at the same time run in the order they were scheduled, and a call that is
/// reset or delayed keeps its place in that list, so that it runs *first* among calls
/// already due at its new time if it was moved later, *last* if it was moved earlier,
/// and where it was if its time did not change. Pending calls live in a queue keyed by
/// (deadline, place) (a sorted run and a 4-ary heap), so scheduling is O(log n) rather
/// than a sort of the whole list.
/// A reset only marks its call; the next sort point gives it its new place.
// Drivers read `now`, `pending` and `next_known` on every event: first, together.
#[repr(C)]
pub struct ManualClock<T> {
    now: Instant,
    pending: usize,
    /// The earliest pending deadline, while no call has been scheduled, moved, run or
    /// cancelled since it was found (drivers ask after every event); [`NOTHING`] while
    /// nothing is pending, [`UNKNOWN`] if not known. One word rather than an `Option`,
    /// so that the three fields take 24 bytes and [`timers_stamp`](Self::timers_stamp)
    /// is a load: a call due at either marker's nanosecond is merely never cached.
    next_known: u64,
    queue: TimerQueue,
    slots: Vec<Slot<T>>,
    vacant: Vec<u32>,
    moved: Vec<Moved>,
    next_serial: u64,
    /// The next place before every place given so far (counts down).
    next_first: u64,
    /// The next place after every place given so far (counts up).
    next_last: u64,
    outcomes: Outcomes,
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
            queue: TimerQueue::default(),
            slots: Vec::new(),
            vacant: Vec::new(),
            moved: Vec::new(),
            next_serial: 0,
            next_first: PLACE_LIMIT / 2 - 1,
            next_last: PLACE_LIMIT / 2,
            outcomes: Outcomes::default(),
            pending: 0,
            next_known: NOTHING,
        }
    }

    /// The bytes, from its start, that drivers read on every event.
    #[cfg(test)]
    pub(crate) const HOT_BYTES: usize = std::mem::offset_of!(Self, next_known) + 8;

    /// Schedules `timer` at an absolute deadline (clamped to now if in the past), after
    /// every call already due then.
    pub fn call_at(&mut self, deadline: Instant, timer: T) -> CallId {
        // Twisted sorts its list here: calls moved since take their places first.
        self.sort();
        let deadline = deadline.max(self.now).as_nanos();
        let serial = self.next_serial;
        // 2^40 calls in one clock's life: a call every nanosecond for 18 minutes of
        // wall time, far beyond any run.
        assert!(
            serial < 1 << (64 - SLOT_BITS),
            "clock call numbers exhausted"
        );
        self.next_serial += 1;
        self.outcomes.issue(serial);
        let place = self.take_last_place();
        let slot = Slot {
            serial,
            deadline,
            place,
            timer: Some(timer),
        };
        let index = if let Some(index) = self.vacant.pop() {
            self.slots[index as usize] = slot;
            index
        } else {
            assert!(
                self.slots.len() < MAX_SLOTS,
                "more than 16M timers pending at once"
            );
            let index = u32::try_from(self.slots.len()).expect("MAX_SLOTS fits u32");
            self.slots.push(slot);
            index
        };
        self.queue.push(Entry::new(deadline, place, index));
        self.pending += 1;
        self.next_known = UNKNOWN;
        CallId((serial << SLOT_BITS) | u64::from(index))
    }

    /// Number of pending calls.
    pub fn pending_count(&self) -> usize {
        self.pending
    }

    /// The pending calls in the order they will fire, with their deadlines (Twisted's
    /// `getDelayedCalls`, sorted as its clock would sort it next).
    pub fn pending_calls(&self) -> Vec<(CallId, Instant, &T)> {
        let from = |index: usize| {
            self.moved
                .iter()
                .find(|m| m.slot as usize == index)
                .map(|m| m.from)
        };
        let mut calls: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.serial != VACANT)
            .map(|(index, slot)| {
                let place = slot.place & !MOVED;
                // The order the next sort gives (see `sort`): within one deadline, calls
                // moved later come first, by their old position; then the calls already
                // there, by place; then calls moved earlier, by their old position.
                let rank = match from(index).filter(|_| slot.place & MOVED != 0) {
                    Some(from) if from < slot.deadline => (0, from, place),
                    Some(from) if from > slot.deadline => (2, from, place),
                    _ => (1, place, 0),
                };
                (slot.deadline, rank, index, slot)
            })
            .collect();
        calls.sort_by_key(|&(deadline, rank, ..)| (deadline, rank));
        calls
            .into_iter()
            .map(|(deadline, _, index, slot)| {
                let timer = slot.timer.as_ref().expect("a pending call has its timer");
                let index = u64::try_from(index).expect("slot index fits u64");
                let id = CallId((slot.serial << SLOT_BITS) | index);
                (id, Instant::from_nanos(deadline), timer)
            })
            .collect()
    }

    /// The earliest pending deadline, if any.
    #[inline]
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.next_deadline_nanos().map(Instant::from_nanos)
    }

    /// The earliest pending deadline if it is known without a sort (`Some(None)`:
    /// nothing pending); `None` once a call has been scheduled, moved, run or
    /// cancelled since [`next_deadline`](Self::next_deadline) last found it. Equal
    /// answers before and after a callback tell a driver the callback left the timers
    /// alone, without adding a sort point (which would place reset calls early).
    #[inline]
    pub fn known_deadline(&self) -> Option<Option<Instant>> {
        debug_assert_eq!(self.pending == 0, self.next_known == NOTHING);
        match self.next_known {
            UNKNOWN => None,
            NOTHING => Some(None),
            known => Some(Some(Instant::from_nanos(known))),
        }
    }

    /// One word that stands for [`known_deadline`](Self::known_deadline): two stamps
    /// are equal if and only if the known deadlines are, and [`Self::UNKNOWN_STAMP`]
    /// is the stamp of an unknown one. A driver compares the stamps before and after a
    /// callback with a load and a comparison.
    #[inline]
    pub(crate) fn timers_stamp(&self) -> u64 {
        self.next_known
    }

    /// The [`timers_stamp`](Self::timers_stamp) of a deadline not known.
    pub(crate) const UNKNOWN_STAMP: u64 = UNKNOWN;

    /// The earliest pending deadline, from the cache when nothing has changed. Nothing
    /// pending means no call waits to be re-sorted either (a moved call that ended is
    /// only dropped by the next sort), so the sort can wait too.
    #[inline]
    fn next_deadline_nanos(&mut self) -> Option<u64> {
        if self.pending == 0 {
            return None;
        }
        if self.next_known == UNKNOWN {
            self.sort();
            let next = self.live_top().map(Entry::deadline);
            // A deadline that looks like a marker is not cached.
            self.next_known = next.filter(|&d| d < NOTHING).unwrap_or(UNKNOWN);
            return next;
        }
        Some(self.next_known)
    }

    /// Moves time to `t` without running anything. Time never goes backwards: an
    /// earlier `t` is ignored.
    pub fn set_now(&mut self, t: Instant) {
        self.now = self.now.max(t);
    }

    /// Removes and returns the first call due at or before now, if any.
    pub fn pop_due(&mut self) -> Option<(CallId, T)> {
        if self.next_deadline_nanos()? > self.now.as_nanos() {
            return None;
        }
        // Sorted, and the stale entries before the top dropped, just now.
        let top = self.live_top()?;
        self.queue.pop_peeked(top);
        let index = top.slot();
        let slot = &mut self.slots[index as usize];
        let id = CallId((slot.serial << SLOT_BITS) | u64::from(index));
        let timer = slot.timer.take().expect("a pending call has its timer");
        // Ran: the outcome bit stays clear.
        self.vacate(index);
        Some((id, timer))
    }

    /// Twisted's `Clock.advance`: moves time forward by `amount`, then hands every call
    /// due at or before the new time to `fire`, one at a time in the order above. Calls
    /// that `fire` schedules, resets or delays are run too if they fall due, even if
    /// their time is already past.
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

    fn take_last_place(&mut self) -> u64 {
        let place = self.next_last;
        assert!(place < PLACE_LIMIT, "clock places exhausted");
        self.next_last += 1;
        place
    }

    fn take_first_place(&mut self) -> u64 {
        let place = self.next_first;
        self.next_first = place.checked_sub(1).expect("clock places exhausted");
        place
    }

    /// Gives every call reset or delayed since the last sort its new place, as
    /// Twisted's stable sort of its list would: a call keeps its old position in the
    /// list, which lies before every call already due at its new time if it moved
    /// later, after them if it moved earlier. Calls moved in the same direction to
    /// the same time keep their old order among themselves.
    #[inline]
    fn sort(&mut self) {
        if !self.moved.is_empty() {
            self.sort_moved();
        }
    }

    fn sort_moved(&mut self) {
        let mut moved = std::mem::take(&mut self.moved);
        // Cancelled since they moved: nothing to place.
        moved.retain(|m| self.slots[m.slot as usize].serial != VACANT);
        if moved.len() > 1 {
            let slots = &self.slots;
            moved.sort_by_key(|m| (m.from, slots[m.slot as usize].place & !MOVED));
        }
        // Places before all others are handed out downwards: take them last first.
        for m in moved.iter().rev() {
            if m.from < self.slots[m.slot as usize].deadline {
                let place = self.take_first_place();
                self.place(m.slot, place);
            }
        }
        for m in &moved {
            let deadline = self.slots[m.slot as usize].deadline;
            if m.from > deadline {
                let place = self.take_last_place();
                self.place(m.slot, place);
            } else if m.from == deadline {
                // Back where it was: its queue entry is still there and still live.
                self.slots[m.slot as usize].place &= !MOVED;
            }
        }
        moved.clear();
        self.moved = moved;
    }

    fn place(&mut self, index: u32, place: u64) {
        let slot = &mut self.slots[index as usize];
        slot.place = place;
        self.queue.push(Entry::new(slot.deadline, place, index));
        self.sweep_if_stale();
    }

    fn vacate(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.serial = VACANT;
        slot.place = VACANT;
        self.vacant.push(index);
        self.pending -= 1;
        self.next_known = if self.pending == 0 { NOTHING } else { UNKNOWN };
        self.sweep_if_stale();
    }

    /// Sweeps stale entries once they dominate, so that cancel- and reset-heavy
    /// workloads (a timeout cancelled or reset on every read) keep the queue
    /// proportional to the live calls.
    #[inline]
    fn sweep_if_stale(&mut self) {
        if self.queue.len() > 64 && self.queue.len() > 4 * self.pending {
            let slots = &self.slots;
            self.queue.retain(|e| is_live(slots, e));
        }
    }

    /// The first live entry, after discarding the stale ones before it.
    #[inline]
    fn live_top(&mut self) -> Option<Entry> {
        loop {
            let top = self.queue.peek()?;
            if is_live(&self.slots, &top) {
                return Some(top);
            }
            self.queue.pop_peeked(top);
        }
    }

    /// The slot of a pending call, or how it ended.
    fn lookup(&self, call: CallId) -> Result<u32, CallError> {
        let serial = call.0 >> SLOT_BITS;
        let index = (call.0 & ((1 << SLOT_BITS) - 1)) as u32;
        match self.slots.get(index as usize) {
            Some(slot) if slot.serial == serial => Ok(index),
            _ if serial < self.next_serial => Err(self.outcomes.ended(serial)),
            _ => Err(CallError::Expired),
        }
    }

    fn move_to(&mut self, call: CallId, deadline: u64) -> Result<(), CallError> {
        let index = self.lookup(call)?;
        self.next_known = UNKNOWN;
        let slot = &mut self.slots[index as usize];
        if slot.place & MOVED == 0 {
            self.moved.push(Moved {
                slot: index,
                from: slot.deadline,
            });
            slot.place |= MOVED;
        }
        slot.deadline = deadline;
        Ok(())
    }
}

/// Whether a queue entry is its call's current one. A moved call's old entry stays live
/// until it is re-sorted, so that a call moved back to where it was needs no new entry.
#[inline]
fn is_live<T>(slots: &[Slot<T>], entry: &Entry) -> bool {
    slots[entry.slot() as usize].place & !MOVED == entry.place()
}

impl<T> Clock<T> for ManualClock<T> {
    fn now(&self) -> Instant {
        self.now
    }

    fn call_later(&mut self, delay: Duration, timer: T) -> CallId {
        self.call_at(self.now + delay, timer)
    }

    fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        let index = self.lookup(call)?;
        let slot = &mut self.slots[index as usize];
        slot.timer = None;
        self.outcomes.cancel(slot.serial);
        self.vacate(index);
        Ok(())
    }

    fn reset(&mut self, call: CallId, delay: Duration) -> Result<(), CallError> {
        self.move_to(call, (self.now + delay).as_nanos())
    }

    fn delay(&mut self, call: CallId, by: Duration) -> Result<(), CallError> {
        let index = self.lookup(call)?;
        let deadline = Instant::from_nanos(self.slots[index as usize].deadline) + by;
        self.move_to(call, deadline.as_nanos())
    }

    fn deadline(&self, call: CallId) -> Option<Instant> {
        let index = self.lookup(call).ok()?;
        Some(Instant::from_nanos(self.slots[index as usize].deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_ended_calls_keep_only_the_slots_in_use_and_a_bit_each() {
        let mut clock = ManualClock::new();
        let mut last = None;
        for round in 0..1_000u64 {
            for i in 0..1_000u64 {
                let id = clock.call_later(Duration::from_nanos(i), round * 1_000 + i);
                if i % 2 == 0 {
                    clock.cancel(id).unwrap();
                }
                last = Some(id);
            }
            clock.advance(Duration::from_micros(1), |_, _| {});
        }
        assert_eq!(clock.pending_count(), 0);
        assert!(clock.slots.len() <= 1_000, "{} slots", clock.slots.len());
        assert!(clock.queue.len() <= 64 + 4 * 1_000);
        assert_eq!(clock.outcomes.words(), 1_000_000usize.div_ceil(64));
        assert_eq!(clock.cancel(last.unwrap()), Err(CallError::AlreadyCalled));
    }

    /// The stamp stands for the known deadline: equal stamps, equal deadlines, through
    /// every way the deadline can change or be forgotten.
    #[test]
    fn timers_stamps_are_equal_exactly_when_the_known_deadlines_are() {
        let mut clock = ManualClock::new();
        let mut seen: Vec<(u64, Option<Option<Instant>>)> = Vec::new();
        let mut look = |clock: &mut ManualClock<u32>, ask: bool| {
            if ask {
                clock.next_deadline();
            }
            let now = (clock.timers_stamp(), clock.known_deadline());
            assert_eq!(now.0 == ManualClock::<u32>::UNKNOWN_STAMP, now.1.is_none());
            for &(stamp, known) in &seen {
                assert_eq!(stamp == now.0, known == now.1, "{stamp} {known:?} {now:?}");
            }
            seen.push(now);
        };
        look(&mut clock, false);
        assert_eq!(clock.known_deadline(), Some(None), "nothing pending, known");
        let a = clock.call_later(Duration::from_secs(2), 0);
        look(&mut clock, false);
        look(&mut clock, true);
        let b = clock.call_later(Duration::from_secs(1), 1);
        look(&mut clock, true);
        clock.reset(b, Duration::from_secs(3)).unwrap();
        look(&mut clock, false);
        look(&mut clock, true);
        clock.cancel(a).unwrap();
        look(&mut clock, true);
        clock.advance(Duration::from_secs(3), |_, _| {});
        assert_eq!(clock.pending_count(), 0);
        look(&mut clock, false);
        assert_eq!(clock.known_deadline(), Some(None));
        // A deadline on a marker's nanosecond is found, but never cached.
        clock.call_at(Instant::from_nanos(u64::MAX - 1), 2);
        assert_eq!(
            clock.next_deadline(),
            Some(Instant::from_nanos(u64::MAX - 1))
        );
        look(&mut clock, false);
        assert_eq!(clock.known_deadline(), None);
    }

    #[test]
    fn a_timeout_reset_on_every_read_keeps_the_queue_small() {
        let mut clock = ManualClock::new();
        let timeouts: Vec<_> = (0..10)
            .map(|i| clock.call_later(Duration::from_secs(5), i))
            .collect();
        for read in 0..100_000u64 {
            clock.set_now(Instant::from_nanos(read));
            let call = timeouts[(read % 10) as usize];
            clock.reset(call, Duration::from_secs(5)).unwrap();
            assert!(clock.next_deadline().is_some());
        }
        assert!(
            clock.queue.len() <= 64,
            "{} queue entries",
            clock.queue.len()
        );
        assert_eq!(clock.pending_count(), 10);
    }
}
