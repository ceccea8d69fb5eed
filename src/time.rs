//! Virtual time.
//!
//! weft never reads the machine's clock outside the tokio driver. Every clock, timer queue
//! and transcript speaks in [`Instant`]: whole nanoseconds since the start of a run, so a
//! run's times are the same on every machine and every replay. Durations are plain
//! [`std::time::Duration`].

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point in virtual time: nanoseconds since the run's epoch (time zero).
///
/// Like Twisted's `task.Clock`, every run starts at zero. The epoch has no meaning
/// outside the run, which is what makes times in snapshots byte-stable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Instant(u64);

impl Instant {
    /// The start of every run.
    pub const ZERO: Self = Self(0);
    /// The largest representable instant (about 584 years in).
    pub const MAX: Self = Self(u64::MAX);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros * 1_000)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis * 1_000_000)
    }

    /// An instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs * 1_000_000_000)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` past [`Instant::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Self)
    }

    /// `self + d`, clamped at [`Instant::MAX`] (a deadline that never comes).
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::MAX)
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    /// Saturates at [`Instant::MAX`]: a timer 600 years out simply never fires.
    fn add(self, d: Duration) -> Self {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub for Instant {
    type Output = Duration;
    /// Saturates at zero, like [`Instant::saturating_duration_since`].
    fn sub(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// Seconds with six decimals (`12.000100`), right-aligned to a fixed width when a width
/// is given (`{:>12}`), so transcript columns line up.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let micros = (self.0 % 1_000_000_000) / 1_000;
        f.pad(&format!("{secs}.{micros:06}"))
    }
}

/// Formats a duration the way Python prints a `datetime.timedelta`: `0:00:10.100000`.
///
/// The poetry clients of Part 2 report their total time in this form.
pub fn format_timedelta(d: Duration) -> String {
    let total_micros = d.as_micros();
    let micros = total_micros % 1_000_000;
    let secs = total_micros / 1_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if micros == 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}.{micros:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_six_decimals_and_pads() {
        assert_eq!(Instant::from_millis(10_100).to_string(), "10.100000");
        assert_eq!(format!("{:>10}", Instant::ZERO), "  0.000000");
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Instant::from_secs(1), Duration::ZERO);
        assert_eq!(
            Instant::from_secs(3) - Instant::from_secs(1),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn timedelta_matches_python() {
        assert_eq!(
            format_timedelta(Duration::from_millis(10_100)),
            "0:00:10.100000"
        );
        assert_eq!(format_timedelta(Duration::from_secs(3725)), "1:02:05");
    }
}
