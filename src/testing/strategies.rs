//! Proptest strategies for fault schedules and re-segmentation (cargo feature
//! `proptest`), so a property test can let proptest search the faults a network may
//! suffer and shrink a failure to a minimal schedule; and cuts of a byte stream into
//! reads ([`cuts`], [`every_cut`], [`assert_every_cut_decodes_alike`]), so a codec's
//! tests can say its decoder makes the same of a stream however it arrives.
//!
//! ```
//! use std::time::Duration;
//! use proptest::prelude::*;
//! use weft::testing::strategies::{Schedule, segmentation};
//!
//! let faults = Schedule::new(["client", "server"], Duration::from_secs(5))
//!     .crashable(["server"])
//!     .clock_jumps(Duration::from_secs(2));
//! proptest!(|(schedule in faults.strategy(), cuts in segmentation())| {
//!     // Build a SimNet with `cuts`, add every fault of `schedule`, run it and check
//!     // what must hold whatever the network did.
//!     prop_assert!(schedule.windows(2).all(|w| w[0].at <= w[1].at));
//!     let _ = cuts;
//! });
//! ```

use std::ops::Range;
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

use crate::simnet::{Fault, Latency, PartitionMode};
use crate::testing::Segmentation;

/// What a generated fault schedule may contain: which hosts the faults touch, in what
/// window of virtual time, and how many.
///
/// Every fault lands on a whole millisecond inside the window. Partitions (dropping or
/// holding, both ways or one), heals, resets, latency changes and (if enabled) clock
/// jumps touch any of the hosts; crashes touch only the crashable ones, and each crash
/// comes with its restart.
#[derive(Clone, Debug)]
pub struct Schedule {
    hosts: Vec<String>,
    crashable: Vec<String>,
    window: Duration,
    faults: Range<usize>,
    crashes: Range<usize>,
    max_down: Duration,
    max_latency: Duration,
    max_clock_jump: Option<Duration>,
}

impl Schedule {
    /// Up to five faults among `hosts` within `window`; no crashes and no clock jumps
    /// until asked for.
    pub fn new(hosts: impl IntoIterator<Item = impl Into<String>>, window: Duration) -> Self {
        Self {
            hosts: hosts.into_iter().map(Into::into).collect(),
            crashable: Vec::new(),
            window,
            faults: 0..6,
            crashes: 0..2,
            max_down: Duration::from_secs(3),
            max_latency: Duration::from_millis(20),
            max_clock_jump: None,
        }
    }

