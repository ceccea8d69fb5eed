//! The pending bytes of a [`TransportState`]: a few in its own cache line (`small`),
//! more in its queue, and how a driver takes them.

use std::collections::VecDeque;

use super::{SMALL, TransportState};

impl TransportState {
    /// Bytes written but not yet handed to the network.
    #[inline(always)]
    pub fn pending(&self) -> &[u8] {
        if self.small_len > 0 {
            // `small_len` never exceeds `SMALL`; the `min` spares the check.
            return &self.small[..usize::from(self.small_len).min(SMALL)];
        }
        &self.queue[self.sent..]
    }

    /// How many bytes are [`pending`](Self::pending).
    #[inline(always)]
    pub(crate) fn pending_len(&self) -> usize {
        if self.small_len > 0 {
            return usize::from(self.small_len);
        }
        self.queue.len() - self.sent
    }

    /// Marks the first `n` pending bytes as handed to the network. When the queue
    /// empties, a paused push producer (or any pull producer) is resumed.
    ///
    /// # Panics
    /// If `n` is more than is pending (a driver bug).
    #[inline(always)]
    pub fn consume(&mut self, n: usize) {
        self.sent_total += n as u64;
        if self.small_len > 0 {
            self.consume_small(n);
            return;
        }
        if self.sent + n == self.queue.len() {
            self.queue.clear();
            self.sent = 0;
            self.note_plain_writes();
            self.drained();
        } else {
            self.consume_part(n);
        }
    }

    /// Moves up to `room` pending bytes to the end of `out`, as
    /// [`pending`](Self::pending) then [`consume`](Self::consume) would; returns how
    /// many. A lone inline byte (ping-pong's) takes the shortest way.
    #[inline(always)]
    pub(crate) fn move_pending(&mut self, room: usize, out: &mut VecDeque<u8>) -> usize {
        if self.small_len == 1 && room > 0 {
            out.push_back(self.small[0]);
            self.small_len = 0;
            self.sent_total += 1;
            self.drained();
            return 1;
        }
        let pending = self.pending();
        let moved = room.min(pending.len());
        if moved == 0 {
            return 0;
        }
        match &pending[..moved] {
            &[byte] => out.push_back(byte),
            bytes => extend(out, bytes),
        }
        self.consume(moved);
        moved
    }

    /// [`move_pending`](Self::move_pending) of a lone inline byte on a connection whose
    /// writes are plain (no producer), the one move that leaves nothing pending and
    /// owes no notice, with the byte returned for the caller to put where `out` would
    /// have it; `None` (nothing moved) for any other.
    #[inline(always)]
    pub(crate) fn take_lone_byte(&mut self, room: usize) -> Option<u8> {
        // One test after another, each rarely failing: branches, not a sum of flags.
        if self.small_len != 1 {
            return None;
        }
        // Plain writes mean no producer (one flag, where the producer is two bytes).
        if !self.plain_writes {
            return None;
        }
        if room == 0 {
            return None;
        }
        self.small_len = 0;
        self.sent_total += 1;
        // The inline bytes are pending only while the queue is empty.
        debug_assert_eq!(self.pending_len(), 0);
        Some(self.small[0])
    }

    /// [`consume`](Self::consume) of bytes in `small`.
    #[inline(always)]
    fn consume_small(&mut self, n: usize) {
        let held = usize::from(self.small_len);
        if n == held {
            self.small_len = 0;
            self.drained();
        } else {
            assert!(n < held, "consumed more than was pending");
            self.small.copy_within(n..held, 0);
            self.small_len -= n as u8;
        }
    }

    /// Moves the bytes in `small` to the (empty) queue, before a write that does not
    /// fit beside them.
    pub(super) fn spill_small(&mut self) {
        debug_assert!(self.queue.is_empty());
        self.queue
            .extend_from_slice(&self.small[..usize::from(self.small_len)]);
        self.small_len = 0;
    }

    fn consume_part(&mut self, n: usize) {
        assert!(n <= self.pending().len(), "consumed more than was pending");
        self.sent += n;
        if self.sent > 64 * 1024 && self.sent * 2 > self.queue.len() {
            // Keep a slow consumer's queue from growing without bound at the front.
            self.queue.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Moves every pending byte into `out` (which should be empty; its allocation is
    /// reused), as [`consume`](Self::consume) of everything would. Returns whether
    /// anything was pending.
    #[inline(always)]
    pub fn take_pending(&mut self, out: &mut Vec<u8>) -> bool {
        out.clear();
        let held = usize::from(self.small_len);
        if held > 0 {
            // A lone byte (a ping-pong's) pushed, not copied through `memcpy`.
            if held == 1 {
                out.push(self.small[0]);
            } else {
                out.extend_from_slice(&self.small[..held.min(SMALL)]);
            }
            self.small_len = 0;
            self.sent_total += held as u64;
            self.drained();
            return true;
        }
        if self.queue.is_empty() {
            return false;
        }
        if self.sent == 0 {
            std::mem::swap(&mut self.queue, out);
        } else {
            out.extend_from_slice(&self.queue[self.sent..]);
            self.queue.clear();
            self.sent = 0;
        }
        self.note_plain_writes();
        if out.is_empty() {
            return false;
        }
        self.sent_total += out.len() as u64;
        self.drained();
        true
    }
}

/// Appends `bytes` to `out`: the general case of a move, kept out of line so that
/// the one-byte case stays small.
#[cold]
#[inline(never)]
fn extend(out: &mut VecDeque<u8>, bytes: &[u8]) {
    out.extend(bytes);
}
