//! A timing wheel of scheduled events: pushing and popping cost the same whether a few
//! events wait or thousands (a binary heap's every pop walks `log n` levels, each a
//! likely cache miss once the heap outgrows the first-level cache).
//!
//! Time is cut into slices of [`SLICE_NANOS`]; the wheel's [`SLICES`] buckets hold the
//! events of the current slice and of the slices after it, a bucket per slice. The
//! current slice's bucket is kept sorted latest first, so a pop takes its last; the
//! later ones are unsorted. Events past the wheel's reach wait in a binary heap of
//! their own (`far`) until the wheel comes round to them. When the current bucket
//! empties, the next occupied one (found through a bitmap) becomes current and is
//! sorted (with a thousand connections over 1–20 ms, a slice holds one or two events).
//! An event scheduled into the current slice or before it (never before the last
//! popped, as SimNet schedules nothing before `now`; but it would still come out in
//! order) is put in its place in the current bucket, most often at the end (an event
//! due at once).
//!
//! The events themselves move, not keys of them: keeping an event beside its time and
//! sequence number spares a slot table and its free list.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Scheduled;
use crate::time::Instant;

/// Bits of a nanosecond time below its slice: slices of 2^15 ns (32.8 µs), a few
/// arrivals each when a thousand connections have 1–20 ms of latency.
const SLICE_BITS: u32 = 15;

/// Nanoseconds per slice.
#[cfg(test)]
const SLICE_NANOS: u64 = 1 << SLICE_BITS;

/// Buckets of the wheel: with slices of 32.8 µs, it reaches 33.6 ms ahead.
const SLICES: usize = 1 << 10;

/// Words of the occupancy bitmap.
const WORDS: usize = SLICES / 64;

/// The slice of an event's time.
#[inline(always)]
fn slice(at: Instant) -> u64 {
    at.as_nanos() >> SLICE_BITS
}

/// The bucket of a slice.
#[inline(always)]
fn bucket(slice: u64) -> usize {
    slice as usize % SLICES
}

/// The events, by slice.
#[derive(Debug)]
pub(super) struct Wheel {
    /// The current slice: its bucket holds its events and any of earlier slices,
    /// sorted latest first; every other bucket's are of a later slice, below
    /// `current + SLICES`.
    current: u64,
    /// `buckets[slice % SLICES]`: the events of one slice, in no order but the
    /// current one's.
    buckets: Box<[Vec<Scheduled>; SLICES]>,
    /// Bit `i % 64` of word `i / 64` set when `buckets[i]` holds an event and is not
    /// the current one.
    occupied: [u64; WORDS],
    /// Bit `w` set when word `w` of `occupied` is not zero.
    words: u64,
    /// Events of slices from `current + SLICES` on, earliest first.
    far: BinaryHeap<Reverse<Scheduled>>,
    len: usize,
}

impl Default for Wheel {
    fn default() -> Self {
        Self {
            current: 0,
            buckets: Box::new(std::array::from_fn(|_| Vec::new())),
            occupied: [0; WORDS],
            words: 0,
            far: BinaryHeap::new(),
            len: 0,
        }
    }
}

impl Wheel {
    /// How many events wait.
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether no event waits.
    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room for how many events the wheel holds (for tests: vectors are kept, never
    /// dropped, so the room stays bounded by the most that waited in each).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        let buckets: usize = self.buckets.iter().map(Vec::capacity).sum();
        buckets + self.far.capacity()
    }

    /// The earliest event.
    #[inline(always)]
    pub(super) fn first(&self) -> Option<&Scheduled> {
        self.buckets[bucket(self.current)].last()
    }

    /// The earliest event's time and sequence number.
    #[inline(always)]
    pub(super) fn peek(&self) -> Option<(Instant, u64)> {
        self.first().map(|first| (first.at, first.seq))
    }

    /// Queues an event (the caller checked the limits).
    #[inline(always)]
    pub(super) fn push(&mut self, scheduled: Scheduled) {
        let at = slice(scheduled.at);
        self.len += 1;
        if self.len == 1 {
            // Nothing waited: the event's slice becomes the current one.
            self.current = at;
            self.buckets[bucket(at)].push(scheduled);
            return;
        }
        self.place(scheduled);
    }

    /// The bucket of an event at `at` if that is in a later slice than the current
    /// one, within the wheel's reach (the wheel not empty: else `current` is stale).
    #[inline(always)]
    pub(super) fn later_bucket(&self, at: Instant) -> Option<usize> {
        let ahead = slice(at).wrapping_sub(self.current);
        (ahead.wrapping_sub(1) < SLICES as u64 - 1).then_some(bucket(slice(at)))
    }

    /// Whether bucket `i` has room for one more event without growing.
    #[inline(always)]
    pub(super) fn has_room(&self, i: usize) -> bool {
        self.buckets[i].len() < self.buckets[i].capacity()
    }

