//! A radix heap of scheduled events, in base 64: push and pop in amortised constant
//! time, each a move to the end of a `Vec` or a pass over a short one, so a few thousand
//! waiting events cost what a few do (a binary heap's every pop walks `log n` levels,
//! each a likely cache miss; a base-2 radix heap moves each event down about as often).
//!
//! It relies on the queue being monotone: no event is pushed before the last one popped.
//! SimNet schedules nothing before `now`, and `now` never goes back past an event that
//! ran, so keys (time, sequence) only grow; a push that broke this would still come out
//! in order, at the price of bucketing every waiting event again (see `lower_last`).

use super::{MAX_SEQ, Scheduled};
use crate::time::Instant;

/// Bits of a key below the time: the sequence number's ([`MAX_SEQ`] is `2^40`).
const SEQ_BITS: u32 = 40;

/// Bits of a key per digit: a level's buckets, one per digit value, fit a `u64` mask.
const DIGIT_BITS: u32 = 6;

/// Buckets per level.
const DIGITS: usize = 1 << DIGIT_BITS;

/// Digits of a key (64 time bits above 40 sequence bits).
const LEVELS: usize = (64 + SEQ_BITS).div_ceil(DIGIT_BITS) as usize;

/// An event's place in the order, `(at, seq)` as one number.
#[inline(always)]
fn key(s: &Scheduled) -> u128 {
    debug_assert!(s.seq < MAX_SEQ, "the queue refuses larger sequence numbers");
    (u128::from(s.at.as_nanos()) << SEQ_BITS) | u128::from(s.seq)
}

/// Events ordered by `(at, seq)`. An event waits at the level of the highest digit its
/// key differs from the last popped key in (level 0 if none), in the bucket of its own
/// digit there: every event of a bucket is earlier than every event of the buckets after
/// it (higher digits of the level, then higher levels), so a pop looks only at the first
/// bucket, and hands the rest of it down to lower levels. An event moves down at most
/// once per level, and at the lower levels buckets hold one or two: a pop's look through
/// its bucket is short.
#[derive(Debug)]
pub(super) struct RadixHeap {
    /// `buckets[level * DIGITS + digit]`, in no order.
    buckets: Box<[Vec<Scheduled>]>,
    /// Bit `level` set when a bucket of that level holds an event.
    levels: u32,
    /// Per level, bit `digit` set when that bucket holds an event.
    digits: [u64; LEVELS],
    /// The key of the last event popped (no event waiting is earlier).
    last: u128,
    len: usize,
}

impl Default for RadixHeap {
    fn default() -> Self {
        Self {
            buckets: (0..LEVELS * DIGITS).map(|_| Vec::new()).collect(),
            levels: 0,
            digits: [0; LEVELS],
            last: 0,
            len: 0,
        }
    }
}

/// Where the earliest event waits: bucket, index in it, key.
#[derive(Clone, Copy, Debug)]
pub(super) struct Earliest {
    bucket: usize,
    index: usize,
    key: u128,
}

impl Earliest {
    /// When the earliest event happens.
    #[inline(always)]
    pub(super) fn at(self) -> Instant {
        Instant::from_nanos((self.key >> SEQ_BITS) as u64)
    }
}

