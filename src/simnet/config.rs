//! Network settings: latency distributions, buffer sizes, re-segmentation, and the
//! human-friendly durations scenario files use.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::testing::Segmentation;

/// How long a packet takes from one host to another.
///
/// TCP delivers in order, so a draw that would overtake an earlier packet of the same
/// direction is held back to arrive just after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    deny_unknown_fields,
    expecting = "a latency such as { fixed = \"5ms\" }, { uniform = { min = \"1ms\", max = \"20ms\" } } or { exponential = { min = \"1ms\", mean = \"5ms\" } }"
)]
pub enum Latency {
    /// Always the same.
    Fixed(#[serde(with = "human_duration")] Duration),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Shortest.
        #[serde(with = "human_duration")]
        min: Duration,
        /// Longest.
        #[serde(with = "human_duration")]
        max: Duration,
    },
    /// `min` plus an exponential tail with the given mean (turmoil's default shape).
    Exponential {
        /// Floor.
        #[serde(with = "human_duration")]
        min: Duration,
        /// Mean of the tail above the floor.
        #[serde(with = "human_duration")]
        mean: Duration,
    },
}

impl Default for Latency {
    fn default() -> Self {
        Self::Fixed(Duration::from_millis(1))
    }
}

impl Latency {
    /// Draws one latency.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            Self::Fixed(d) => d,
            Self::Uniform { min, max } if max > min => {
                let span = u64::try_from((max - min).as_nanos()).unwrap_or(u64::MAX);
                min + Duration::from_nanos(rng.random_range(0..=span))
            }
            Self::Uniform { min, .. } => min,
            Self::Exponential { min, mean } => {
                // Inverse transform sampling; the open interval keeps ln finite.
                let u: f64 = rng.random_range(f64::EPSILON..1.0);
                let tail = -u.ln() * mean.as_secs_f64();
                min + Duration::from_secs_f64(tail.min(3600.0))
            }
        }
    }

    /// Draws one latency in nanoseconds, clamped at `u64::MAX`: the same draw as
    /// [`sample`](Self::sample), from the same stream, without building `Duration`s
    /// on the way (every packet takes one).
    pub(crate) fn sample_nanos(&self, rng: &mut impl Rng) -> u64 {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        match *self {
            Self::Fixed(d) => nanos(d),
            Self::Uniform { min, max } if max > min => {
                let span = u64::try_from((max - min).as_nanos()).unwrap_or(u64::MAX);
                nanos(min).saturating_add(rng.random_range(0..=span))
            }
            _ => nanos(self.sample(rng)),
        }
    }

    /// What is wrong with this distribution, if anything: a uniform range whose `min`
    /// is above its `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::simnet::Latency;
    /// let backwards = Latency::Uniform { min: Duration::from_millis(5), max: Duration::from_millis(1) };
    /// assert_eq!(backwards.problem().unwrap(), "uniform latency min = \"5ms\" is above max = \"1ms\"");
    /// ```
    pub fn problem(&self) -> Option<String> {
        match *self {
            Self::Uniform { min, max } if min > max => Some(format!(
                "uniform latency min = {:?} is above max = {:?}",
                format_duration(min),
                format_duration(max)
            )),
            _ => None,
        }
    }

    /// The largest latency this distribution can draw (exponential tails are cut at
    /// ten means for this purpose).
    pub fn worst(&self) -> Duration {
        match *self {
            Self::Fixed(d) => d,
            Self::Uniform { min, max } => min.max(max),
            Self::Exponential { min, mean } => min + mean * 10,
        }
    }
}

/// Settings for every link and socket of a simulated network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a [network] table such as { latency = { fixed = \"5ms\" } }"
)]
pub struct NetConfig {
    /// One-way latency between two different hosts.
    pub latency: Latency,
    /// How bytes arriving at a socket are cut into reads. A seeded policy's seed is mixed
    /// with the run's seed and the connection, so every connection cuts differently.
    pub segmentation: Segmentation,
    /// Kernel send buffer per socket, in bytes.
    pub send_buffer: usize,
    /// Kernel receive buffer per socket, in bytes: the receive window.
    pub recv_buffer: usize,
    /// Largest segment put on the wire at once.
    pub mss: usize,
    /// A connection whose packets have been lost for this long (a dropping partition, a
    /// dead peer) times out.
    #[serde(with = "human_duration")]
    pub retransmit_timeout: Duration,
    /// First retransmission delay; doubles each attempt, up to 30 s.
    #[serde(with = "human_duration")]
    pub initial_rto: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            latency: Latency::default(),
            segmentation: Segmentation::Whole,
            send_buffer: 64 * 1024,
            recv_buffer: 64 * 1024,
            mss: 16 * 1024,
            retransmit_timeout: Duration::from_secs(60),
            initial_rto: Duration::from_millis(200),
        }
    }
}