    /// Hosts that may crash (and restart after up to [`max_down`](Self::max_down)).
    pub fn crashable(mut self, hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.crashable = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// How many faults other than crashes (default `0..6`).
    pub fn faults(mut self, count: Range<usize>) -> Self {
        self.faults = count;
        self
    }

    /// How many crash-and-restart pairs (default `0..2`).
    pub fn crashes(mut self, count: Range<usize>) -> Self {
        self.crashes = count;
        self
    }

    /// Longest a crashed host stays down (default 3 s).
    pub fn max_down(mut self, down: Duration) -> Self {
        self.max_down = down;
        self
    }

    /// Largest fixed latency a latency change sets (default 20 ms).
    pub fn max_latency(mut self, latency: Duration) -> Self {
        self.max_latency = latency;
        self
    }

    /// Also jump hosts' clocks forward, by up to `by`.
    pub fn clock_jumps(mut self, by: Duration) -> Self {
        self.max_clock_jump = Some(by);
        self
    }

    /// Schedules as described, ordered by time.
    pub fn strategy(&self) -> BoxedStrategy<Vec<Fault>> {
        let one = self.fault();
        let crashes = if self.crashable.is_empty() {
            Just(Vec::new()).boxed()
        } else {
            let crash = crash_and_restart(self.crashable.clone(), self.window, self.max_down);
            proptest::collection::vec(crash, self.crashes.clone()).boxed()
        };
        (proptest::collection::vec(one, self.faults.clone()), crashes)
            .prop_map(|(mut faults, crashes)| {
                faults.extend(crashes.into_iter().flatten());
                faults.sort_by_key(|f| f.at);
                faults
            })
            .boxed()
    }

    /// One fault other than a crash, at a millisecond inside the window.
    pub fn fault(&self) -> BoxedStrategy<Fault> {
        let max_ms = millis(self.max_latency).max(1);
        let latency = (1..=max_ms).prop_map(FaultOf::Latency).boxed();
        if self.hosts.is_empty() {
            return self.timed(vec![latency]);
        }
        let mut kinds: Vec<BoxedStrategy<FaultOf>> = Vec::new();
        let host = proptest::sample::select(self.hosts.clone());
        if self.hosts.len() >= 2 {
            let pair = (host.clone(), host.clone()).prop_filter("two hosts", |(a, b)| a != b);
            kinds.push(
                (pair.clone(), any::<bool>(), any::<bool>())
                    .prop_map(|((a, b), one_way, hold)| FaultOf::Partition(a, b, one_way, hold))
                    .boxed(),
            );
            kinds.push(pair.prop_map(|(a, b)| FaultOf::Heal(a, b)).boxed());
        }
        kinds.push(host.clone().prop_map(FaultOf::Reset).boxed());
        kinds.push(latency);
        if let Some(by) = self.max_clock_jump {
            let max_ms = millis(by).max(1);
            kinds.push(
                (host, 1..=max_ms)
                    .prop_map(|(h, ms)| FaultOf::ClockJump(h, ms))
                    .boxed(),
            );
        }
        self.timed(kinds)
    }

    /// One of `kinds`, at a millisecond inside the window.
    fn timed(&self, kinds: Vec<BoxedStrategy<FaultOf>>) -> BoxedStrategy<Fault> {
        let window = millis(self.window).max(1);
        (0..window, Union::new(kinds))
            .prop_map(|(ms, kind)| kind.at(Duration::from_millis(ms)))
            .boxed()
    }
}

/// A fault's action before it is given its time.
#[derive(Clone, Debug)]
enum FaultOf {
    Partition(String, String, bool, bool),
    Heal(String, String),
    Reset(String),
    Latency(u64),
    ClockJump(String, u64),
}

impl FaultOf {
    fn at(self, at: Duration) -> Fault {
        let when = Fault::at(at);
        match self {
            Self::Partition(a, b, one_way, hold) => {
                let mode = if hold {
                    PartitionMode::Hold
                } else {
                    PartitionMode::Drop
                };
                let partition = when.partition(a, b).mode(mode);
                if one_way {
                    partition.one_way()
                } else {
                    partition
                }
            }
            Self::Heal(a, b) => when.heal(a, b),
            Self::Reset(host) => when.reset(host),
            Self::Latency(ms) => when.latency_everywhere(Latency::Fixed(Duration::from_millis(ms))),
            Self::ClockJump(host, ms) => when.clock_jump(host, Duration::from_millis(ms)),
        }
    }
}

/// A crash of one of `hosts` inside `window`, and its restart up to `max_down` later.
///
/// # Panics
/// If `hosts` is empty.
pub fn crash_and_restart(
    hosts: Vec<String>,
    window: Duration,
    max_down: Duration,
) -> BoxedStrategy<Vec<Fault>> {
    let window = millis(window).max(1);
    let max_down = millis(max_down).max(2);
    (proptest::sample::select(hosts), 0..window, 1..max_down)
        .prop_map(|(host, at, down)| {
            vec![
                Fault::at(Duration::from_millis(at)).crash(host.clone()),
                Fault::at(Duration::from_millis(at + down)).restart(host),
            ]
        })
        .boxed()
}

/// How reads are cut: whole, in fixed sizes of 1 to 7 bytes, or at up to four cut
/// lengths of 1 to 39 bytes, repeated.
pub fn segmentation() -> BoxedStrategy<Segmentation> {
    prop_oneof![
        Just(Segmentation::Whole),
        (1usize..8).prop_map(Segmentation::Fixed),
        proptest::collection::vec(1usize..40, 1..5).prop_map(Segmentation::Cuts),
    ]
    .boxed()
}

/// Where to cut a stream into reads, for a property test of a streaming decoder: up to
/// 11 points anywhere in the stream, whatever its length (a repeated point makes an
/// empty read). Shrinks towards fewer cuts.
///
/// A decoder must make the same of a stream however it arrives; comparing its outcome
/// over [`Cuts::apply`] with its outcome over the whole stream says so.
///
/// ```
/// use proptest::prelude::*;
/// use weft::codec::line::LineDecoder;
/// use weft::testing::strategies::cuts;
///
/// /// The lines a fresh decoder makes of `reads`, and the error that stopped it.
/// fn lines(reads: &[&[u8]]) -> (Vec<Vec<u8>>, Option<weft::codec::LineError>) {
///     let mut decoder = LineDecoder::default();
///     let mut lines = Vec::new();
///     for read in reads {
///         if let Err(error) = decoder.decode(read, |l| lines.push(l.to_vec())) {
///             return (lines, Some(error));
///         }
///     }
///     (lines, None)
/// }
///
/// proptest!(|(stream in proptest::collection::vec(any::<u8>(), 0..64), cuts in cuts())| {
///     let reads = cuts.apply(&stream);
///     prop_assert_eq!(reads.concat(), stream.clone());
///     prop_assert_eq!(lines(&reads), lines(&[&stream]));
/// });
/// ```
pub fn cuts() -> BoxedStrategy<Cuts> {
    proptest::collection::vec(any::<proptest::sample::Index>(), 0..12)
        .prop_map(Cuts)
        .boxed()
}

/// Points to cut a stream at, drawn by [`cuts`] for a stream of any length.
#[derive(Clone, Debug)]
pub struct Cuts(Vec<proptest::sample::Index>);

impl Cuts {
    /// `stream` cut at these points: the reads, in order (joined, they are `stream`).
    pub fn apply<'a>(&self, stream: &'a [u8]) -> Vec<&'a [u8]> {
        let mut at: Vec<usize> = self.0.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut reads = Vec::with_capacity(at.len() + 1);
        let mut start = 0;
        for end in at {
            reads.push(&stream[start..end]);
            start = end;
        }
        reads.push(&stream[start..]);
        reads
    }
}

