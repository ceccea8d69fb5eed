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

/// The future events. Connect deadlines wait for the whole connect timeout, most of
/// them to find the connect long answered: kept out of the heap, in a list sorted by
/// `(at, seq)`, they do not make every other event's push and pop a level deeper.
/// Connects that share a timeout are scheduled in deadline order, so a deadline goes
/// on the list's end; one that does not is put in its place.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    deadlines: VecDeque<Scheduled>,
}

impl EventQueue {
    pub(super) fn push(&mut self, scheduled: Scheduled) {
        if !matches!(scheduled.event, Event::ConnectDeadline { .. }) {
            self.heap.push(Reverse(scheduled));
            return;
        }
        if self.deadlines.back().is_none_or(|last| *last <= scheduled) {
            self.deadlines.push_back(scheduled);
        } else {
            let at = self.deadlines.partition_point(|d| *d <= scheduled);
            self.deadlines.insert(at, scheduled);
        }
    }

    /// The next event: the earlier of the heap's first and the deadlines' first.
    pub(super) fn pop(&mut self) -> Option<Scheduled> {
        let deadline_first = match (self.heap.peek(), self.deadlines.front()) {
            (Some(Reverse(event)), Some(deadline)) => deadline < event,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if deadline_first {
            self.deadlines.pop_front()
        } else {
            self.heap.pop().map(|Reverse(s)| s)
        }
    }

    /// When the next event happens.
    pub(super) fn next_at(&self) -> Option<Instant> {
        let heap = self.heap.peek().map(|Reverse(s)| s.at);
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
        queue.push(at(30, 1, deadline(1)));
        queue.push(at(10, 2, arrive(2)));
        queue.push(at(30, 3, arrive(3)));
        // Shorter timeout, later connect: its deadline goes before the first.
        queue.push(at(20, 4, deadline(4)));
        queue.push(at(30, 5, deadline(5)));
        queue.push(at(5, 6, arrive(6)));
        assert_eq!(queue.next_at(), Some(Instant::from_nanos(5_000_000)));
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop()).map(|s| s.seq).collect();
        assert_eq!(order, [6, 2, 4, 1, 3, 5]);
        assert!(queue.is_empty());
        assert_eq!(queue.next_at(), None);
    }
}