impl NetConfig {
    /// What is wrong with these settings, if anything: buffers and segments must hold at
    /// least a byte (or nothing could ever be sent), and retransmissions must wait a
    /// little (or they would repeat forever at one instant).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("send-buffer", self.send_buffer),
            ("recv-buffer", self.recv_buffer),
            ("mss", self.mss),
        ] {
            if value == 0 {
                problems.push(format!("{name} must be at least 1 byte"));
            }
        }
        if self.initial_rto.is_zero() {
            problems.push("initial-rto must be longer than zero".to_owned());
        }
        problems
    }
}

/// The longest duration a file can say: 10^12 s, about 31,700 years.
pub const MAX_DURATION_SECS: u64 = 1_000_000_000_000;

/// A duration that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {why}")]
pub struct DurationError {
    text: String,
    why: &'static str,
}

const SHAPE: &str = "expected a number and a unit, like 150ms, 1.5s, 2m, 1h";
const NEGATIVE: &str = "durations cannot be negative";
const TOO_LONG: &str = "at most 1000000000000s (about 31,700 years)";

/// Parses `500ns`, `10us`, `150ms`, `1.5s`, `2m`, `1h` (a bare number means seconds),
/// up to [`MAX_DURATION_SECS`].
///
/// The number is read as an exact decimal and rounded (half up) to whole nanoseconds,
/// so every duration [`format_duration`] prints reads back as itself.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = |why| DurationError {
        text: text.to_owned(),
        why,
    };
    let text = text.trim();
    if text.starts_with('-') {
        return Err(err(NEGATIVE));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_nanos: u128 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(err(SHAPE)),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(err(SHAPE));
    }
    let nanos = exact_nanos(whole, fraction, unit_nanos).ok_or_else(|| err(TOO_LONG))?;
    if nanos > u128::from(MAX_DURATION_SECS) * 1_000_000_000 {
        return Err(err(TOO_LONG));
    }
    // Whole seconds apart, as 10^12 s in nanoseconds is past u64.
    let (secs, subsec) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    Ok(Duration::new(secs as u64, subsec as u32))
}

/// A whole number of seconds, checked like [`parse_duration`] checks text.
fn whole_seconds(secs: i128) -> Result<Duration, DurationError> {
    let err = |why| DurationError {
        text: secs.to_string(),
        why,
    };
    match u64::try_from(secs) {
        Err(_) if secs < 0 => Err(err(NEGATIVE)),
        Ok(secs) if secs <= MAX_DURATION_SECS => Ok(Duration::from_secs(secs)),
        _ => Err(err(TOO_LONG)),
    }
}

/// `whole.fraction` units of `unit_nanos` nanoseconds each, rounded half up to whole
/// nanoseconds; `None` if it does not fit. Both parts are ASCII digits.
fn exact_nanos(whole: &str, fraction: &str, unit_nanos: u128) -> Option<u128> {
    let digits = |s: &str| {
        s.bytes().try_fold(0u128, |n, b| {
            n.checked_mul(10)?.checked_add(u128::from(b - b'0'))
        })
    };
    let whole_nanos = digits(whole)?.checked_mul(unit_nanos)?;
    // Digits past the 24th cannot move a half-up rounding to nanoseconds (the unit is
    // at most 3.6e12 ns, so the rounding digit is within the first 13), and 24 digits
    // times the unit fit a u128.
    let fraction = &fraction[..fraction.len().min(24)];
    let scale = 10u128.pow(fraction.len() as u32);
    let scaled = digits(fraction)? * unit_nanos;
    let fraction_nanos = scaled / scale + u128::from(scaled % scale * 2 >= scale);
    whole_nanos.checked_add(fraction_nanos)
}

/// Formats a duration the way [`parse_duration`] reads it back, exactly.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

/// Serde adapter: durations as strings like `150ms` (or a number of seconds).
pub mod human_duration {
    use super::*;

    /// Writes `150ms`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    /// Reads `150ms`, `1.5s` or a number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    /// Reads a duration from text or a number (of seconds).
    struct DurationVisitor;