/// The longest stream [`every_cut`] takes: 2^19 ways to cut it.
pub const EVERY_CUT_MAX_LEN: usize = 20;

/// Every way to cut `stream` into non-empty reads, all 2^(n-1) of them, the stream
/// whole first: for exhaustive tests of short streams (an empty stream is one empty
/// read).
///
/// # Panics
/// If `stream` is longer than [`EVERY_CUT_MAX_LEN`] bytes.
pub fn every_cut(stream: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    assert!(
        stream.len() <= EVERY_CUT_MAX_LEN,
        "{} bytes have too many ways to be cut; every_cut takes at most {EVERY_CUT_MAX_LEN}",
        stream.len()
    );
    let gaps = stream.len().saturating_sub(1);
    (0u32..1 << gaps).map(move |mask| {
        let mut reads = Vec::with_capacity(mask.count_ones() as usize + 1);
        let mut start = 0;
        for gap in 0..gaps {
            if mask & (1 << gap) != 0 {
                reads.push(&stream[start..=gap]);
                start = gap + 1;
            }
        }
        reads.push(&stream[start..]);
        reads
    })
}

/// Asserts that `decode` makes of every way to cut `stream` ([`every_cut`]) what it
/// makes of the stream whole: the frames a streaming decoder delivers, its error, its
/// counts, whatever `decode` returns.
///
/// ```
/// use weft::codec::NetstringDecoder;
/// use weft::testing::strategies::assert_every_cut_decodes_alike;
///
/// assert_every_cut_decodes_alike(b"1:a,0:,2:bc,3:", |reads| {
///     let mut decoder = NetstringDecoder::default();
///     let mut frames = Vec::new();
///     for read in reads {
///         decoder.decode(read, |f| frames.push(f.to_vec())).expect("netstrings");
///     }
///     (frames, decoder.buffered())
/// });
/// ```
///
/// # Panics
/// At the first cut with another outcome, naming the reads; or as [`every_cut`].
pub fn assert_every_cut_decodes_alike<T: PartialEq + std::fmt::Debug>(
    stream: &[u8],
    mut decode: impl FnMut(&[&[u8]]) -> T,
) {
    let whole = decode(&[stream]);
    for reads in every_cut(stream) {
        assert_eq!(decode(&reads), whole, "reads {reads:?}");
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simnet::FaultAction;
    use proptest::test_runner::{Config, RngSeed, TestRunner};

    fn hosts_of(action: &FaultAction) -> Vec<&str> {
        match action {
            FaultAction::Partition(p) => vec![&p.a, &p.b],
            FaultAction::Heal(b) => vec![&b.a, &b.b],
            FaultAction::Crash(h) | FaultAction::Restart(h) => vec![h],
            FaultAction::Reset(r) => vec![&r.host],
            FaultAction::Latency(_) => vec![],
            FaultAction::ClockJump(j) => vec![&j.host],
        }
    }

    #[test]
    fn schedules_stay_in_their_window_and_crash_only_the_crashable() {
        let spec = Schedule::new(["a", "b", "c"], Duration::from_secs(2))
            .crashable(["c"])
            .max_down(Duration::from_millis(500))
            .clock_jumps(Duration::from_secs(1));
        let mut runner = TestRunner::new(Config {
            rng_seed: RngSeed::Fixed(1),
            ..Config::default()
        });
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let schedule = spec.strategy().new_tree(&mut runner).unwrap().current();
            assert!(schedule.windows(2).all(|w| w[0].at <= w[1].at), "ordered");
            for fault in &schedule {
                let at = fault.at.expect("scheduled at a time");
                let kind = fault.describe();
                kinds.insert(
                    kind.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
                match &fault.action {
                    FaultAction::Crash(h) => {
                        assert_eq!(h, "c");
                        assert!(at < Duration::from_secs(2));
                    }
                    FaultAction::Restart(h) => {
                        assert_eq!(h, "c");
                        assert!(at < Duration::from_millis(2_500));
                    }
                    FaultAction::Partition(p) => {
                        assert_ne!(p.a, p.b);
                        assert!(at < Duration::from_secs(2));
                    }
                    FaultAction::ClockJump(j) => assert!(j.by <= Duration::from_secs(1)),
                    _ => assert!(at < Duration::from_secs(2)),
                }
                assert!(
                    hosts_of(&fault.action)
                        .iter()
                        .all(|h| ["a", "b", "c"].contains(h))
                );
            }
        }
        assert_eq!(kinds.len(), 7, "every kind of fault turns up");
    }

    #[test]
    fn every_cut_gives_each_way_once_and_each_joins_to_the_stream() {
        let stream = b"abcde";
        let all: Vec<Vec<&[u8]>> = every_cut(stream).collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all[0], [&stream[..]], "the stream whole first");
        assert!(all.iter().all(|reads| reads.concat() == stream));
        assert!(all.iter().all(|reads| reads.iter().all(|r| !r.is_empty())));
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        assert_eq!(every_cut(b"").collect::<Vec<_>>(), [[&b""[..]]]);
    }

    #[test]
    fn drawn_cuts_join_to_the_stream_and_do_cut_it() {
        let mut runner = TestRunner::new(Config {
            rng_seed: RngSeed::Fixed(3),
            ..Config::default()
        });
        let stream: Vec<u8> = (0..40).collect();
        let mut most = 0;
        for _ in 0..200 {
            let reads = cuts()
                .new_tree(&mut runner)
                .unwrap()
                .current()
                .apply(&stream);
            assert_eq!(reads.concat(), stream);
            most = most.max(reads.len());
        }
        assert_eq!(most, 12, "up to 11 cuts");
    }

    #[test]
    #[should_panic(expected = "reads [[97], [98]]")]
    fn a_decoder_that_depends_on_its_reads_fails_the_assertion() {
        assert_every_cut_decodes_alike(b"ab", |reads| reads.len());
    }

    #[test]
    fn one_host_gets_no_partitions_and_no_rejections() {
        let spec = Schedule::new(["only"], Duration::from_secs(1));
        let mut runner = TestRunner::new(Config {
            rng_seed: RngSeed::Fixed(2),
            ..Config::default()
        });
        for _ in 0..100 {
            let schedule = spec.strategy().new_tree(&mut runner).unwrap().current();
            assert!(schedule.iter().all(|f| !matches!(
                f.action,
                FaultAction::Partition(_) | FaultAction::Heal(_) | FaultAction::Crash(_)
            )));
        }
    }
}
