//! Re-segmentation: how a byte stream is cut into reads on delivery.
//!
//! TCP preserves bytes, not write boundaries. A parser that assumes one write arrives as
//! one `data_received` works on a quiet loopback and fails in production. Every weft
//! driver that delivers bytes takes a [`Segmentation`] policy, so tests can deliver the
//! same stream whole, a byte at a time, or cut at seeded random points.

use rand::SeedableRng;
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
    /// The policy worked out for cutting: a plain tag and size (and a seeded policy's
    /// generator), so a read's cut reads one small field rather than decoding the
    /// policy (whose tag shares a word with the cuts' vector).
    cut: Cut,
    /// The rest of a policy other than [`Segmentation::Whole`], apart: a segmenter is
    /// three words, so a connection end that holds one stays small.
    more: Option<Box<More>>,
}

/// How a [`Segmenter`] cuts, from its policy.
#[derive(Clone, Debug)]
enum Cut {
    Whole,
    Fixed(usize),
    /// From 1 to `max` bytes (at least 1, and fitting 32 bits: the draw's width is
    /// known from the policy, not tested at each read), drawn from `rng` (boxed: its
    /// state is a few hundred bytes), which a read reaches without another look.
    Seeded32 {
        max: u32,
        rng: Box<ChaCha8Rng>,
    },
    /// From 1 to more bytes than fit 32 bits (the policy's `max`), drawn.
    Seeded(Box<ChaCha8Rng>),
    Cuts,
}

/// What a [`Segmenter`] keeps apart.
#[derive(Clone, Debug)]
struct More {
    policy: Segmentation,
    /// The next of a [`Segmentation::Cuts`] policy's sizes, counted from the first.
    next_cut: usize,
}

/// The policy of a segmenter that keeps nothing apart.
static WHOLE: Segmentation = Segmentation::Whole;

impl Segmenter {
    /// A segmenter for `policy`.
    pub fn new(policy: Segmentation) -> Self {
        let cut = match policy {
            Segmentation::Whole => return Self::whole(),
            Segmentation::Fixed(n) => Cut::Fixed(n),
            Segmentation::Seeded { seed, max } => {
                let rng = Box::new(ChaCha8Rng::seed_from_u64(seed));
                match u32::try_from(max.max(1)) {
                    Ok(max) => Cut::Seeded32 { max, rng },
                    Err(_) => Cut::Seeded(rng),
                }
            }
            Segmentation::Cuts(_) => Cut::Cuts,
        };
        let more = More {
            policy,
            next_cut: 0,
        };
        Self {
            cut,
            more: Some(Box::new(more)),
        }
    }

