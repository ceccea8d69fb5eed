//! The timer queue's heap: a 4-ary min-heap of 16-byte entries.
//!
//! Popping a million timers from a binary heap of 24-byte entries is dominated by cache
//! misses, one per level. Four children per node put a node's children in one 64-byte
//! cache line and halve the depth; packing the slot into the place keeps an entry at
//! 16 bytes.

/// Bits of an entry's order word that hold the slot; the rest hold the place.
pub(crate) const SLOT_BITS: u32 = 24;

/// Most slots a clock can have: one per pending call.
pub(crate) const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// Places are below this: the bits of the order word above the slot.
pub(crate) const PLACE_LIMIT: u64 = 1 << (64 - SLOT_BITS);

/// A heap entry: fires at `deadline`; ties broken by place (high bits of `order`), the
/// slot in the low bits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Entry {
    deadline: u64,
    order: u64,
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
}

/// A min-heap of [`Entry`]s with four children per node.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    items: Vec<Entry>,
}

impl TimerHeap {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn peek(&self) -> Option<Entry> {
        self.items.first().copied()
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        self.items.push(entry);
        self.sift_up(self.items.len() - 1);
    }

    pub(crate) fn pop(&mut self) -> Option<Entry> {
        let last = self.items.pop()?;
        let Some(&top) = self.items.first() else {
            return Some(last);
        };
        self.items[0] = last;
        self.sift_down(0);
        Some(top)
    }

    /// Keeps only the entries `keep` accepts, then restores the heap order.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
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
    fn entry_round_trips_its_parts() {
        let e = Entry::new(5, 123_456, 0xAB_CDEF);
        assert_eq!((e.deadline(), e.place(), e.slot()), (5, 123_456, 0xAB_CDEF));
    }
}
