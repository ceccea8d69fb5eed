//! A timing wheel of scheduled events: pushing and popping cost the same whether a few
//! events wait or thousands (a binary heap's every pop walks `log n` levels, each a
//! likely cache miss once the heap outgrows the first-level cache).
//!
//! Time is cut into slices of [`SLICE_NANOS`]; the wheel's [`SLICES`] buckets hold the
//! events of the slices after the current one, a bucket per slice, unsorted. The
//! current slice's events wait in a small binary heap (`now`), which gives the exact
//! order `(at, seq)`; events past the wheel's reach wait in a binary heap of their own
//! (`far`) until the wheel comes round to them. A pop takes the current heap's first;
//! when that heap empties, the next occupied bucket (found through a bitmap) becomes the
//! current slice. An event scheduled into the current slice or before it (never before
//! the last popped, as SimNet schedules nothing before `now`; but it would still come
//! out in order) joins the current heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Event, MAX_SEQ, MAX_WAITING, Scheduled};
use crate::time::Instant;

/// Bits of a nanosecond time below its slice: slices of 2^15 ns (32.8 µs), a few
/// arrivals each when a thousand connections have 1–20 ms of latency.
const SLICE_BITS: u32 = 15;

/// Nanoseconds per slice.
#[cfg(test)]
const SLICE_NANOS: u64 = 1 << SLICE_BITS;

/// Buckets of the wheel: with slices of 32.8 µs, it reaches 33.6 ms ahead (their
/// headers take 24 KiB, within the first-level cache).
const SLICES: usize = 1 << 10;

/// Words of the occupancy bitmap.
const WORDS: usize = SLICES / 64;

/// Bits of a key's low word that name the slot its event waits in; the sequence
/// number takes the bits above (below [`MAX_SEQ`]).
const SLOT_BITS: u32 = 24;

const _: () = assert!(MAX_WAITING <= 1 << SLOT_BITS && MAX_SEQ <= 1 << (64 - SLOT_BITS));

/// A key: ordered as `(at, seq)`, the slot in the lowest bits (sequence numbers differ,
/// so the slot never decides).
#[inline(always)]
fn key(at: Instant, seq: u64, slot: u32) -> u128 {
    (u128::from(at.as_nanos()) << 64) | u128::from(seq << SLOT_BITS | u64::from(slot))
}

/// What a key says: when, the sequence number, the slot.
#[inline(always)]
fn unpack(key: u128) -> (Instant, u64, usize) {
    let low = key as u64;
    let at = Instant::from_nanos((key >> 64) as u64);
    (
        at,
        low >> SLOT_BITS,
        (low & ((1 << SLOT_BITS) - 1)) as usize,
    )
}

/// The slice of a key's time.
#[inline(always)]
fn slice(key: u128) -> u64 {
    (key >> (64 + SLICE_BITS)) as u64
}

/// The events, by slice: 16-byte keys (time, sequence, slot) on the wheel and in the
/// heaps, the events beside them in `slots`, so what moves is small.
#[derive(Debug)]
pub(super) struct Wheel {
    /// Keys of the current slice and of any before it, earliest first.
    now: BinaryHeap<Reverse<u128>>,
    /// The current slice: every key in `buckets` is of a later one, below
    /// `current + SLICES`.
    current: u64,
    /// `buckets[slice % SLICES]`: the keys of one slice after the current, in no order.
    buckets: Box<[Vec<u128>]>,
    /// Bit `i % 64` of word `i / 64` set when `buckets[i]` holds a key.
    occupied: [u64; WORDS],
    /// Bit `w` set when word `w` of `occupied` is not zero.
    words: u64,
    /// Keys of slices from `current + SLICES` on, earliest first.
    far: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<Event>>,
    vacant: Vec<u32>,
    len: usize,
}

impl Default for Wheel {
    fn default() -> Self {
        Self {
            now: BinaryHeap::new(),
            current: 0,
            buckets: (0..SLICES).map(|_| Vec::new()).collect(),
            occupied: [0; WORDS],
            words: 0,
            far: BinaryHeap::new(),
            slots: Vec::new(),
            vacant: Vec::new(),
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

    /// Whether no event waits (the current heap is empty only if all are).
    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.now.is_empty()
    }

    /// How many slots the events have had (for tests: freed slots are reused).
    #[cfg(test)]
    pub(super) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The earliest event's time and sequence number.
    #[inline(always)]
    pub(super) fn peek(&self) -> Option<(Instant, u64)> {
        let &Reverse(first) = self.now.peek()?;
        let (at, seq, _) = unpack(first);
        Some((at, seq))
    }

    /// Queues an event (fewer than [`MAX_WAITING`] wait, and its sequence number is
    /// below [`MAX_SEQ`]: checked by the caller).
    #[inline(always)]
    pub(super) fn push(&mut self, scheduled: Scheduled) {
        let slot = match self.vacant.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                // Below MAX_WAITING = 2^24 (the caller checked), so it fits.
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[slot as usize] = Some(scheduled.event);
        let key = key(scheduled.at, scheduled.seq, slot);
        self.len += 1;
        if self.now.is_empty() {
            // Nothing waits: the event's slice becomes the current one.
            self.current = slice(key);
            self.now.push(Reverse(key));
            return;
        }
        self.place(key);
    }

    /// Puts a key where its slice says (the current heap being in use).
    #[inline(always)]
    fn place(&mut self, key: u128) {
        let ahead = slice(key).saturating_sub(self.current);
        if ahead == 0 {
            self.now.push(Reverse(key));
        } else if ahead < SLICES as u64 {
            let i = slice(key) as usize % SLICES;
            self.buckets[i].push(key);
            self.occupied[i / 64] |= 1 << (i % 64);
            self.words |= 1 << (i / 64);
        } else {
            self.far.push(Reverse(key));
        }
    }

    /// Takes the earliest event.
    #[inline(always)]
    pub(super) fn pop(&mut self) -> Option<Scheduled> {
        let Reverse(first) = self.now.pop()?;
        self.len -= 1;
        if self.now.is_empty() && self.len > 0 {
            self.advance();
        }
        let (at, seq, slot) = unpack(first);
        self.vacant.push(slot as u32);
        let event = self.slots[slot].take().expect("a queued key has its event");
        Some(Scheduled { at, seq, event })
    }

    /// Makes the next slice holding events the current one (the current heap empty,
    /// some event waiting).
    #[inline(never)]
    fn advance(&mut self) {
        match self.next_occupied() {
            Some(i) => {
                let ahead = (i + SLICES - self.current as usize % SLICES) % SLICES;
                self.current += ahead as u64;
                self.occupied[i / 64] &= !(1 << (i % 64));
                if self.occupied[i / 64] == 0 {
                    self.words &= !(1 << (i / 64));
                }
                let bucket = &mut self.buckets[i];
                self.now.extend(bucket.iter().map(|&key| Reverse(key)));
                // Its room stays for the slice's next turn.
                bucket.clear();
            }
            None => {
                let &Reverse(first) = self.far.peek().expect("an event waits");
                self.current = slice(first);
            }
        }
        // The wheel now reaches further: far events it reaches come onto it.
        while let Some(&Reverse(first)) = self.far.peek()
            && slice(first) < self.current + SLICES as u64
        {
            self.far.pop();
            self.place(first);
        }
    }

    /// The bucket of the first occupied slice after the current one.
    #[inline(always)]
    fn next_occupied(&self) -> Option<usize> {
        if self.words == 0 {
            return None;
        }
        let from = (self.current as usize + 1) % SLICES;
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