impl RadixHeap {
    /// How many events wait.
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.levels == 0
    }

    /// The bucket for `key` (not below `last`): its level, and its digit there.
    #[inline(always)]
    fn place(&self, key: u128) -> (usize, usize) {
        let differ = key ^ self.last;
        // The highest differing bit's digit (bit 0's for an equal key).
        let level = ((127 - (differ | 1).leading_zeros()) / DIGIT_BITS) as usize;
        let digit = (key >> (level as u32 * DIGIT_BITS)) as usize & (DIGITS - 1);
        (level, digit)
    }

    /// Puts `s` in its bucket.
    #[inline(always)]
    fn put(&mut self, key: u128, s: Scheduled) {
        let (level, digit) = self.place(key);
        self.buckets[level * DIGITS + digit].push(s);
        self.digits[level] |= 1 << digit;
        self.levels |= 1 << level;
    }

    /// Queues an event; it comes out after every waiting event with a smaller key.
    #[inline(always)]
    pub(super) fn push(&mut self, scheduled: Scheduled) {
        let key = key(&scheduled);
        if key < self.last {
            // Never from SimNet: an event before the last one popped.
            self.lower_last(key);
        }
        self.put(key, scheduled);
        self.len += 1;
    }

    /// Makes `key` the last popped key and puts every waiting event in its bucket for it,
    /// so the order holds for an event pushed before the last one popped.
    #[cold]
    fn lower_last(&mut self, key: u128) {
        let mut waiting = Vec::with_capacity(self.len);
        for bucket in &mut self.buckets {
            waiting.append(bucket);
        }
        self.last = key;
        (self.levels, self.digits) = (0, [0; LEVELS]);
        for s in waiting {
            self.put(self::key(&s), s);
        }
    }

    /// The first occupied bucket: its level and digit (some event waits).
    #[inline(always)]
    fn first(&self) -> (usize, usize) {
        let level = self.levels.trailing_zeros() as usize;
        (level, self.digits[level].trailing_zeros() as usize)
    }

    /// Whether `s` comes before every waiting event; a cheap test that may answer false
    /// for one that does (when it falls in the first occupied bucket, or before the last
    /// popped).
    #[inline(always)]
    pub(super) fn surely_before_all(&self, s: &Scheduled) -> bool {
        let key = key(s);
        // Buckets are in order: levels, then digits.
        self.levels == 0 || (key >= self.last && self.place(key) < self.first())
    }

    /// Whether `s` comes before the event at `earliest`.
    #[inline(always)]
    pub(super) fn is_before(s: &Scheduled, earliest: Earliest) -> bool {
        key(s) < earliest.key
    }

    /// Where the earliest event waits: a look through the first bucket.
    #[inline(always)]
    pub(super) fn earliest(&self) -> Option<Earliest> {
        if self.levels == 0 {
            return None;
        }
        let (level, digit) = self.first();
        let bucket = level * DIGITS + digit;
        let events = &self.buckets[bucket];
        let (mut index, mut min) = (0, key(&events[0]));
        for (i, s) in events.iter().enumerate().skip(1) {
            let k = key(s);
            if k < min {
                (index, min) = (i, k);
            }
        }
        Some(Earliest {
            bucket,
            index,
            key: min,
        })
    }

    /// When the earliest event happens.
    pub(super) fn earliest_at(&self) -> Option<Instant> {
        self.earliest().map(Earliest::at)
    }

    /// Takes the event [`earliest`](Self::earliest) found (nothing pushed since), and
    /// hands the rest of its bucket down.
    #[inline(always)]
    pub(super) fn take(&mut self, earliest: Earliest) -> Scheduled {
        let Earliest { bucket, index, key } = earliest;
        let (level, digit) = (bucket / DIGITS, bucket % DIGITS);
        self.len -= 1;
        self.last = key;
        let events = &mut self.buckets[bucket];
        let taken = events.swap_remove(index);
        if level == 0 {
            // The rest (equal keys, never from SimNet) stay where they are.
            if events.is_empty() {
                self.empty(level, digit);
            }
            return taken;
        }
        let rest = !events.is_empty();
        self.empty(level, digit);
        if rest {
            self.hand_down(bucket);
        }
        taken
    }

    /// Marks bucket (`level`, `digit`) empty.
    #[inline(always)]
    fn empty(&mut self, level: usize, digit: usize) {
        self.digits[level] &= !(1 << digit);
        if self.digits[level] == 0 {
            self.levels &= !(1 << level);
        }
    }

    /// Moves the events of `bucket` (all later than the new `last`, and sharing its
    /// digits from the bucket's level up) to the lower levels they now belong in.
    #[inline(never)]
    fn hand_down(&mut self, bucket: usize) {
        let mut events = std::mem::take(&mut self.buckets[bucket]);
        for s in events.drain(..) {
            let key = key(&s);
            debug_assert!(self.place(key).0 < bucket / DIGITS);
            self.put(key, s);
        }
        // Its room stays for the next events of that bucket.
        self.buckets[bucket] = events;
    }

    /// Takes the earliest event.
    #[cfg(test)]
    pub(super) fn pop(&mut self) -> Option<Scheduled> {
        let earliest = self.earliest()?;
        Some(self.take(earliest))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Event;
    use super::*;
    use proptest::prelude::*;

    fn event(at: u64, seq: u64) -> Scheduled {
        Scheduled {
            at: Instant::from_nanos(at),
            seq,
            event: Event::ConnectDeadline { conn: seq },
        }
    }

    fn drain(heap: &mut RadixHeap) -> Vec<(u64, u64)> {
        std::iter::from_fn(|| heap.pop())
            .map(|s| (s.at.as_nanos(), s.seq))
            .collect()
    }

    #[test]
    fn events_come_out_by_time_then_sequence() {
        let mut heap = RadixHeap::default();
        for (at, seq) in [(30, 1), (10, 2), (30, 3), (10, 4), (0, 5), (u64::MAX, 6)] {
            heap.push(event(at, seq));
        }
        assert_eq!(heap.len(), 6);
        assert_eq!(heap.earliest_at(), Some(Instant::ZERO));
        assert_eq!(
            drain(&mut heap),
            [(0, 5), (10, 2), (10, 4), (30, 1), (30, 3), (u64::MAX, 6)]
        );
        assert!(heap.is_empty());
        assert_eq!(heap.len(), 0);
        assert_eq!(heap.earliest_at(), None);
    }

    #[test]
    fn many_events_at_one_instant_come_out_in_sequence_order() {
        let mut heap = RadixHeap::default();
        // Pushed in a scrambled order, some before a pop and some after it.
        let seqs: Vec<u64> = (1..=500).map(|i| i * 7919 % 1009 + 1).collect();
        for &seq in &seqs[..250] {
            heap.push(event(1_000, seq));
        }
        let first = heap.pop().map(|s| s.seq);
        let smallest = seqs[..250].iter().min().copied();
        assert_eq!(first, smallest);
        for &seq in seqs[250..].iter().filter(|&&s| Some(s) > smallest) {
            heap.push(event(1_000, seq));
        }
        let rest: Vec<u64> = drain(&mut heap).into_iter().map(|(_, s)| s).collect();
        let mut want: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|&s| Some(s) > smallest)
            .collect();
        want.sort_unstable();
        assert_eq!(rest, want, "in sequence order, none lost");
    }

    #[test]
    fn an_event_earlier_than_the_last_popped_still_comes_out_first() {
        let mut heap = RadixHeap::default();
        for (at, seq) in [(50, 1), (60, 2), (70, 3)] {
            heap.push(event(at, seq));
        }
        assert_eq!(heap.pop().map(|s| s.seq), Some(1));
        // Before the one popped: every waiting event is bucketed again below it.
        heap.push(event(20, 4));
        heap.push(event(65, 5));
        assert_eq!(drain(&mut heap), [(20, 4), (60, 2), (65, 5), (70, 3)]);
    }

    #[test]
    fn a_key_equal_to_the_last_popped_comes_out_next() {
        let mut heap = RadixHeap::default();
        heap.push(event(5, 1));
        heap.push(event(9, 2));
        assert_eq!(heap.pop().map(|s| s.seq), Some(1));
        heap.push(event(5, 1));
        heap.push(event(5, 1));
        // (9, 2) differs from (5, 1) at time bit 3, bit 43 of the key: level 7.
        assert_eq!(heap.levels, 1 << 0 | 1 << 7, "level 0, and (9, 2)'s");
        assert_eq!(drain(&mut heap), [(5, 1), (5, 1), (9, 2)]);
    }

    #[test]
    fn buckets_run_from_the_first_digit_of_the_lowest_level() {
        let mut heap = RadixHeap::default();
        // The sequence's 40 bits, then the time's: times 1 and 2 differ at bit 41
        // (level 6), seq 3 from seq 1 at bit 1 (level 0), seq 64 at bit 6 (level 1).
        for (at, seq) in [(2, 5), (1, 64), (1, 1), (1, 3)] {
            heap.push(event(at, seq));
        }
        assert_eq!(heap.pop().map(|s| s.seq), Some(1));
        assert_eq!(heap.first(), (0, 3), "(1, 3): the lowest digit of level 0");
        assert_eq!(heap.levels, 1 | 1 << 1 | 1 << 6);
        assert_eq!(drain(&mut heap), [(1, 3), (1, 64), (2, 5)]);
    }

    #[test]
    fn an_event_is_surely_before_all_only_if_it_is() {
        let mut heap = RadixHeap::default();
        assert!(heap.surely_before_all(&event(7, 1)), "nothing waits");
        heap.push(event(1 << 20, 2));
        heap.push(event(1 << 21, 3));
        assert!(heap.surely_before_all(&event(5, 4)));
        assert!(!heap.surely_before_all(&event(1 << 22, 5)));
        assert_eq!(heap.pop().map(|s| s.seq), Some(2));
        // Now last = (2^20, 2): a key in the lowest occupied bucket is not sure.
        assert!(heap.surely_before_all(&event(1 << 20, 6)));
        assert!(!heap.surely_before_all(&event((1 << 21) + 1, 7)));
        assert!(
            !heap.surely_before_all(&event(5, 8)),
            "before the last popped"
        );
    }

    proptest! {
        /// Against a sorted reference, over interleavings of pops and pushes (mostly not
        /// before the last pop, as SimNet's; ties in time; far-future times).
        #[test]
        fn pops_match_a_sorted_reference(
            steps in prop::collection::vec((0u8..4, 0u64..64, any::<bool>()), 1..400),
        ) {
            let mut heap = RadixHeap::default();
            let mut reference = std::collections::BTreeSet::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for (action, delay, far) in steps {
                if action == 3 && !far {
                    // Before the last pop (never from SimNet): the order still holds.
                    seq += 1;
                    let at = now.saturating_sub(delay);
                    heap.push(event(at, seq));
                    reference.insert((at, seq));
                } else if action == 0 {
                    let got = heap.pop().map(|s| (s.at.as_nanos(), s.seq));
                    let want = reference.pop_first();
                    prop_assert_eq!(got, want);
                    if let Some((at, _)) = want {
                        now = at;
                    }
                } else {
                    seq += 1;
                    // Small delays tie often; far ones reach the top bits of the time.
                    let at = if far { now.saturating_add(delay << 50) } else { now + delay % 4 };
                    heap.push(event(at, seq));
                    reference.insert((at, seq));
                }
                prop_assert_eq!(heap.len(), reference.len());
                let earliest = heap.earliest_at().map(Instant::as_nanos);
                prop_assert_eq!(earliest, reference.first().map(|&(at, _)| at));
            }
            let rest: Vec<(u64, u64)> = reference.into_iter().collect();
            prop_assert_eq!(drain(&mut heap), rest);
        }
    }
}
