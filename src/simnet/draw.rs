//! Latency draws prepared for the wire: a [`Latency`] worked out in nanoseconds once,
//! so each packet's draw is an add and, for a uniform range, one inlined draw.

use std::time::Duration;

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

use super::config::Latency;

/// A [`Latency`] ready to draw from: the fixed and uniform cases worked out in
/// nanoseconds once, so a packet's draw is an add (and for a uniform range, the rng's
/// one draw), with the same draws from the same stream as
/// [`Latency::sample_nanos`].
// A tag of its own (`repr(u8)`) rather than one folded into the `Latency`'s niche: a
// packet's draw tells the cases apart with one compare.
#[derive(Clone, Debug)]
#[repr(u8)]
pub(crate) enum LatencyDraw {
    /// `min` plus a draw below `range` (never 0: a range of all 2^64 values is
    /// `Other`), first: the tag a packet's draw compares with zero.
    Uniform {
        min: u64,
        range: u64,
    },
    Fixed(u64),
    Other(Latency),
}

impl LatencyDraw {
    pub(crate) fn new(latency: &Latency) -> Self {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        match *latency {
            Latency::Fixed(d) => Self::Fixed(nanos(d)),
            Latency::Uniform { min, max } if max > min => match nanos(max - min).checked_add(1) {
                Some(range) => Self::Uniform {
                    min: nanos(min),
                    range,
                },
                None => Self::Other(latency.clone()),
            },
            // `sample` draws nothing for an empty range.
            Latency::Uniform { min, .. } => Self::Fixed(nanos(min)),
            Latency::Exponential { .. } => Self::Other(latency.clone()),
        }
    }

    /// One latency in nanoseconds.
    #[inline(always)]
    pub(crate) fn sample_nanos(&self, rng: &mut ChaCha8Rng) -> u64 {
        match *self {
            Self::Fixed(nanos) => nanos,
            Self::Uniform { min, range } => min.saturating_add(below(rng, range)),
            Self::Other(ref latency) => latency.sample_nanos(rng),
        }
    }
}

/// `rng.random_range(0..=range - 1)` (`range` not 0) as rand 0.9 draws a `u64`
/// (Canon's method: the high word of one draw times the range, and a second draw only
/// when the first's low word falls in the last partial interval), written out so a
/// packet's draw inlines. The test
/// `a_prepared_latency_draws_what_the_distribution_draws_from_the_same_stream` holds
/// it to rand's.
#[inline(always)]
fn below(rng: &mut ChaCha8Rng, range: u64) -> u64 {
    let wide = u128::from(next_u64(rng)) * u128::from(range);
    let (mut result, low) = ((wide >> 64) as u64, wide as u64);
    if low > range.wrapping_neg() {
        let extra = ((u128::from(next_u64(rng)) * u128::from(range)) >> 64) as u64;
        result += u64::from(low.checked_add(extra).is_none());
    }
    result
}

/// `rng.next_u64()`: the block's next two words, the first the low half, which is what
/// the block generator's `next_u64` reads (at a block's end too: its last word, then
/// the next block's first). As two inlined `next_u32` it costs a packet no call; the
/// latency test below holds it to rand's draws across many block ends.
#[inline(always)]
fn next_u64(rng: &mut ChaCha8Rng) -> u64 {
    let low = rng.next_u32();
    let high = rng.next_u32();
    u64::from(high) << 32 | u64::from(low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_prepared_latency_draws_what_the_distribution_draws_from_the_same_stream() {
        let ms = Duration::from_millis;
        for latency in [
            Latency::Fixed(ms(3)),
            Latency::Uniform {
                min: ms(1),
                max: ms(20),
            },
            Latency::Uniform {
                min: ms(5),
                max: ms(5),
            },
            Latency::Uniform {
                min: ms(9),
                max: ms(2),
            },
            Latency::Exponential {
                min: ms(1),
                mean: ms(4),
            },
            // Ranges near 2^64 take the second draw half the time.
            Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_nanos(u64::MAX / 3 * 2),
            },
            Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_nanos(u64::MAX),
            },
        ] {
            let mut a = ChaCha8Rng::seed_from_u64(11);
            let mut b = ChaCha8Rng::seed_from_u64(11);
            let draw = LatencyDraw::new(&latency);
            for _ in 0..1_000 {
                assert_eq!(
                    draw.sample_nanos(&mut a),
                    latency.sample_nanos(&mut b),
                    "{latency:?}"
                );
            }
            assert_eq!(
                a.random::<u64>(),
                b.random::<u64>(),
                "as many draws: {latency:?}"
            );
        }
    }

    #[test]
    fn two_words_are_the_generators_own_u64_at_every_offset_and_block_end() {
        // An odd number of words drawn first puts a u64 across each block's end.
        for offset in 0..3 {
            let mut a = ChaCha8Rng::seed_from_u64(3);
            let mut b = ChaCha8Rng::seed_from_u64(3);
            for _ in 0..offset {
                assert_eq!(a.next_u32(), b.next_u32());
            }
            for _ in 0..500 {
                assert_eq!(next_u64(&mut a), b.next_u64(), "offset {offset}");
            }
            assert_eq!(a.next_u32(), b.next_u32(), "as many words: {offset}");
        }
    }
}
