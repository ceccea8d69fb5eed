//! SimNet's queue of future events, in the order they happen: by time, then by the
//! order they were scheduled in.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::Event;
use crate::time::Instant;

/// An event and when it happens; `seq` orders events due at the same instant.
#[derive(Debug)]
pub(super) struct Scheduled {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) event: Event,
}

impl Scheduled {
    fn key(&self) -> (Instant, u64) {
        (self.at, self.seq)
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
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
        self.key().cmp(&other.key())
    }
}

/// Bits of a heap key's low word that name the slot its event waits in; the
/// scheduling sequence number takes the bits above.
const SLOT_BITS: u32 = 24;

/// Most events that wait in the heap at once: one per slot.
pub(super) const MAX_WAITING: usize = 1 << SLOT_BITS;

/// Sequence numbers a run can use (2^40: at ten million events a second, thirty hours).
const MAX_SEQ: u64 = 1 << (64 - SLOT_BITS);

/// The event queue is full: the event was not queued, and the run stops.
#[derive(Debug)]
pub(super) struct QueueFull;

/// The future events. The heap holds 16-byte keys (time, sequence, slot) and the events
/// wait in `slots`: a heap of a few thousand waiting events then stays in the first-level
/// cache, where 40-byte entries would spill out of it, and each pop's walk down the heap
/// would miss the cache at every lower level (the cost of a thousand hosts' exchanges).
///
/// Connect deadlines wait for the whole connect timeout, most of them to find the
/// connect long answered: kept out of the heap, in a list sorted by `(at, seq)`, they do
/// not make every other event's push and pop a level deeper. Connects that share a
/// timeout are scheduled in deadline order, so a deadline goes on the list's end; one
/// that does not is put in its place.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    heap: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<Scheduled>>,
    vacant: Vec<u32>,
    deadlines: VecDeque<Scheduled>,
}

/// A heap key: ordered as `(at, seq)`, the slot in the lowest bits (`seq` below
/// [`MAX_SEQ`], `slot` below [`MAX_WAITING`]).
fn key(at: Instant, seq: u64, slot: u32) -> u128 {
    (u128::from(at.as_nanos()) << 64) | u128::from(seq << SLOT_BITS | u64::from(slot))
}

/// What a key says: when, the sequence number, the slot.
fn unpack(key: u128) -> (Instant, u64, usize) {
    // The low word holds the sequence above the slot's bits; the high word the time.
    let low = key as u64;
    let at = Instant::from_nanos((key >> 64) as u64);
    (
        at,
        low >> SLOT_BITS,
        (low & ((1 << SLOT_BITS) - 1)) as usize,
    )
}

impl EventQueue {
    /// Queues `scheduled`; refused once [`MAX_WAITING`] events wait in the heap or the
    /// run has used up its sequence numbers.
    pub(super) fn push(&mut self, scheduled: Scheduled) -> Result<(), QueueFull> {
        if !matches!(scheduled.event, Event::ConnectDeadline { .. }) {
            if scheduled.seq >= MAX_SEQ {
                return Err(QueueFull);
            }
            let slot = match self.vacant.pop() {
                Some(slot) => slot,
                None if self.slots.len() < MAX_WAITING => {
                    self.slots.push(None);
                    // Below MAX_WAITING = 2^24, so it fits.
                    (self.slots.len() - 1) as u32
                }
                None => return Err(QueueFull),
            };
            self.heap
                .push(Reverse(key(scheduled.at, scheduled.seq, slot)));
            self.slots[slot as usize] = Some(scheduled);
            return Ok(());
        }
        if self.deadlines.back().is_none_or(|last| *last <= scheduled) {
            self.deadlines.push_back(scheduled);
        } else {
            let at = self.deadlines.partition_point(|d| *d <= scheduled);
            self.deadlines.insert(at, scheduled);
        }
        Ok(())
    }

    /// The next event: the earlier of the heap's first and the deadlines' first.
    pub(super) fn pop(&mut self) -> Option<Scheduled> {
        let deadline_first = match (self.heap.peek(), self.deadlines.front()) {
            (Some(&Reverse(key)), Some(deadline)) => {
                let (at, seq, _) = unpack(key);
                deadline.key() < (at, seq)
            }
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if deadline_first {
            return self.deadlines.pop_front();
        }
        let Reverse(key) = self.heap.pop()?;
        let (_, _, slot) = unpack(key);
        self.vacant.push(slot as u32);
        self.slots[slot].take()
    }

    /// When the next event happens.
    pub(super) fn next_at(&self) -> Option<Instant> {
        let heap = self.heap.peek().map(|&Reverse(key)| unpack(key).0);
        let deadline = self.deadlines.front().map(|s| s.at);
        match (heap, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.deadlines.is_empty()
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
    fn events_come_out_by_time_then_sequence_whichever_list_holds_them() {
        let mut queue = EventQueue::default();
        let deadline = |conn| Event::ConnectDeadline { conn };
        let arrive = |conn| Event::Arrive { conn, to: 0 };
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
    fn a_steady_stream_of_events_reuses_the_slots_it_frees_and_keeps_their_order() {
        let mut queue = EventQueue::default();
        let arrive = |conn| Event::Arrive { conn, to: 0 };
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
        assert!(
            queue.slots.len() <= 1_001,
            "slots reused: {}",
            queue.slots.len()
        );
    }

    #[test]
    fn a_queue_out_of_sequence_numbers_refuses_the_event_and_keeps_the_rest() {
        let mut queue = EventQueue::default();
        let arrive = |conn| Event::Arrive { conn, to: 0 };
        queue
            .push(at(1, MAX_SEQ - 1, arrive(1)))
            .expect("the last number");
        assert!(queue.push(at(2, MAX_SEQ, arrive(2))).is_err());
        assert_eq!(queue.pop().map(|s| s.seq), Some(MAX_SEQ - 1));
        assert!(queue.is_empty(), "the refused event was not queued");
    }
}
