//! SimNet's queue of future events, in the order they happen: by time, then by the
//! order they were scheduled in.

use std::collections::VecDeque;

use super::limits::RunawayError;
use super::{Event, SimNet};
use crate::time::Instant;

/// An event and when it happens; `seq` orders events due at the same instant.
#[derive(Debug)]
pub(super) struct Scheduled {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) event: Event,
}

impl Scheduled {
    /// The order of events, `(at, seq)`, as one number: compared in two instructions
    /// rather than a chain of two comparisons.
    #[inline(always)]
    fn rank(&self) -> u128 {
        u128::from(self.at.as_nanos()) << 64 | u128::from(self.seq)
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

mod wheel;

use wheel::Wheel;

/// Most events that wait at once (the wheel and the front; connect deadlines apart).
pub(super) const MAX_WAITING: usize = 1 << 24;

/// Sequence numbers a run can use (2^40: at ten million events a second, thirty hours).
const MAX_SEQ: u64 = 1 << 40;

/// The event queue is full: the event was not queued, and the run stops.
#[derive(Debug)]
pub(super) struct QueueFull;

/// The future events.
///
/// The two earliest wait apart in `front` whenever they were queued ahead of
/// everything else waiting: a network with an exchange or two in flight (each
/// arrival answered by the next packet) then queues and takes every event with a
/// comparison and a move, no wheel at all.
///
/// The rest wait on a [`Wheel`] of time slices, whose push and pop cost the same for a
/// few thousand waiting events as for a few (a binary heap's every pop walks down
/// `log n` levels, missing the cache at the lower ones: the cost of a thousand hosts'
/// exchanges).
///
/// Connect deadlines wait for the whole connect timeout, most of them to find the
/// connect long answered: kept out of the wheel, in a list sorted by `(at, seq)`, they
/// do not crowd the wheel's far heap. Connects that share a timeout are scheduled in
/// deadline order, so a deadline goes on the list's end; one that does not is put in
/// its place.
#[derive(Debug)]
pub(super) struct EventQueue {
    /// The earliest event at `front[head]`, and the next at `front[!head]` (set only
    /// with the earliest), each only if earlier than every event in `wheel`: a pop takes
    /// the earliest and flips `head`, so no event moves up.
    front: [Option<Scheduled>; 2],
    head: bool,
    wheel: Wheel,
    deadlines: VecDeque<Scheduled>,
    /// Most events waiting in `front` and `wheel` together ([`MAX_WAITING`];
    /// smaller in tests).
    limit: usize,
}

impl Default for EventQueue {
    fn default() -> Self {
        Self {
            front: [None, None],
            head: false,
            wheel: Wheel::default(),
            deadlines: VecDeque::new(),
            limit: MAX_WAITING,
        }
    }
}

impl EventQueue {
    /// Queues `scheduled`; refused once [`MAX_WAITING`] events wait (connect deadlines
    /// apart) or the run has used up its sequence numbers.
    #[inline(always)]
    pub(super) fn push(&mut self, scheduled: Scheduled) -> Result<(), QueueFull> {
        if matches!(scheduled.event, Event::ConnectDeadline { .. }) {
            self.push_deadline(scheduled);
            return Ok(());
        }
        if scheduled.seq >= MAX_SEQ {
            return Err(QueueFull);
        }
        // With the wheel empty, at most two wait (both in front), below any limit.
        let first = usize::from(self.head);
        let second = first ^ 1;
        if self.wheel.is_empty() && self.front[second].is_none() {
            match &self.front[first] {
                None => self.front[first] = Some(scheduled),
                Some(earliest) if scheduled.rank() < earliest.rank() => {
                    self.front[second] = Some(scheduled);
                    self.head = !self.head;
                }
                Some(_) => self.front[second] = Some(scheduled),
            }
            return Ok(());
        }
        self.push_behind(scheduled)
    }

    /// [`push`](Self::push) with the wheel or both front places taken.
    #[inline(never)]
    fn push_behind(&mut self, scheduled: Scheduled) -> Result<(), QueueFull> {
        // The wheel in use and the event of one of its later slices: later than every
        // event of the wheel's current slice, so than the front's too. With room for
        // the front's two as well, the limit is not near; and with room in the bucket,
        // no call to grow it, so this path saves no registers.
        if self.wheel.len().wrapping_sub(1) < self.limit.saturating_sub(3)
            && let Some(i) = self.wheel.later_bucket(scheduled.at)
            && self.wheel.has_room(i)
        {
            self.wheel.push_later(i, scheduled);
            return Ok(());
        }
        self.push_elsewhere(scheduled)
    }

    /// [`push_behind`](Self::push_behind) with the event not of a later slice of the
    /// wheel's (or the limit near).
    #[inline(never)]
    fn push_elsewhere(&mut self, scheduled: Scheduled) -> Result<(), QueueFull> {
        let first = usize::from(self.head);
        let second = first ^ 1;
        let in_front =
            usize::from(self.front[first].is_some()) + usize::from(self.front[second].is_some());
        if self.wheel.len() + in_front >= self.limit {
            return Err(QueueFull);
        }
        let rank = scheduled.rank();
        let ahead_of_wheel = self.wheel.first().is_none_or(|next| rank < next.rank());
        if self.front[first].is_none() {
            // The wheel is not empty here: it holds the earliest unless this is.
            if ahead_of_wheel {
                self.front[first] = Some(scheduled);
            } else {
                self.wheel.push(scheduled);
            }
        } else if self.front[second].is_none() {
            if ahead_of_wheel {
                self.front[second] = Some(scheduled);
                self.order_front();
            } else {
                self.wheel.push(scheduled);
            }
        } else {
            self.push_past_full_front(scheduled, second);
        }
        Ok(())
    }

    /// [`push_behind`](Self::push_behind) with both front places taken: an event
    /// earlier than the second takes its place, which goes to the wheel as its
    /// earliest.
    fn push_past_full_front(&mut self, scheduled: Scheduled, second: usize) {
        match &mut self.front[second] {
            Some(later) if scheduled.rank() < later.rank() => {
                let later = std::mem::replace(later, scheduled);
                self.wheel.push(later);
                self.order_front();
            }
            _ => self.wheel.push(scheduled),
        }
    }

    /// Makes the earlier of the two front places the first.
    fn order_front(&mut self) {
        let first = usize::from(self.head);
        let second = first ^ 1;
        if let (Some(a), Some(b)) = (&self.front[first], &self.front[second])
            && b.rank() < a.rank()
        {
            self.head = !self.head;
        }
    }

    fn push_deadline(&mut self, scheduled: Scheduled) {
        if self.deadlines.back().is_none_or(|last| *last <= scheduled) {
            self.deadlines.push_back(scheduled);
        } else {
            let at = self.deadlines.partition_point(|d| *d <= scheduled);
            self.deadlines.insert(at, scheduled);
        }
    }

    /// The next event: the front's, else the wheel's first, or the deadlines' first if
    /// earlier.
    #[cfg(test)]
    pub(super) fn pop(&mut self) -> Option<Scheduled> {
        self.pop_due(Instant::MAX)
    }

    /// The next event, if it happens no later than `until` (else it stays queued): the
    /// front's, else the wheel's first, or the deadlines' first if earlier. The
    /// earliest of the front and the wheel is looked up once and compared once with the
    /// first deadline (connect deadlines wait a run's first connect timeout long, so at
    /// scale most pops have one to compare with).
    #[inline(always)]
    pub(super) fn pop_due(&mut self, until: Instant) -> Option<Scheduled> {
        let first = usize::from(self.head);
        let Some(earliest) = &self.front[first] else {
            return self.pop_wheel_due(until);
        };
        let (at, rank) = (earliest.at, earliest.rank());
        if self.deadline_first(rank) {
            return self.pop_deadline(until);
        }
        if at > until {
            return None;
        }
        self.head = !self.head;
        self.front[first].take()
    }

    /// [`pop_due`](Self::pop_due) with the front empty.
    #[inline(always)]
    fn pop_wheel_due(&mut self, until: Instant) -> Option<Scheduled> {
        let Some(next) = self.wheel.first() else {
            return self.pop_deadline(until);
        };
        let (at, rank) = (next.at, next.rank());
        if self.deadline_first(rank) {
            return self.pop_deadline(until);
        }
        if at > until {
            return None;
        }
        self.wheel.pop()
    }

    /// Whether the first connect deadline comes before the event ranked `rank`.
    #[inline(always)]
    fn deadline_first(&self, rank: u128) -> bool {
        self.deadlines.front().is_some_and(|d| d.rank() < rank)
    }

    /// The first connect deadline, if due by `until` (and earlier than the rest).
    #[inline(always)]
    fn pop_deadline(&mut self, until: Instant) -> Option<Scheduled> {
        if self.deadlines.front()?.at > until {
            return None;
        }
        self.deadlines.pop_front()
    }

    /// When the next event happens.
    #[inline]
    pub(super) fn next_at(&self) -> Option<Instant> {
        let first = match &self.front[usize::from(self.head)] {
            Some(first) => Some(first.at),
            None => self.wheel.peek().map(|(at, _)| at),
        };
        if self.deadlines.is_empty() {
            return first;
        }
        let deadline = self.deadlines.front().map(|s| s.at);
        match (first, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.front[usize::from(self.head)].is_none()
            && self.wheel.is_empty()
            && self.deadlines.is_empty()
    }
}

impl SimNet {
    /// Queues `event` at `at`, after every event already queued for that instant; a
    /// full queue stops the run ([`RunawayError::QueueFull`]).
    #[inline(always)]
    pub(super) fn schedule(&mut self, at: Instant, event: Event) {
        self.seq += 1;
        let scheduled = Scheduled {
            at,
            seq: self.seq,
            event,
        };
        if self.queue.push(scheduled).is_err() {
            self.queue_full();
        }
    }

    #[cold]
    fn queue_full(&mut self) {
        if self.stopped.is_none() {
            self.stop(RunawayError::QueueFull {
                limit: MAX_WAITING as u64,
                at: self.now,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, seq: u64, event: Event) -> Scheduled {
        Scheduled {
            at: Instant::from_nanos(ms * 1_000_000),
            seq,
            event,
        }
    }

    #[test]
    fn an_event_takes_no_more_room_than_three_words() {
        // Arrivals carry their host; the wheel and the front move whole events.
        assert!(size_of::<Event>() <= 24);
    }

    #[test]
    fn events_come_out_by_time_then_sequence_whichever_list_holds_them() {
        let mut queue = EventQueue::default();
        let deadline = |conn| Event::ConnectDeadline { conn };
        let arrive = |conn| Event::Arrive {
            conn,
            to: 0,
            host: 0,
        };
        queue.push(at(30, 1, deadline(1))).expect("room");
        queue.push(at(10, 2, arrive(2))).expect("room");
        queue.push(at(30, 3, arrive(3))).expect("room");
        // Shorter timeout, later connect: its deadline goes before the first.
        queue.push(at(20, 4, deadline(4))).expect("room");
        queue.push(at(30, 5, deadline(5))).expect("room");
        queue.push(at(5, 6, arrive(6))).expect("room");
        assert_eq!(queue.next_at(), Some(Instant::from_nanos(5_000_000)));
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop()).map(|s| s.seq).collect();
        assert_eq!(order, [6, 2, 4, 1, 3, 5]);
        assert!(queue.is_empty());
        assert_eq!(queue.next_at(), None);
    }

    #[test]
    fn a_steady_stream_of_events_keeps_its_order_in_bounded_room() {
        let mut queue = EventQueue::default();
        let arrive = |conn| Event::Arrive {
            conn,
            to: 0,
            host: 0,
        };
        let mut popped = Vec::new();
        for seq in 0..1_000u64 {
            // Later times first within each pair: the order is by time, not by push.
            queue
                .push(at(seq + 2, 2 * seq + 1, arrive(seq)))
                .expect("room");
            queue
                .push(at(seq + 1, 2 * seq + 2, arrive(seq)))
                .expect("room");
            popped.extend(queue.pop().map(|s| (s.at, s.seq)));
        }
        popped.extend(std::iter::from_fn(|| queue.pop()).map(|s| (s.at, s.seq)));
        assert_eq!(popped.len(), 2_000);
        assert!(
            popped.windows(2).all(|w| w[0] <= w[1]),
            "in (time, sequence) order"
        );
        assert!(queue.is_empty());
        // At most 1,001 waited at once: the room is the wheel's buckets at their
        // smallest (four events each) and what the far heap grew to.
        let room = queue.wheel.capacity();
        assert!(room <= 4 * 1_025 + 2_048, "room bounded: {room}");
    }

    #[test]
    fn events_at_one_instant_come_out_in_the_order_they_were_scheduled_front_or_wheel() {
        let mut queue = EventQueue::default();
        let arrive = |conn| Event::Arrive {
            conn,
            to: 0,
            host: 0,
        };
        // The first goes to the front; the later ones at the same instant to the wheel,
        // one earlier instant displaces the front, and a deadline ties with them too.
        queue.push(at(7, 10, arrive(1))).expect("room");
        queue.push(at(7, 11, arrive(2))).expect("room");
        queue
            .push(at(7, 12, Event::ConnectDeadline { conn: 3 }))
            .expect("room");
        queue.push(at(7, 13, arrive(4))).expect("room");
        queue.push(at(3, 14, arrive(5))).expect("room");
        queue.push(at(7, 9, arrive(6))).expect("room");
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop()).map(|s| s.seq).collect();
        assert_eq!(order, [14, 9, 10, 11, 12, 13]);
    }

    #[test]
    fn an_event_earlier_than_the_wheels_first_waits_in_front_and_keeps_the_order_after_a_pop() {
        let mut queue = EventQueue::default();
        let arrive = |conn| Event::Arrive {
            conn,
            to: 0,
            host: 0,
        };
        queue.push(at(5, 1, arrive(1))).expect("room");
        queue.push(at(9, 2, arrive(2))).expect("room");
        queue.push(at(12, 3, arrive(3))).expect("room");
        assert_eq!(queue.wheel.len(), 1, "the third waits in the wheel");
        assert_eq!(queue.pop().map(|s| s.seq), Some(1), "the front first");
        // One front place is free and the wheel holds 3: an earlier event goes in front
        // (before 2), a later one into the wheel.
        queue.push(at(6, 4, arrive(4))).expect("room");
        assert_eq!(queue.wheel.len(), 1, "earlier than the wheel's first");
        queue.push(at(15, 5, arrive(5))).expect("room");
        queue.push(at(10, 6, arrive(6))).expect("room");
        assert_eq!(queue.next_at(), Some(Instant::from_nanos(6_000_000)));
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop()).map(|s| s.seq).collect();
        assert_eq!(order, [4, 2, 6, 3, 5]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_full_queue_refuses_the_event_past_its_limit_counting_the_front() {
        let mut queue = EventQueue {
            limit: 3,
            ..EventQueue::default()
        };
        let arrive = |conn| Event::Arrive {
            conn,
            to: 0,
            host: 0,
        };
        for seq in 1..=3 {
            queue.push(at(10 - seq, seq, arrive(seq))).expect("room");
        }
        assert!(queue.push(at(1, 4, arrive(4))).is_err(), "a fourth at once");
        // Deadlines wait apart and do not count.
        queue
            .push(at(2, 5, Event::ConnectDeadline { conn: 5 }))
            .expect("apart");
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop()).map(|s| s.seq).collect();
        assert_eq!(order, [5, 3, 2, 1], "the refused event was not queued");
        queue.push(at(1, 6, arrive(6))).expect("room again");
    }

    #[test]
    fn a_queue_out_of_sequence_numbers_refuses_the_event_and_keeps_the_rest() {
        let mut queue = EventQueue::default();
        let arrive = |conn| Event::Arrive {
            conn,
            to: 0,
            host: 0,
        };
        queue
            .push(at(1, MAX_SEQ - 1, arrive(1)))
            .expect("the last number");
        assert!(queue.push(at(2, MAX_SEQ, arrive(2))).is_err());
        assert_eq!(queue.pop().map(|s| s.seq), Some(MAX_SEQ - 1));
        assert!(queue.is_empty(), "the refused event was not queued");
    }

    #[test]
    fn an_event_not_yet_due_stays_queued_wherever_it_waits() {
        let mut queue = EventQueue::default();
        let arrive = |conn| Event::Arrive {
            conn,
            to: 0,
            host: 0,
        };
        for (ms, seq) in [(5, 1), (9, 2), (12, 3)] {
            queue.push(at(ms, seq, arrive(seq))).expect("room");
        }
        queue
            .push(at(10, 4, Event::ConnectDeadline { conn: 4 }))
            .expect("room");
        let until = |ms: u64| Instant::from_nanos(ms * 1_000_000);
        let due = |queue: &mut EventQueue, ms| queue.pop_due(until(ms)).map(|s| s.seq);
        assert_eq!(due(&mut queue, 4), None, "the front's first at 5");
        assert_eq!(due(&mut queue, 5), Some(1));
        assert_eq!(due(&mut queue, 8), None);
        assert_eq!(due(&mut queue, 9), Some(2));
        assert_eq!(due(&mut queue, 9), None, "the deadline at 10");
        assert_eq!(due(&mut queue, 10), Some(4));
        assert_eq!(due(&mut queue, 11), None, "the wheel's first at 12");
        assert_eq!(queue.next_at(), Some(until(12)));
        assert_eq!(due(&mut queue, 12), Some(3));
        assert!(queue.is_empty());
    }

    proptest::proptest! {
        /// Against a sorted reference, over interleavings of pushes (arrivals and
        /// deadlines, at or after the last event taken, as SimNet schedules them) and
        /// pops of events due by a time: the front, the wheel and the deadlines together
        /// keep the order `(at, seq)`.
        #[test]
        fn events_come_out_as_a_sorted_reference_says(
            steps in proptest::collection::vec((0u8..6, 0u64..40, proptest::bool::ANY), 1..300),
        ) {
            let mut queue = EventQueue::default();
            let mut reference = std::collections::BTreeSet::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for (action, delay, deadline) in steps {
                if action <= 1 {
                    // Due by `now + delay` (everything, now and then).
                    let until = if action == 0 { u64::MAX } else { now + delay };
                    let got = queue.pop_due(Instant::from_nanos(until));
                    let got = got.map(|s| (s.at.as_nanos(), s.seq));
                    let want = reference.first().copied().filter(|&(at, _)| at <= until);
                    proptest::prop_assert_eq!(got, want);
                    if let Some(taken) = want {
                        reference.remove(&taken);
                        now = taken.0;
                    }
                } else {
                    seq += 1;
                    // Ties in time are common; deadlines far, as a connect timeout's.
                    let (at, event) = if deadline {
                        (now + (delay << 20), Event::ConnectDeadline { conn: seq })
                    } else {
                        // Within the wheel's current slice, a few slices on, or past
                        // its reach.
                        let ahead = match delay % 3 {
                            0 => delay % 8,
                            1 => delay * 50_000,
                            _ => delay << 26,
                        };
                        (now + ahead, Event::Arrive { conn: seq, to: 0, host: 0 })
                    };
                    queue.push(Scheduled { at: Instant::from_nanos(at), seq, event }).expect("room");
                    reference.insert((at, seq));
                }
                let next = reference.first().map(|&(at, _)| Instant::from_nanos(at));
                proptest::prop_assert_eq!(queue.next_at(), next);
                proptest::prop_assert_eq!(queue.is_empty(), reference.is_empty());
            }
        }
    }
}
