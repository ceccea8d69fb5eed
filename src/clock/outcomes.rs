//! How recent calls ended: one bit per call, for the last [`REMEMBERED_CALLS`] calls.
//!
//! Twisted's `DelayedCall` is an object that remembers forever whether it ran or was
//! cancelled. weft's handle is a copyable number, so the clock must remember for it, and
//! telling "ran" from "cancelled" for every call ever made takes a bit per call: there
//! is no smaller record in general. The clock keeps that bit for a window of the most
//! recent calls (2 MiB at most, grown as calls are made) and answers
//! [`CallError::Expired`] for older ones. A handle is never mistaken for another
//! call's: serial numbers are never reused.

use std::collections::VecDeque;

use super::CallError;

/// Calls whose outcome is remembered: a handle answers precisely until this many
/// later calls have been made.
pub(crate) const REMEMBERED_CALLS: u64 = 1 << 24;

const WORD_BITS: u64 = u64::BITS as u64;
const MAX_WORDS: usize = (REMEMBERED_CALLS / WORD_BITS) as usize;

/// A bit per call serial in the window: set if the call was cancelled, clear if it ran
/// (or is still pending, which the caller knows from the slot).
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    cancelled: VecDeque<u64>,
    /// Serial number of the first bit of `cancelled[0]`, divided by 64.
    first_word: u64,
}

impl Outcomes {
    /// Makes room for the bit of a new call's `serial` (serials come in order).
    #[inline]
    pub(crate) fn issue(&mut self, serial: u64) {
        if serial.is_multiple_of(WORD_BITS) {
            if self.cancelled.len() == MAX_WORDS {
                self.cancelled.pop_front();
                self.first_word += 1;
            }
            self.cancelled.push_back(0);
        }
    }

    /// Records that the call `serial` was cancelled.
    pub(crate) fn cancel(&mut self, serial: u64) {
        if let Some(word) = self.word(serial) {
            self.cancelled[word] |= 1 << (serial % WORD_BITS);
        }
    }

    /// How the ended call `serial` ended, if it is recent enough to be remembered.
    pub(crate) fn ended(&self, serial: u64) -> CallError {
        match self.word(serial) {
            Some(word) if self.cancelled[word] >> (serial % WORD_BITS) & 1 == 1 => {
                CallError::AlreadyCancelled
            }
            Some(_) => CallError::AlreadyCalled,
            None => CallError::Expired,
        }
    }

    /// Words of bits held, for tests of the bound.
    #[cfg(test)]
    pub(crate) fn words(&self) -> usize {
        self.cancelled.len()
    }

    fn word(&self, serial: u64) -> Option<usize> {
        let word = usize::try_from((serial / WORD_BITS).checked_sub(self.first_word)?).ok()?;
        (word < self.cancelled.len()).then_some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_each_outcome_within_the_window() {
        let mut outcomes = Outcomes::default();
        for serial in 0..1000 {
            outcomes.issue(serial);
            if serial % 3 == 0 {
                outcomes.cancel(serial);
            }
        }
        for serial in 0..1000 {
            let want = if serial % 3 == 0 {
                CallError::AlreadyCancelled
            } else {
                CallError::AlreadyCalled
            };
            assert_eq!(outcomes.ended(serial), want, "serial {serial}");
        }
    }

    #[test]
    fn forgets_calls_older_than_the_window_and_stays_bounded() {
        let mut outcomes = Outcomes::default();
        let total = REMEMBERED_CALLS + 3 * WORD_BITS;
        for serial in 0..total {
            outcomes.issue(serial);
        }
        outcomes.cancel(total - 1);
        assert_eq!(outcomes.cancelled.len(), MAX_WORDS);
        assert_eq!(outcomes.ended(0), CallError::Expired);
        assert_eq!(outcomes.ended(3 * WORD_BITS - 1), CallError::Expired);
        assert_eq!(outcomes.ended(3 * WORD_BITS), CallError::AlreadyCalled);
        assert_eq!(outcomes.ended(total - 1), CallError::AlreadyCancelled);
    }
}
