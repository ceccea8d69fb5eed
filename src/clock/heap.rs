//! The timer queue: a sorted run of 16-byte entries for the bulk, and a 4-ary min-heap
//! for the entries pushed since the run was last rebuilt.
//!
//! Popping a million timers from a heap is a chain of dependent cache misses, one per
//! level. Popping them from a sorted run is a walk down an array. So pushes go to a
//! small heap (four children per node put a node's children in one 64-byte cache line;
//! packing the slot into the place keeps an entry at 16 bytes), and once the heap holds
//! more than an eighth of the run, it is sorted and merged into the run: each entry is
//! merged a bounded number of times, and a clock that never holds many calls never
//! leaves the heap.

/// Bits of an entry's order word that hold the slot; the rest hold the place.
pub(crate) const SLOT_BITS: u32 = 24;

/// Most slots a clock can have: one per pending call.
pub(crate) const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// Places are below this: the bits of the order word above the slot.
pub(crate) const PLACE_LIMIT: u64 = 1 << (64 - SLOT_BITS);

/// A queue entry: fires at `deadline`; ties broken by place (high bits of `order`), the
/// slot in the low bits. Ordered by (deadline, order).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Entry {
    deadline: u64,
    order: u64,
}

impl Ord for Entry {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // One 128-bit comparison, without a branch between the two words.
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Entry {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Entry {
    pub(crate) fn new(deadline: u64, place: u64, slot: u32) -> Self {
        debug_assert!((slot as usize) < MAX_SLOTS);
        debug_assert!(place < PLACE_LIMIT);
        Self {
            deadline,
            order: (place << SLOT_BITS) | u64::from(slot),
        }
    }

    pub(crate) fn deadline(self) -> u64 {
        self.deadline
    }

    pub(crate) fn place(self) -> u64 {
        self.order >> SLOT_BITS
    }

    pub(crate) fn slot(self) -> u32 {
        // The mask keeps the value below 2^24, so it fits.
        (self.order & ((1 << SLOT_BITS) - 1)) as u32
    }

    #[inline]
    fn key(self) -> u128 {
        (u128::from(self.deadline) << 64) | u128::from(self.order)
    }
}

/// Fewest heap entries worth merging into the run.
const MERGE_MIN: usize = 64;

/// Pending entries, popped smallest first: a sorted run and a heap of newer pushes.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    /// In descending order, so that the next to fire is last and pops are cheap.
    run: Vec<Entry>,
    /// Entries pushed since the run was last rebuilt.
    fresh: TimerHeap,
}

impl TimerQueue {
    pub(crate) fn len(&self) -> usize {
        self.run.len() + self.fresh.len()
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        self.fresh.push(entry);
    }

    /// The smallest entry. Merges the heap into the run first if it has grown.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<Entry> {
        if self.fresh.len() > MERGE_MIN && self.fresh.len() > self.run.len() / 8 {
            self.merge();
        }
        match (self.run.last().copied(), self.fresh.peek()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes the smallest entry, which [`peek`](Self::peek) has just returned.
    #[inline]
    pub(crate) fn pop_peeked(&mut self, peeked: Entry) {
        if self.run.last() == Some(&peeked) {
            self.run.pop();
        } else {
            let popped = self.fresh.pop();
            debug_assert_eq!(popped, Some(peeked));
        }
    }

    /// Keeps only the entries `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        self.run.retain(&mut keep);
        self.fresh.retain(keep);
    }

    /// Sorts the heap's entries and merges them into the run, in place from the back:
    /// both are descending, so the smallest remaining entry goes to the end.
    #[cold]
    fn merge(&mut self) {
        let mut fresh = std::mem::take(&mut self.fresh.items);
        fresh.sort_unstable_by(|a, b| b.cmp(a));
        if self.run.is_empty() {
            // The heap's allocation becomes the run's; the run's (empty) the heap's.
            std::mem::swap(&mut self.run, &mut fresh);
            self.fresh.items = fresh;
            return;
        }
        let (old, new) = (self.run.len(), fresh.len());
        self.run.resize(old + new, fresh[0]);
        let (mut i, mut j) = (old, new);
        // Slot i + j - 1 is free: everything above it is placed, and i + j - 1 >= i - 1,
        // so no unread run entry is overwritten.
        while j > 0 {
            let to = i + j - 1;
            if i > 0 && self.run[i - 1] < fresh[j - 1] {
                self.run[to] = self.run[i - 1];
                i -= 1;
            } else {
                self.run[to] = fresh[j - 1];
                j -= 1;
            }
        }
        fresh.clear();
        self.fresh.items = fresh;
    }
}

/// A min-heap of [`Entry`]s with four children per node.
#[derive(Debug, Default)]
struct TimerHeap {
    items: Vec<Entry>,
}

impl TimerHeap {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn peek(&self) -> Option<Entry> {
        self.items.first().copied()
    }