    /// Queues an event in the later bucket `i` ([`later_bucket`](Self::later_bucket)).
    #[inline(always)]
    pub(super) fn push_later(&mut self, i: usize, scheduled: Scheduled) {
        self.buckets[i].push(scheduled);
        self.len += 1;
        self.occupied[i / 64] |= 1 << (i % 64);
        self.words |= 1 << (i / 64);
    }

    /// Puts an event where its slice says: in a later bucket unsorted, else out of the
    /// way.
    #[inline(always)]
    fn place(&mut self, scheduled: Scheduled) {
        let ahead = slice(scheduled.at).wrapping_sub(self.current);
        if ahead.wrapping_sub(1) < SLICES as u64 - 1 {
            let i = bucket(slice(scheduled.at));
            self.buckets[i].push(scheduled);
            self.occupied[i / 64] |= 1 << (i % 64);
            self.words |= 1 << (i / 64);
        } else {
            self.place_now_or_far(scheduled, ahead);
        }
    }

    /// [`place`](Self::place) for an event of the current slice (or before it), in its
    /// place in the current bucket, or past the wheel's reach, on the far heap.
    #[inline(never)]
    fn place_now_or_far(&mut self, scheduled: Scheduled, ahead: u64) {
        // `ahead` wrapped round if the slice is before the current one.
        if ahead == 0 || ahead > u64::MAX / 2 {
            let now = &mut self.buckets[bucket(self.current)];
            let rank = scheduled.rank();
            if now.last().is_none_or(|last| rank < last.rank()) {
                now.push(scheduled);
            } else {
                let at = now.partition_point(|s| s.rank() > rank);
                now.insert(at, scheduled);
            }
        } else {
            self.far.push(Reverse(scheduled));
        }
    }

    /// Takes the earliest event.
    #[inline(always)]
    pub(super) fn pop(&mut self) -> Option<Scheduled> {
        let now = &mut self.buckets[bucket(self.current)];
        let first = now.pop()?;
        self.len -= 1;
        if now.is_empty() && self.len > 0 {
            self.advance();
        }
        Some(first)
    }

    /// Makes the next slice holding events the current one (the current bucket empty,
    /// some event waiting).
    #[inline(never)]
    fn advance(&mut self) {
        match self.next_occupied() {
            Some(i) => {
                let ahead = (i + SLICES - bucket(self.current)) % SLICES;
                self.current += ahead as u64;
                self.occupied[i / 64] &= !(1 << (i % 64));
                if self.occupied[i / 64] == 0 {
                    self.words &= !(1 << (i / 64));
                }
                let now = &mut self.buckets[i];
                if now.len() > 1 {
                    now.sort_unstable_by_key(|s| Reverse(s.rank()));
                }
            }
            None => {
                let Reverse(first) = self.far.peek().expect("an event waits");
                self.current = slice(first.at);
            }
        }
        // The wheel now reaches further: far events it reaches come onto it.
        if !self.far.is_empty() {
            self.come_round();
        }
    }

    /// Moves the far events the wheel now reaches onto it.
    #[inline(never)]
    fn come_round(&mut self) {
        let reach = self.current + SLICES as u64;
        while (self.far.peek()).is_some_and(|Reverse(first)| slice(first.at) < reach) {
            let Reverse(first) = self.far.pop().expect("just peeked");
            self.place(first);
        }
    }