    impl serde::de::Visitor<'_> for DurationVisitor {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"150ms\" or a number of seconds")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v).map_err(E::custom)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
            whole_seconds(v.into()).map_err(E::custom)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
            whole_seconds(v.into()).map_err(E::custom)
        }
        fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Duration, E> {
            whole_seconds(v).map_err(E::custom)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
            parse_duration(&v.to_string()).map_err(E::custom)
        }
    }

    /// Serde adapter: a duration or `never` (`None`: a timeout that is off, a cache
    /// that keeps everything), read in the forms [`human_duration`](self) reads, in
    /// scenario files and services files alike.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Cache {
    ///     #[serde(with = "weft::simnet::human_duration::or_never")]
    ///     expiry: Option<Duration>,
    /// }
    ///
    /// let read = |text| toml::from_str::<Cache>(text).map(|c| c.expiry);
    /// assert_eq!(read("expiry = \"never\"").unwrap(), None);
    /// assert_eq!(read("expiry = \"2m\"").unwrap(), Some(Duration::from_secs(120)));
    /// assert_eq!(read("expiry = 60").unwrap(), Some(Duration::from_secs(60)));
    /// assert_eq!(read("expiry = 1.5").unwrap(), Some(Duration::from_millis(1500)));
    /// let refused = read("expiry = \"soon\"").unwrap_err().to_string();
    /// assert!(refused.contains("150ms") && refused.contains("\"never\""), "{refused}");
    /// ```
    pub mod or_never {
        use super::*;

        /// The word that means no duration.
        const NEVER: &str = "never";

        /// Writes `150ms`, or `never`.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_str(NEVER),
            }
        }

        /// Reads `never`, `150ms`, `1.5s` or a number of seconds.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            d.deserialize_any(OrNever)
        }

        /// Reads `never`, or what [`DurationVisitor`] reads.
        struct OrNever;

        impl serde::de::Visitor<'_> for OrNever {
            type Value = Option<Duration>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"150ms\", a number of seconds, or \"never\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v.trim() == NEVER {
                    return Ok(None);
                }
                parse_duration(v).map(Some).map_err(|error| {
                    // Text of the wrong shape may have meant the other form.
                    if error.why == SHAPE {
                        E::custom(format!("{error}, or \"{NEVER}\""))
                    } else {
                        E::custom(error)
                    }
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                DurationVisitor.visit_i64(v).map(Some)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                DurationVisitor.visit_u64(v).map(Some)
            }
            fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Self::Value, E> {
                DurationVisitor.visit_i128(v).map(Some)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                DurationVisitor.visit_f64(v).map(Some)
            }
        }
    }
}

/// Serde adapter: optional durations as strings like `150ms`.
pub mod opt_human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `150ms`, or nothing.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::human_duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Reads `150ms` or a number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::human_duration")] Duration);
        Option::<Wrap>::deserialize(d).map(|w| w.map(|Wrap(d)| d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn durations_parse_and_print_round_trip() {
        for (text, d) in [
            ("150ms", Duration::from_millis(150)),
            ("1.5s", Duration::from_millis(1500)),
            ("0.1s", Duration::from_millis(100)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("10us", Duration::from_micros(10)),
            ("7", Duration::from_secs(7)),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1parsec").is_err());
        assert_eq!(
            parse_duration("1000000000000s"),
            Ok(Duration::from_secs(MAX_DURATION_SECS))
        );
        assert_eq!(
            parse_duration("999999999999s"),
            Ok(Duration::from_secs(999_999_999_999)),
            "past u64 nanoseconds, not saturated"
        );
        let too_long = parse_duration("1000000000001s").unwrap_err().to_string();
        assert!(too_long.contains("at most 1000000000000s"), "{too_long}");
        let negative = parse_duration("-5s").unwrap_err().to_string();
        assert!(negative.contains("cannot be negative"), "{negative}");
    }

    #[test]
    fn latency_draws_stay_in_range_and_repeat_per_seed() {
        let uniform = Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(10),
        };
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..100)
                .map(|_| uniform.sample(&mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert!(
            draw(3)
                .iter()
                .all(|d| (Duration::from_millis(1)..=Duration::from_millis(10)).contains(d))
        );
        let exp = Latency::Exponential {
            min: Duration::from_millis(5),
            mean: Duration::from_millis(20),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..100).all(|_| exp.sample(&mut rng) >= Duration::from_millis(5)));
    }

    #[test]
    fn latency_in_nanoseconds_is_the_same_draw_as_the_duration() {
        let ms = Duration::from_millis;
        for latency in [
            Latency::Fixed(ms(3)),
            Latency::Uniform {
                min: ms(1),
                max: ms(20),
            },
            Latency::Uniform {
                min: ms(4),
                max: ms(4),
            },
            Latency::Exponential {
                min: ms(5),
                mean: ms(20),
            },
        ] {
            let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(7), ChaCha8Rng::seed_from_u64(7));
            for _ in 0..100 {
                let nanos = latency.sample_nanos(&mut a);
                assert_eq!(
                    nanos,
                    latency.sample(&mut b).as_nanos() as u64,
                    "{latency:?}"
                );
            }
        }
        let far = Latency::Fixed(Duration::from_secs(u64::MAX));
        assert_eq!(
            far.sample_nanos(&mut ChaCha8Rng::seed_from_u64(1)),
            u64::MAX
        );
    }
}
