//! [`RetryPolicy`]: how long to wait before trying again, and when to stop (the back-off
//! of Twisted's `ReconnectingClientFactory` and `ClientService`).
//!
//! A policy is a plain value: an initial delay, a growth factor, a maximum delay, a
//! [`Jitter`] and, optionally, a maximum number of retries. [`RetryPolicy::delay`] turns
//! "the n-th consecutive failure" into the wait before the next attempt, drawing the
//! jitter from a random source the caller passes: inside a program, the host's seeded
//! [`HostRng`](super::HostRng) ([`HostContext::rng`](super::HostContext::rng)), so the
//! same seed gives the same waits.
//!
//! The wait after failure `n` (1 for the first) is `initial × factorⁿ⁻¹`, capped at the
//! maximum, then jittered. The arithmetic saturates: a huge `n` or factor gives the
//! maximum, never an overflow or a panic.
//!
//! | Twisted | weft |
//! |---|---|
//! | `ReconnectingClientFactory` (`initialDelay` 1 s, `factor` e, `maxDelay` 3600 s, `jitter` 0.1196, `maxRetries` None) | [`RetryPolicy::reconnecting_client_factory`] |
//! | `ClientService` with `backoffPolicy()` (`initialDelay` 1 s, `factor` 1.5, `maxDelay` 60 s, jitter `random.random()` seconds) | [`RetryPolicy::client_service`] |
//! | `maxRetries = n`, then "Abandoning ... after n retries" | [`RetryPolicy::with_max_retries`]: `delay` returns `None` |
//! | `resetDelay()` after a connection is made | the caller counts failures from 1 again |
//!
//! Two differences, both deliberate: Twisted's first wait is already `initialDelay ×
//! factor` (the constructors above fold that in, so their first waits match Twisted's);
//! and `ReconnectingClientFactory` draws a normal variate and feeds each jittered delay
//! into the next, so its waits are unbounded and depend on the whole history, where
//! weft's proportional jitter is uniform, bounded and a function of `n` alone.
//!
//! ```
//! use std::time::Duration;
//! use weft::host::{HostRng, Jitter, RetryPolicy};
//!
//! let policy = RetryPolicy::exponential(Duration::from_millis(100), 2.0)
//!     .with_max_delay(Duration::from_secs(1))
//!     .with_max_retries(5);
//! let mut rng = HostRng::default();
//! let waits: Vec<_> = (1..=6).map(|n| policy.delay(n, &mut rng)).collect();
//! let ms = |n| Some(Duration::from_millis(n));
//! assert_eq!(waits, [ms(100), ms(200), ms(400), ms(800), ms(1000), None]);
//!
//! // With jitter, the same seed gives the same waits.
//! let jittered = policy.with_jitter(Jitter::Proportional(0.1));
//! let draw = |seed| jittered.delay(3, &mut HostRng::new(seed, 0)).unwrap();
//! assert_eq!(draw(7), draw(7));
//! assert!((Duration::from_millis(360)..=Duration::from_millis(440)).contains(&draw(7)));
//! ```

use std::time::Duration;

use rand::{Rng, RngCore};

/// Randomness added to each wait, so that clients that failed together do not all
/// come back at the same instant.
#[derive(Clone, Copy, PartialEq, Debug, Default)]
pub enum Jitter {
    /// Every wait exactly as the back-off says.
    #[default]
    None,
    /// Adds a uniform random duration from zero up to (not including) this one
    /// (`ClientService`'s default adds `random.random()` seconds: up to 1 s).
    Add(Duration),
    /// Scales the wait by a uniform random factor from `1 - f` to `1 + f`: the bounded
    /// counterpart of `ReconnectingClientFactory`'s normal variate with standard
    /// deviation `f × delay`. `f` is taken within 0 to 1 (NaN as 0).
    Proportional(f64),
}

impl Jitter {
    /// `base` with this jitter drawn from `rng`; `rng` is not touched for
    /// [`Jitter::None`]. Saturates at [`Duration::MAX`].
    pub fn apply(&self, base: Duration, rng: &mut (impl RngCore + ?Sized)) -> Duration {
        match *self {
            Self::None => base,
            Self::Add(reach) => {
                let reach = u64::try_from(reach.as_nanos()).unwrap_or(u64::MAX);
                if reach == 0 {
                    return base;
                }
                base.saturating_add(Duration::from_nanos(rng.random_range(0..reach)))
            }
            Self::Proportional(fraction) => {
                let f = fraction.clamp(0.0, 1.0);
                if f == 0.0 || f.is_nan() {
                    return base;
                }
                let u: f64 = rng.random();
                let scale = 1.0 - f + 2.0 * f * u;
                // Floats round: keep the draw within the bound promised.
                Duration::try_from_secs_f64(base.as_secs_f64() * scale)
                    .unwrap_or(Duration::MAX)
                    .min(self.upper_bound(base))
            }
        }
    }

    /// The most this jitter can make of `base`.
    pub fn upper_bound(&self, base: Duration) -> Duration {
        match *self {
            Self::None => base,
            Self::Add(reach) => base.saturating_add(reach),
            Self::Proportional(fraction) => {
                let f = fraction.clamp(0.0, 1.0);
                if f.is_nan() {
                    return base;
                }
                Duration::try_from_secs_f64(base.as_secs_f64() * (1.0 + f))
                    .unwrap_or(Duration::MAX)
                    .max(base)
            }
        }
    }
}

/// When to try again after a failure, and when to give up. See the [module
/// docs](self) for the rule and its Twisted counterparts.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct RetryPolicy {
    initial_delay: Duration,
    factor: f64,
    max_delay: Duration,
    jitter: Jitter,
    max_retries: Option<u32>,
}

