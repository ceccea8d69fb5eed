//! Re-segmentation: how a byte stream is cut into reads on delivery.
//!
//! TCP preserves bytes, not write boundaries. A parser that assumes one write arrives as
//! one `data_received` works on a quiet loopback and fails in production. Every weft
//! driver that delivers bytes takes a [`Segmentation`] policy, so tests can deliver the
//! same stream whole, a byte at a time, or cut at seeded random points.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How delivered bytes are cut into reads.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Segmentation {
    /// Everything available in one read (Twisted's `iosim` behaviour).
    #[default]
    Whole,
    /// Reads of at most this many bytes; `Fixed(1)` is one byte at a time.
    Fixed(usize),
    /// Reads of a random size from 1 to `max`, from a seeded generator.
    Seeded {
        /// The generator's seed.
        seed: u64,
        /// Largest read.
        max: usize,
    },
    /// Reads of these sizes, in turn, repeating (for property tests that choose cuts).
    Cuts(Vec<usize>),
}

/// Cuts a stream according to a [`Segmentation`], remembering where it is.
#[derive(Clone, Debug)]
pub struct Segmenter {
    policy: Segmentation,
    /// Only a seeded policy draws: the generator's state (a few hundred bytes) lives
    /// apart, so a connection end that cuts whole or fixed reads stays small.
    rng: Option<Box<ChaCha8Rng>>,
    next_cut: usize,
}

impl Segmenter {
    /// A segmenter for `policy`.
    pub fn new(policy: Segmentation) -> Self {
        let rng = match policy {
            Segmentation::Seeded { seed, .. } => Some(Box::new(ChaCha8Rng::seed_from_u64(seed))),
            _ => None,
        };
        Self {
            policy,
            rng,
            next_cut: 0,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Segmentation {
        &self.policy
    }

    /// The size of the next read when `available` bytes (> 0) are waiting:
    /// between 1 and `available`.
    pub fn next_read(&mut self, available: usize) -> usize {
        let want = match &self.policy {
            Segmentation::Whole => available,
            Segmentation::Fixed(n) => *n,
            Segmentation::Seeded { max, .. } => self
                .rng
                .as_mut()
                .expect("a seeded policy has its generator")
                .random_range(1..=(*max).max(1)),
            Segmentation::Cuts(cuts) if cuts.is_empty() => available,
            Segmentation::Cuts(cuts) => {
                let cut = cuts[self.next_cut % cuts.len()];
                self.next_cut += 1;
                cut
            }
        };
        want.clamp(1, available.max(1))
    }

    /// Splits `data` into reads.
    pub fn split<'a>(&mut self, mut data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut reads = Vec::new();
        while !data.is_empty() {
            let (read, rest) = data.split_at(self.next_read(data.len()));
            reads.push(read);
            data = rest;
        }
        reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_preserves_the_bytes() {
        let data: Vec<u8> = (0..=255).collect();
        for policy in [
            Segmentation::Whole,
            Segmentation::Fixed(1),
            Segmentation::Fixed(7),
            Segmentation::Seeded { seed: 9, max: 20 },
            Segmentation::Cuts(vec![3, 0, 100]),
        ] {
            let reads = Segmenter::new(policy.clone()).split(&data);
            assert_eq!(reads.concat(), data, "{policy:?}");
            assert!(reads.iter().all(|r| !r.is_empty()), "{policy:?}");
        }
    }

    #[test]
    fn one_byte_at_a_time_and_whole() {
        assert_eq!(
            Segmenter::new(Segmentation::Fixed(1)).split(b"abc").len(),
            3
        );
        assert_eq!(Segmenter::new(Segmentation::Whole).split(b"abc").len(), 1);
    }

    #[test]
    fn seeded_cuts_repeat_for_the_same_seed_and_differ_for_another() {
        let data = [0u8; 500];
        let sizes = |seed| -> Vec<usize> {
            let mut s = Segmenter::new(Segmentation::Seeded { seed, max: 50 });
            s.split(&data).iter().map(|r| r.len()).collect()
        };
        assert_eq!(sizes(1), sizes(1));
        assert_ne!(sizes(1), sizes(2));
    }
}