    fn push(&mut self, entry: Entry) {
        self.items.push(entry);
        self.sift_up(self.items.len() - 1);
    }

    fn pop(&mut self) -> Option<Entry> {
        let last = self.items.pop()?;
        let Some(&top) = self.items.first() else {
            return Some(last);
        };
        self.items[0] = last;
        self.sift_down(0);
        Some(top)
    }

    /// Keeps only the entries `keep` accepts, then restores the heap order.
    fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.items.retain(keep);
        for i in (0..self.items.len() / 4 + 1).rev() {
            self.sift_down(i);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        let entry = self.items[i];
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.items[parent] <= entry {
                break;
            }
            self.items[i] = self.items[parent];
            i = parent;
        }
        self.items[i] = entry;
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.items.len();
        if i >= len {
            return;
        }
        let entry = self.items[i];
        loop {
            let first = 4 * i + 1;
            if first >= len {
                break;
            }
            let last = (first + 4).min(len);
            let mut best = first;
            for child in first + 1..last {
                if self.items[child] < self.items[best] {
                    best = child;
                }
            }
            if entry <= self.items[best] {
                break;
            }
            self.items[i] = self.items[best];
            i = best;
        }
        self.items[i] = entry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_then_place_order() {
        let mut heap = TimerHeap::default();
        let mut expected = Vec::new();
        // A scrambled but deterministic set with many ties.
        for place in 0..500u64 {
            let deadline = (place * 7919) % 37;
            heap.push(Entry::new(deadline, place, (place % 1000) as u32));
            expected.push((deadline, place));
        }
        expected.sort();
        let popped: Vec<_> = std::iter::from_fn(|| heap.pop())
            .map(|e| (e.deadline(), e.place()))
            .collect();
        assert_eq!(popped, expected);
    }

    #[test]
    fn retain_keeps_heap_order() {
        let mut heap = TimerHeap::default();
        for place in 0..200u64 {
            heap.push(Entry::new(200 - place, place, place as u32));
        }
        heap.retain(|e| e.place() % 3 != 0);
        let deadlines: Vec<_> = std::iter::from_fn(|| heap.pop())
            .map(|e| e.deadline())
            .collect();
        assert!(deadlines.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(deadlines.len(), 200 - 67);
    }

    #[test]
    fn the_queue_pops_in_order_across_merges_interleaved_pushes_and_retains() {
        let mut queue = TimerQueue::default();
        let mut model = std::collections::BTreeSet::new();
        let mut place = 0u64;
        // Bursts of pushes big enough to merge, into runs of every size; pops between.
        for round in 0..60u64 {
            for i in 0..(round * 37) % 300 {
                let deadline = round + (i * 7919 + round) % 50;
                let entry = Entry::new(deadline, place, (place % 5000) as u32);
                place += 1;
                queue.push(entry);
                model.insert(entry);
            }
            for _ in 0..(round * 53) % 200 {
                let want = model.pop_first();
                let got = queue.peek();
                assert_eq!(got, want, "round {round}");
                if let Some(entry) = got {
                    queue.pop_peeked(entry);
                }
            }
            if round % 7 == 3 {
                queue.retain(|e| e.place() % 5 != 0);
                model.retain(|e| e.place() % 5 != 0);
            }
            assert_eq!(queue.len(), model.len());
        }
        while let Some(want) = model.pop_first() {
            assert_eq!(queue.peek(), Some(want));
            queue.pop_peeked(want);
        }
        assert_eq!(queue.peek(), None);
    }

    #[test]
    fn entry_round_trips_its_parts() {
        let e = Entry::new(5, 123_456, 0xAB_CDEF);
        assert_eq!((e.deadline(), e.place(), e.slot()), (5, 123_456, 0xAB_CDEF));
    }
}
