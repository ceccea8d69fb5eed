//! Seeded faults: mean rates expanded, with the run's seed, into an explicit schedule,
//! so every schedule can be printed, replayed and shrunk.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::human_duration;
use super::fault::{Fault, PartitionMode};
use super::limits::RunawayError;

/// Faults drawn from the run's seed at given mean rates, up to `until`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a [random-faults] table such as { partition-every = \"10s\", until = \"60s\" }"
)]
pub struct RandomFaults {
    /// Mean time between partitions of a random pair of hosts.
    #[serde(default, with = "super::config::opt_human_duration")]
    pub partition_every: Option<Duration>,
    /// How long each partition lasts.
    #[serde(default = "default_lasting", with = "human_duration")]
    pub partition_lasting: Duration,
    /// Drop or hold.
    #[serde(default)]
    pub partition_mode: PartitionMode,
    /// Mean time between connection resets of a random host.
    #[serde(default, with = "super::config::opt_human_duration")]
    pub reset_every: Option<Duration>,
    /// Mean time between crashes of a random host among `crashable`.
    #[serde(default, with = "super::config::opt_human_duration")]
    pub crash_every: Option<Duration>,
    /// How long a crashed host stays down before it restarts.
    #[serde(default = "default_lasting", with = "human_duration")]
    pub down_for: Duration,
    /// Hosts that may crash (none by default).
    #[serde(default)]
    pub crashable: Vec<String>,
    /// No random fault after this time.
    #[serde(with = "human_duration")]
    pub until: Duration,
}

fn default_lasting() -> Duration {
    Duration::from_secs(2)
}

impl RandomFaults {
    /// Expands the rates into an explicit, time-ordered schedule over `hosts`, of at
    /// most `max_faults` faults (the `[limits] max-faults` of a scenario): more is a
    /// [`RunawayError::TooManyFaults`], found before the schedule grows past the cap.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::simnet::{RandomFaults, RunawayError};
    ///
    /// let hosts = ["a".to_owned(), "b".to_owned()];
    /// let rates = RandomFaults {
    ///     partition_every: Some(Duration::from_secs(10)),
    ///     until: Duration::from_secs(60),
    ///     ..RandomFaults::default()
    /// };
    /// assert!(!rates.expand(1, &hosts, 1_000)?.is_empty());
    /// let flood = RandomFaults { partition_every: Some(Duration::from_nanos(1)), ..rates };
    /// assert!(matches!(flood.expand(1, &hosts, 1_000), Err(RunawayError::TooManyFaults { .. })));
    /// # Ok::<(), RunawayError>(())
    /// ```
    pub fn expand(
        &self,
        seed: u64,
        hosts: &[String],
        max_faults: usize,
    ) -> Result<Vec<Fault>, RunawayError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xfa17_5eed);
        let mut faults = Vec::new();
        let mut overflow = false;
        let mut each =
            |every: Option<Duration>,
             make: &mut dyn FnMut(&mut ChaCha8Rng, Duration) -> Vec<Fault>| {
                let Some(every) = every.filter(|d| !d.is_zero()) else {
                    return;
                };
                let mut t = Duration::ZERO;
                while !overflow {
                    let u: f64 = rng.random_range(f64::EPSILON..1.0);
                    t += Duration::from_secs_f64(-u.ln() * every.as_secs_f64());
                    if t >= self.until {
                        break;
                    }
                    faults.extend(make(&mut rng, round_to_ms(t)));
                    overflow = faults.len() > max_faults;
                }
            };
        if hosts.len() >= 2 {
            each(self.partition_every, &mut |rng, t| {
                let a = rng.random_range(0..hosts.len());
                let b = (a + rng.random_range(1..hosts.len())) % hosts.len();
                let (a, b) = (hosts[a].clone(), hosts[b].clone());
                vec![
                    Fault::at(t)
                        .partition(a.clone(), b.clone())
                        .mode(self.partition_mode),
                    Fault::at(t + self.partition_lasting).heal(a, b),
                ]
            });
        }
        if !hosts.is_empty() {
            each(self.reset_every, &mut |rng, t| {
                let host = hosts[rng.random_range(0..hosts.len())].clone();
                vec![Fault::at(t).reset(host)]
            });
        }
        if !self.crashable.is_empty() {
            let crashable = self.crashable.clone();
            each(self.crash_every, &mut |rng, t| {
                let host = crashable[rng.random_range(0..crashable.len())].clone();
                vec![
                    Fault::at(t).crash(host.clone()),
                    Fault::at(t + self.down_for).restart(host),
                ]
            });
        }
        if overflow {
            return Err(RunawayError::TooManyFaults {
                limit: max_faults,
                until: super::config::format_duration(self.until),
            });
        }
        faults.sort_by_key(|f| f.at);
        Ok(faults)
    }
}

/// Millisecond resolution keeps expanded schedules readable when written out.
fn round_to_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simnet::FaultAction;

    #[test]
    fn random_faults_expand_deterministically_within_their_window() {
        let spec = RandomFaults {
            partition_every: Some(Duration::from_secs(10)),
            reset_every: Some(Duration::from_secs(20)),
            until: Duration::from_secs(100),
            ..RandomFaults::default()
        };
        let hosts = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let one = spec.expand(7, &hosts, 1000).unwrap();
        assert_eq!(one, spec.expand(7, &hosts, 1000).unwrap());
        assert_ne!(one, spec.expand(8, &hosts, 1000).unwrap());
        assert!(!one.is_empty());
        assert!(one.windows(2).all(|w| w[0].at <= w[1].at));
        for fault in &one {
            if let FaultAction::Partition(p) = &fault.action {
                assert_ne!(p.a, p.b, "a partition joins two different hosts");
                assert!(fault.at.unwrap() < Duration::from_secs(100));
            }
        }
    }
}