impl RetryPolicy {
    /// The same wait after every failure, no jitter, retrying forever.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use weft::host::{HostRng, RetryPolicy};
    /// let policy = RetryPolicy::fixed(Duration::from_secs(1)).with_max_retries(2);
    /// let mut rng = HostRng::default();
    /// assert_eq!(policy.delay(2, &mut rng), Some(Duration::from_secs(1)));
    /// assert_eq!(policy.delay(3, &mut rng), None);
    /// ```
    pub fn fixed(delay: Duration) -> Self {
        Self::exponential(delay, 1.0)
    }

    /// Waits of `initial`, then `factor` times longer after each further failure, with
    /// no maximum delay (see [`with_max_delay`](Self::with_max_delay)), no jitter, and
    /// no limit on retries. A factor below 1 (or NaN) is taken as 1: waits never shrink.
    pub fn exponential(initial: Duration, factor: f64) -> Self {
        Self {
            initial_delay: initial,
            factor: if factor >= 1.0 { factor } else { 1.0 },
            max_delay: Duration::MAX,
            jitter: Jitter::None,
            max_retries: None,
        }
    }

    /// `ClientService`'s default `backoffPolicy()`: 1.5 s after the first failure
    /// (Twisted's `1.0 × 1.5¹`), growing by 1.5 up to 60 s, plus up to 1 s of jitter;
    /// retrying forever.
    pub fn client_service() -> Self {
        Self::exponential(Duration::from_millis(1500), 1.5)
            .with_max_delay(Duration::from_secs(60))
            .with_jitter(Jitter::Add(Duration::from_secs(1)))
    }

    /// `ReconnectingClientFactory`'s defaults: e seconds after the first failure
    /// (Twisted's `1.0 × e`), growing by e up to an hour, with proportional jitter of
    /// 0.1196 (Twisted's `jitter`); retrying forever.
    pub fn reconnecting_client_factory() -> Self {
        Self::exponential(
            Duration::from_secs_f64(std::f64::consts::E),
            std::f64::consts::E,
        )
        .with_max_delay(Duration::from_secs(3600))
        .with_jitter(Jitter::Proportional(0.119_626_565_582))
    }

    /// The same policy with another initial delay.
    pub fn with_initial_delay(self, initial_delay: Duration) -> Self {
        Self {
            initial_delay,
            ..self
        }
    }

    /// The same policy whose back-off stops growing at `max_delay` (jitter is added
    /// after the cap, as Twisted does).
    pub fn with_max_delay(self, max_delay: Duration) -> Self {
        Self { max_delay, ..self }
    }

    /// The same policy with `jitter`.
    pub fn with_jitter(self, jitter: Jitter) -> Self {
        Self { jitter, ..self }
    }

    /// The same policy, giving up after `retries` retries (Twisted's `maxRetries`);
    /// 0 means never retry.
    pub fn with_max_retries(self, retries: u32) -> Self {
        Self {
            max_retries: Some(retries),
            ..self
        }
    }

    /// The same policy, retrying forever (Twisted's `maxRetries = None`).
    pub fn retrying_forever(self) -> Self {
        Self {
            max_retries: None,
            ..self
        }
    }

    /// The wait after the first failure.
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// How much longer each wait is than the one before (at least 1).
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Where the back-off stops growing.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The jitter.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// Retries allowed after the first attempt; `None`: no limit.
    pub fn max_retries(&self) -> Option<u32> {
        self.max_retries
    }

    /// Attempts allowed in all, the first included; `None`: no limit.
    pub fn max_attempts(&self) -> Option<u32> {
        self.max_retries.map(|r| r.saturating_add(1))
    }

    /// Whether a retry is allowed after `failures` consecutive failures.
    pub fn allows(&self, failures: u32) -> bool {
        self.max_retries.is_none_or(|max| failures <= max)
    }

    /// The wait after `failures` consecutive failures (1 for the first; 0 is taken as
    /// 1), before jitter: `initial × factor^(failures - 1)`, at most the maximum delay.
    pub fn backoff(&self, failures: u32) -> Duration {
        let base = self.initial_delay.min(self.max_delay);
        let exponent = failures.saturating_sub(1);
        if self.factor == 1.0 || exponent == 0 || base.is_zero() {
            // Exact, with no float on the way: a fixed delay stays to the nanosecond.
            return base;
        }
        let secs = self.initial_delay.as_secs_f64() * self.factor.powf(f64::from(exponent));
        // An infinite product (a huge factor or exponent) lands here too.
        if secs.is_nan() || secs >= self.max_delay.as_secs_f64() {
            return self.max_delay;
        }
        Duration::try_from_secs_f64(secs).map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    /// The wait before the next attempt after `failures` consecutive failures, with
    /// jitter drawn from `rng`; `None` once the retries are used up. `rng` is drawn
    /// from only when there is jitter and a retry.
    pub fn delay(&self, failures: u32, rng: &mut (impl RngCore + ?Sized)) -> Option<Duration> {
        if !self.allows(failures) {
            return None;
        }
        Some(self.jitter.apply(self.backoff(failures), rng))
    }

    /// The longest wait this policy can ask for: the capped back-off with the most
    /// jitter.
    pub fn upper_bound(&self) -> Duration {
        let cap = if self.factor == 1.0 {
            self.initial_delay.min(self.max_delay)
        } else {
            self.max_delay
        };
        self.jitter.upper_bound(cap)
    }
}

#[cfg(test)]
mod tests;