    fn whole() -> Self {
        Self {
            cut: Cut::Whole,
            more: None,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Segmentation {
        self.more.as_ref().map_or(&WHOLE, |more| &more.policy)
    }

    /// The size of the next read when `available` bytes (> 0) are waiting:
    /// between 1 and `available`.
    // Always inlined: SimNet cuts every arrival's read here, the two common policies
    // told apart by compares (more cases would make a jump table of it), the others
    // out of line. A seeded policy draws exactly what `random_range(1..=max)` draws
    // (see `one_to`).
    #[inline(always)]
    pub fn next_read(&mut self, available: usize) -> usize {
        match &mut self.cut {
            Cut::Whole => available.max(1),
            // A draw is at least 1: only the top needs a bound.
            Cut::Seeded32 { max, rng } => one_to_32(rng, *max).min(available.max(1)),
            _ => self.next_read_of_others(available),
        }
    }

    /// [`next_read`](Self::next_read) of a fixed size, a seeded size past 32 bits or
    /// cuts.
    #[inline(never)]
    fn next_read_of_others(&mut self, available: usize) -> usize {
        let most = available.max(1);
        match &mut self.cut {
            Cut::Whole => most,
            Cut::Fixed(n) => (*n).clamp(1, most),
            Cut::Seeded32 { max, rng } => one_to_32(rng, *max).min(most),
            Cut::Seeded(rng) => {
                let max = match self.more.as_deref() {
                    Some(More {
                        policy: Segmentation::Seeded { max, .. },
                        ..
                    }) => *max,
                    _ => unreachable!("a seeded cut keeps its policy"),
                };
                one_to(rng, max).min(most)
            }
            Cut::Cuts => self.next_cut(available).clamp(1, most),
        }
    }

    /// The next of a [`Segmentation::Cuts`] policy's sizes.
    #[cold]
    fn next_cut(&mut self, available: usize) -> usize {
        let Some(more) = &mut self.more else {
            return available;
        };
        let Segmentation::Cuts(cuts) = &more.policy else {
            return available;
        };
        if cuts.is_empty() {
            return available;
        }
        let cut = cuts[more.next_cut % cuts.len()];
        more.next_cut += 1;
        cut
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

/// `rng.random_range(1..=max)` (`max` ≥ 1) as rand 0.9 draws a `usize`: a `u32` range
/// by Canon's method on `u32` draws while `max` fits 32 bits, on `u64` draws past that
/// (the high word of one draw times the range, and a second draw only when the first's
/// low word falls in the last partial interval), written out so a read's cut inlines.
/// The test `a_seeded_cut_draws_what_random_range_draws_from_the_same_stream` holds it
/// to rand's.
#[inline(always)]
fn one_to(rng: &mut ChaCha8Rng, max: usize) -> usize {
    use rand::RngCore;
    if let Ok(range) = u32::try_from(max) {
        return one_to_32(rng, range);
    }
    let range = max as u64;
    let wide = u128::from(rng.next_u64()) * u128::from(range);
    let (mut result, low) = ((wide >> 64) as u64, wide as u64);
    if low > range.wrapping_neg() {
        let extra = ((u128::from(rng.next_u64()) * u128::from(range)) >> 64) as u64;
        result += u64::from(low.checked_add(extra).is_none());
    }
    1 + result as usize
}

/// [`one_to`] of a `max` that fits 32 bits.
#[inline(always)]
fn one_to_32(rng: &mut ChaCha8Rng, range: u32) -> usize {
    use rand::RngCore;
    let wide = u64::from(rng.next_u32()) * u64::from(range);
    let (mut result, low) = ((wide >> 32) as u32, wide as u32);
    if low > range.wrapping_neg() {
        let extra = ((u64::from(rng.next_u32()) * u64::from(range)) >> 32) as u32;
        result += u32::from(low.checked_add(extra).is_none());
    }
    1 + result as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn a_seeded_cut_draws_what_random_range_draws_from_the_same_stream() {
        // Small ranges, ranges whose last partial interval is large (the second draw
        // half the time), and ranges past 32 bits.
        let maxes = [
            1,
            2,
            3,
            7,
            1 << 20,
            u32::MAX as usize / 3 * 2,
            u32::MAX as usize - 1,
            u32::MAX as usize,
            u32::MAX as usize + 1,
            usize::MAX / 3 * 2,
            usize::MAX,
        ];
        for max in maxes {
            let mut a = ChaCha8Rng::seed_from_u64(5);
            let mut b = ChaCha8Rng::seed_from_u64(5);
            for _ in 0..2_000 {
                assert_eq!(one_to(&mut a, max), b.random_range(1..=max), "max {max}");
            }
            assert_eq!(a.random::<u64>(), b.random::<u64>(), "as many draws: {max}");
        }
    }

    #[test]
    fn a_seeded_segmenter_cuts_what_random_range_draws_from_its_seed() {
        for max in [3, u32::MAX as usize, u32::MAX as usize + 1, usize::MAX] {
            let mut segmenter = Segmenter::new(Segmentation::Seeded { seed: 4, max });
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            for _ in 0..200 {
                let expected = rng.random_range(1..=max);
                assert_eq!(segmenter.next_read(usize::MAX), expected, "max {max}");
            }
        }
    }

    #[test]
    fn a_segmenter_keeps_its_policy() {
        for policy in [
            Segmentation::Whole,
            Segmentation::Fixed(3),
            Segmentation::Seeded { seed: 2, max: 9 },
            Segmentation::Cuts(vec![1, 4]),
        ] {
            assert_eq!(Segmenter::new(policy.clone()).policy(), &policy);
        }
    }

    #[test]
    fn cuts_repeat_in_turn_and_are_clamped_to_what_is_there() {
        let mut s = Segmenter::new(Segmentation::Cuts(vec![2, 0, 5]));
        let sizes: Vec<usize> = [10, 10, 10, 3, 10].map(|n| s.next_read(n)).to_vec();
        assert_eq!(sizes, [2, 1, 5, 2, 1]);
        let mut empty = Segmenter::new(Segmentation::Cuts(Vec::new()));
        assert_eq!(empty.next_read(4), 4);
        assert_eq!(Segmenter::new(Segmentation::Fixed(0)).next_read(4), 1);
        assert_eq!(Segmenter::new(Segmentation::Whole).next_read(0), 1);
    }

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