    /// The bucket of the first occupied slice after the current one.
    #[inline(always)]
    fn next_occupied(&self) -> Option<usize> {
        if self.words == 0 {
            return None;
        }
        let from = bucket(self.current + 1);
        let (word, bit) = (from / 64, from % 64);
        // The rest of the starting word, then the later words, then round again.
        let rest = self.occupied[word] & (u64::MAX << bit);
        if rest != 0 {
            return Some(word * 64 + rest.trailing_zeros() as usize);
        }
        let later = self.words & (u64::MAX << word).wrapping_shl(1);
        let w = if later != 0 {
            later.trailing_zeros()
        } else {
            self.words.trailing_zeros()
        } as usize;
        Some(w * 64 + self.occupied[w].trailing_zeros() as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::Event;
    use super::*;
    use proptest::prelude::*;

    fn event(at: u64, seq: u64) -> Scheduled {
        Scheduled {
            at: Instant::from_nanos(at),
            seq,
            event: Event::ConnectDeadline { conn: seq },
        }
    }

    fn drain(wheel: &mut Wheel) -> Vec<(u64, u64)> {
        std::iter::from_fn(|| wheel.pop())
            .map(|s| (s.at.as_nanos(), s.seq))
            .collect()
    }

    #[test]
    fn events_come_out_by_time_then_sequence_near_and_far() {
        let mut wheel = Wheel::default();
        let reach = SLICE_NANOS * SLICES as u64;
        let pushed = [
            (30, 1),
            (10, 2),
            (30, 3),
            (3 * SLICE_NANOS, 4),
            (reach + 5, 5),
            (u64::MAX, 6),
            (10, 7),
            (reach - 1, 8),
        ];
        for (at, seq) in pushed {
            wheel.push(event(at, seq));
        }
        assert_eq!(wheel.len(), 8);
        assert_eq!(wheel.far.len(), 2, "past the wheel's reach");
        assert_eq!(wheel.peek().map(|(_, seq)| seq), Some(2));
        let want = [
            (10, 2),
            (10, 7),
            (30, 1),
            (30, 3),
            (3 * SLICE_NANOS, 4),
            (reach - 1, 8),
            (reach + 5, 5),
            (u64::MAX, 6),
        ];
        assert_eq!(drain(&mut wheel), want);
        assert!(wheel.is_empty());
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn the_wheel_comes_round_to_its_first_buckets_again() {
        let mut wheel = Wheel::default();
        // Slices 1000 and 1030 wrap round the 1024 buckets: 1030 is bucket 6.
        wheel.push(event(1000 * SLICE_NANOS, 1));
        wheel.push(event(1030 * SLICE_NANOS, 2));
        wheel.push(event(1010 * SLICE_NANOS, 3));
        assert_eq!(wheel.buckets[6].len(), 1);
        assert_eq!(drain(&mut wheel).len(), 3);
        // Late events after a pop, then one before it (never from SimNet).
        wheel.push(event(5_000 * SLICE_NANOS, 4));
        wheel.push(event(5_002 * SLICE_NANOS, 5));
        assert_eq!(wheel.pop().map(|s| s.seq), Some(4));
        wheel.push(event(7, 6));
        assert_eq!(drain(&mut wheel), [(7, 6), (5_002 * SLICE_NANOS, 5)]);
    }

    #[test]
    fn many_events_of_one_slice_come_out_in_sequence_order() {
        let mut wheel = Wheel::default();
        for seq in (1..=300).rev() {
            wheel.push(event(SLICE_NANOS * 9 + seq % 7, seq));
        }
        let out = drain(&mut wheel);
        assert_eq!(out.len(), 300);
        assert!(out.windows(2).all(|w| w[0] < w[1]), "by (time, sequence)");
    }

    #[test]
    fn a_long_stream_of_few_waiting_events_keeps_its_room() {
        // Ten events wait at once, each popped one followed by one 1 to 20 ms later
        // (a pseudo-random walk): the buckets keep their room when they empty, so the
        // room stops growing once each has had its turn.
        let mut wheel = Wheel::default();
        let mut draw = 7u64;
        let mut next = |now: u64| {
            draw = draw.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            now + 1_000_000 + (draw >> 33) % 19_000_000
        };
        let mut seq = 0;
        for _ in 0..10 {
            seq += 1;
            wheel.push(event(next(0), seq));
        }
        let mut room = 0;
        for round in 0..100_000 {
            let popped = wheel.pop().expect("ten wait");
            seq += 1;
            wheel.push(event(next(popped.at.as_nanos()), seq));
            if round == 10_000 {
                room = wheel.capacity();
            }
        }
        assert_eq!(wheel.len(), 10);
        assert_eq!(wheel.capacity(), room, "no growth after the first turns");
        assert!(room <= 16 * (SLICES + 1), "at most 16 each: {room}");
    }

    proptest! {
        /// Against a sorted reference, over interleavings of pops and pushes (mostly at
        /// or after the last pop, as SimNet's; ties in time; near, wrapping and far
        /// times).
        #[test]
        fn pops_match_a_sorted_reference(
            steps in prop::collection::vec((0u8..5, 0u64..2_000, 0u8..4), 1..400),
        ) {
            let mut wheel = Wheel::default();
            let mut reference = std::collections::BTreeSet::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for (action, delay, scale) in steps {
                if action == 0 {
                    let got = wheel.pop().map(|s| (s.at.as_nanos(), s.seq));
                    let want = reference.pop_first();
                    prop_assert_eq!(got, want);
                    if let Some((at, _)) = want {
                        now = at;
                    }
                } else {
                    seq += 1;
                    // Ties, a slice or two ahead, round the wheel, or far past it.
                    let at = match scale {
                        0 => now + delay % 3,
                        1 => now + delay * 100,
                        2 => now + delay * SLICE_NANOS,
                        _ if action == 4 => now.saturating_sub(delay),
                        _ => now + (delay << 30),
                    };
                    wheel.push(event(at, seq));
                    reference.insert((at, seq));
                }
                prop_assert_eq!(wheel.len(), reference.len());
                let first = wheel.peek().map(|(at, seq)| (at.as_nanos(), seq));
                prop_assert_eq!(first, reference.first().copied());
            }
            let rest: Vec<(u64, u64)> = reference.into_iter().collect();
            prop_assert_eq!(drain(&mut wheel), rest);
        }
    }
}
