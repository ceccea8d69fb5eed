//! [`HostRng`]: the seeded random source a program draws from.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A host's random numbers: seeded by the driver, so a program that draws from it (a
/// retry's jitter, a randomised choice) does the same thing on every run with the same
/// seed.
///
/// A program reaches it through [`HostContext::rng`](super::HostContext::rng). Who seeds
/// it:
///
/// - [`SimNet`](crate::simnet::SimNet): the run's seed, on a stream of its own per host
///   and incarnation (a restarted host draws afresh, as a new process would), apart from
///   the streams the network itself draws latency and faults from;
/// - the testing doubles and the tokio driver: [`HostRng::DEFAULT_SEED`], unless the
///   caller seeds the host itself ([`Host::with_rng`](super::Host::with_rng),
///   [`MemoryReactor::with_rng`](crate::testing::MemoryReactor::with_rng)).
///
/// It implements [`rand::RngCore`], so every [`rand::Rng`] method works on it (weft
/// re-exports [`rand`]).
///
/// ```
/// use weft::host::HostRng;
/// use weft::rand::{Rng, RngCore};
///
/// let mut a = HostRng::new(7, 0);
/// let mut b = HostRng::new(7, 0);
/// let draws: Vec<u32> = (0..3).map(|_| a.random_range(0..100)).collect();
/// assert_eq!(draws, (0..3).map(|_| b.random_range(0..100)).collect::<Vec<u32>>());
/// assert_ne!(HostRng::new(7, 1).next_u64(), HostRng::new(7, 0).next_u64());
/// ```
#[derive(Clone, Debug)]
pub struct HostRng(ChaCha8Rng);

impl HostRng {
    /// The seed of a host that no driver seeded.
    pub const DEFAULT_SEED: u64 = 0;

    /// The generator for `seed` on `stream`. Streams of one seed never overlap, so a
    /// driver can give every host its own without the draws of one moving another's.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self(rng)
    }
}

impl Default for HostRng {
    /// [`DEFAULT_SEED`](Self::DEFAULT_SEED), stream 0.
    fn default() -> Self {
        Self::new(Self::DEFAULT_SEED, 0)
    }
}

impl RngCore for HostRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
}
