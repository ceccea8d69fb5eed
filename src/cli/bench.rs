//! `weft bench`: throughput of the engine's hot paths, one `key=value` line each.
//!
//! The only place outside the tokio driver that reads the machine's clock: a benchmark
//! measures wall time by definition.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::pingpong::{PingpongSizes, bench_pingpong, fastest_of, pingpong_vs_twisted};
use super::bench_codec::Codec;
use crate::clock::{CallId, Clock, ManualClock};
use crate::codec::NetstringDecoder;

mod pingpong;
mod twisted;

/// Arguments of `weft bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Runs to make; the figure printed is their median (machines are noisy).
    #[arg(long, default_value_t = 5, global = true)]
    runs: usize,
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Ping-pong over the in-memory pump, no transcript: prints `exchanges_per_s=`.
    ///
    /// Each run is `--repeats` ping-pongs back to back, and its figure is the fastest of
    /// them: on a shared machine a descheduled or crowded repetition is only ever
    /// slower, so the fastest is the one that measured the code.
    ///
    /// With `--vs-twisted`, each run also makes as many repetitions of Twisted's `iosim`
    /// ping-pong (python3 with Twisted, one process for the whole bench), in turns with
    /// weft's (weft, Twisted, weft, Twisted, ...), and takes their fastest the same way.
    /// By default a repetition lasts about as long on either side (1,000,000 exchanges
    /// of weft's, 20,000 of Twisted's: some 20 to 25 ms each at best), so both sides
    /// meet the same load and are as likely to find a quiet moment. A `vs_twisted_run`
    /// line per run gives its two rates and their ratio; then come weft's line,
    /// Twisted's, and `ratio_vs_twisted=`, the median of the runs' ratios, with their
    /// spread.
    Pingpong {
        /// Exchanges (client maximum); each pump round trips one byte each way.
        #[arg(long, default_value_t = 1_000_000)]
        exchanges: u64,
        /// Repetitions per run (of each side's, with `--vs-twisted`); the run's figure
        /// is the fastest.
        #[arg(long, default_value_t = 10)]
        repeats: usize,
        /// Measure Twisted's `iosim` ping-pong in each run, on the same machine.
        #[arg(long)]
        vs_twisted: bool,
        /// Exchanges in each of Twisted's repetitions (with `--vs-twisted`).
        #[arg(long, default_value_t = 20_000)]
        twisted_exchanges: u64,
    },
    /// N timers at seeded random deadlines in [0, 100 s), every third cancelled, then
    /// 100 advances of 1 s: prints `timers_per_s=`.
    Clock {
        /// Number of timers.
        #[arg(long, default_value_t = 1_000_000)]
        timers: u64,
    },
    /// Scenario files run with seeds 0..N: prints, per file, `seeds_per_s=`,
    /// `reads_per_s=` (reads delivered to programs per wall second), `events_per_s=`
    /// (network events), `exchanges_per_s=` (bytes received by ping-pong clients, if
    /// the scenario has one) and `speedup=`
    /// (virtual seconds simulated per wall second). With several files (an async
    /// program beside its state machine, say) the runs take turns, and each file after
    /// the first gets `vs_first=`, its median seeds per second over the first's.
    Sim {
        /// The scenario files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Seeds per measured run.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
    },
    /// A stream of netstrings fed to the decoder in seeded random-sized reads: prints
    /// `bytes_per_s=` (stream bytes decoded per second).
    Netstring {
        /// Size of the stream.
        #[arg(long, default_value_t = 64 << 20)]
        bytes: usize,
        /// Make every payload this long; by default a seeded mix of 64 KiB payloads
        /// (one in eight) and small ones (0 to 512 bytes).
        #[arg(long)]
        frame_size: Option<usize>,
        /// Largest read; read sizes are uniform from 1 to this.
        #[arg(long, default_value_t = 128 << 10)]
        max_read: usize,
        /// Seed of the frame sizes and read sizes.
        #[arg(long, default_value_t = 0x5eed)]
        seed: u64,
    },
    /// A stream of `\r\n`-delimited lines fed to the line decoder in seeded
    /// random-sized reads: prints `bytes_per_s=`.
    Line(super::bench_codec::StreamArgs),
    /// A stream of int32-prefixed strings fed to the int32 decoder in seeded
    /// random-sized reads: prints `bytes_per_s=`.
    Int32(super::bench_codec::StreamArgs),
    /// A fast poetry server on loopback (weft's, or --server's) under C clients that
    /// connect, read the whole poem and reconnect until N requests are done: prints
    /// `requests_per_s=`.
    ///
    /// Example: `weft bench tcp --clients 50 --requests 20000`, then the same with
    /// `--server 127.0.0.1:PORT` against another implementation.
    Tcp(super::bench_tcp::TcpArgs),
    /// C clients that connect to a server and never read: prints the server's peak
    /// resident memory, `rss_peak_bytes=` (Linux).
    Hold(super::bench_hold::HoldArgs),
    /// N ping-pong clients × 1,000 exchanges against one server in SimNet, as hosts or
    /// as connections of one host: prints `us_per_exchange=`; or, with `--idle-conns C`,
    /// the memory of C idle connections to one host, `bytes_per_idle_conn=`.
    ///
    /// Example: `weft bench scale --clients 1000`, then `--clients-on one-host`.
    Scale(super::bench_scale::ScaleArgs),
}

pub(crate) fn run(args: &BenchArgs) -> i32 {
    let runs = args.runs.max(1);
    match &args.what {
        BenchCommand::Tcp(tcp) => return super::bench_tcp::run(tcp, runs),
        BenchCommand::Line(stream) => super::bench_codec::run(Codec::Line, stream, runs),
        BenchCommand::Int32(stream) => super::bench_codec::run(Codec::Int32, stream, runs),
        BenchCommand::Hold(hold) => return super::bench_hold::run(hold),
        BenchCommand::Scale(scale) => return super::bench_scale::run(scale, runs),
        BenchCommand::Sim { files, seeds } => return bench_sims(files, (*seeds).max(1), runs),
        &BenchCommand::Pingpong {
            exchanges,
            repeats,
            vs_twisted: true,
            twisted_exchanges,
        } => {
            let sizes = PingpongSizes {
                exchanges,
                twisted_exchanges: twisted_exchanges.max(1),
                repeats: repeats.max(1),
            };
            return pingpong_vs_twisted(&sizes, runs);
        }
        &BenchCommand::Pingpong {
            exchanges, repeats, ..
        } => {
            let repeats = repeats.max(1);
            let rates = repeat(runs, || fastest_of(repeats, || bench_pingpong(exchanges)));
            report(
                &format!("exchanges={exchanges} repeats={repeats}"),
                "exchanges_per_s",
                &rates,
            );
        }
        &BenchCommand::Clock { timers } => {
            let rates = repeat(runs, || bench_clock(timers));
            report(&format!("timers={timers}"), "timers_per_s", &rates);
        }
        &BenchCommand::Netstring {
            bytes,
            frame_size,
            max_read,
            seed,
        } => {
            let input = NetstringInput::new(bytes, frame_size, max_read, seed);
            let rates = repeat(runs, || bench_netstring(&input));
            let sizes = frame_size.map_or("mixed".to_owned(), |n| n.to_string());
            report(
                &format!(
                    "bytes={} frames={} frame_size={sizes} max_read={max_read}",
                    input.stream.len(),
                    input.frames
                ),
                "bytes_per_s",
                &rates,
            );
        }
    }
    0
}

/// Simulates a scenario with seeds 0..seeds (building and running the network, with
/// its transcript; its expectations are checked after the clock stops, once per seed);
/// returns seeds per second, and virtual seconds simulated per wall second.
/// `weft bench sim`: every file's runs in turns, then a line per file.
fn bench_sims(files: &[std::path::PathBuf], seeds: u64, runs: usize) -> i32 {
    let catalogue = crate::programs::catalogue();
    let mut scenarios = Vec::new();
    for file in files {
        match crate::scenario::Scenario::load(file, &catalogue) {
            Ok(scenario) => scenarios.push(scenario),
            Err(error) => {
                eprintln!("error: {error}");
                return 2;
            }
        }
    }
    let mut measured: Vec<Vec<SimRun>> = vec![Vec::new(); scenarios.len()];
    for _ in 0..runs {
        for (scenario, runs) in scenarios.iter().zip(&mut measured) {
            runs.push(bench_sim(&catalogue, scenario, seeds));
        }
    }
    let mut first_median = None;
    for (scenario, mut runs) in scenarios.iter().zip(measured) {
        let median_of = |runs: &mut Vec<SimRun>, key: fn(&SimRun) -> f64| {
            runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
            (
                key(&runs[runs.len() / 2]),
                key(&runs[0]),
                key(&runs[runs.len() - 1]),
            )
        };
        let (reads, _, _) = median_of(&mut runs, |r| r.reads_per_s);
        let (events, _, _) = median_of(&mut runs, |r| r.events_per_s);
        let (exchanges, _, _) = median_of(&mut runs, |r| r.exchanges_per_s);
        // Only a scenario with a ping-pong client has exchanges to count.
        let exchanges = if exchanges > 0.0 {
            format!(" exchanges_per_s={exchanges:.0}")
        } else {
            String::new()
        };
        let (speedup, min_speedup, max_speedup) = median_of(&mut runs, |r| r.speedup);
        let seeds_per_s = sorted(runs.iter().map(|r| r.seeds).collect());
        let what = format!("scenario={} seeds={seeds}", scenario.name);
        report(&what, "seeds_per_s", &seeds_per_s);
        let median = seeds_per_s[seeds_per_s.len() / 2].rate;
        let versus = match first_median {
            None => {
                first_median = Some(median);
                String::new()
            }
            Some(first) => format!(" vs_first={:.2}", median / first),
        };
        println!(
            "{what} runs={runs} reads_per_s={reads:.0} events_per_s={events:.0}{exchanges} speedup={speedup:.0} min_speedup={min_speedup:.0} max_speedup={max_speedup:.0}{versus}",
            runs = seeds_per_s.len(),
        );
    }
    0
}

/// One measured run of a scenario over its seeds.
#[derive(Clone, Copy, Debug)]
struct SimRun {
    seeds: Measured,
    reads_per_s: f64,
    /// SimNet events processed per wall second.
    events_per_s: f64,
    /// Bytes delivered to ping-pong clients (one per exchange) per wall second.
    exchanges_per_s: f64,
    speedup: f64,
}

/// Runs `scenario` for seeds 0..`seeds`, timing only the simulation; checks each seed's
/// expectations and counts its delivered reads untimed.
fn bench_sim(
    catalogue: &crate::scenario::Catalogue,
    scenario: &crate::scenario::Scenario,
    seeds: u64,
) -> SimRun {
    let mut elapsed = Duration::ZERO;
    let mut simulated = 0.0;
    let mut reads = 0u64;
    let (mut events, mut exchanges) = (0u64, 0u64);
    // Ping-pong clients: every byte one receives is one exchange.
    let pingers: Vec<String> = (scenario.hosts.iter())
        .filter(|h| h.program.starts_with("pingpong-client"))
        .map(|h| format!("{}:", h.name))
        .collect();
    for seed in 0..seeds {
        let start = Instant::now();
        let (net, finished_at) = scenario
            .simulate(catalogue, seed)
            .expect("the scenario was loaded and checked");
        elapsed += start.elapsed();
        simulated += finished_at.since_epoch().as_secs_f64();
        let failures = scenario.expect.check(&net, finished_at, scenario.duration);
        assert!(failures.is_empty(), "seed {seed} fails: {failures:?}");
        reads += (net.transcript().events().iter())
            .filter(|e| matches!(e.what, crate::testing::EventKind::Data(_)))
            .count() as u64;
        events += net.events_processed();
        exchanges += (net.transcript().events().iter())
            .filter_map(|e| match &e.what {
                crate::testing::EventKind::Data(bytes) => Some((&e.who, bytes.len())),
                _ => None,
            })
            .filter(|(who, _)| {
                (who.split_once(" > "))
                    .is_some_and(|(_, to)| pingers.iter().any(|p| to.starts_with(p.as_str())))
            })
            .map(|(_, n)| n as u64)
            .sum::<u64>();
    }
    let seconds = elapsed.as_secs_f64();
    SimRun {
        seeds: Measured::new(seeds, elapsed),
        reads_per_s: reads as f64 / seconds,
        events_per_s: events as f64 / seconds,
        exchanges_per_s: exchanges as f64 / seconds,
        speedup: simulated / seconds,
    }
}

/// Runs `once` `runs` times; returns the rates it measured, sorted.
fn repeat(runs: usize, mut once: impl FnMut() -> Measured) -> Vec<Measured> {
    sorted((0..runs).map(|_| once()).collect())
}

/// The runs by rate, slowest first.
pub(super) fn sorted(mut all: Vec<Measured>) -> Vec<Measured> {
    all.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    all
}

/// One run: how many units in how long.
#[derive(Clone, Copy, Debug)]
pub(super) struct Measured {
    pub(super) seconds: f64,
    pub(super) rate: f64,
}

impl Measured {
    pub(super) fn new(units: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Self {
            seconds,
            rate: units as f64 / seconds,
        }
    }
}

/// Prints one `key=value` line: the median rate, and the spread.
pub(super) fn report(what: &str, key: &str, sorted: &[Measured]) {
    let median = sorted[sorted.len() / 2];
    println!(
        "{what} runs={} median_seconds={:.6} {key}={:.0} min_{key}={:.0} max_{key}={:.0}",
        sorted.len(),
        median.seconds,
        median.rate,
        sorted[0].rate,
        sorted[sorted.len() - 1].rate,
    );
}

/// Out of line, so the timed loop's code and stack frame are its own, not placed by
/// whatever else the dispatcher inlines.
#[inline(never)]
fn bench_clock(timers: u64) -> Measured {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let deadlines: Vec<Duration> = (0..timers)
        .map(|_| Duration::from_nanos(rng.random_range(0..100_000_000_000)))
        .collect();
    let start = Instant::now();
    let mut clock = ManualClock::new();
    let mut ids: Vec<CallId> = Vec::with_capacity(deadlines.len());
    for (i, &d) in deadlines.iter().enumerate() {
        ids.push(clock.call_later(d, i as u64));
    }
    for id in ids.iter().step_by(3) {
        clock.cancel(*id).expect("pending at time zero");
    }
    let mut fired = 0u64;
    for _ in 0..100 {
        clock.advance(Duration::from_secs(1), |_, _| fired += 1);
    }
    let elapsed = start.elapsed();
    let cancelled = ids.len().div_ceil(3) as u64;
    assert_eq!(
        fired + cancelled,
        timers,
        "every timer fired or was cancelled"
    );
    Measured::new(timers, elapsed)
}

/// The netstring benchmark's input, built before the clock starts.
struct NetstringInput {
    stream: Vec<u8>,
    /// Where each read ends.
    read_ends: Vec<usize>,
    frames: u64,
    payload_bytes: u64,
    max_length: usize,
}

impl NetstringInput {
    const LARGE: usize = 64 << 10;

    fn new(bytes: usize, frame_size: Option<usize>, max_read: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut stream = Vec::with_capacity(bytes + Self::LARGE + 32);
        let (mut frames, mut payload_bytes, mut max_length) = (0u64, 0u64, 0usize);
        while stream.len() < bytes {
            let len = frame_size.unwrap_or_else(|| {
                if rng.random_ratio(1, 8) {
                    Self::LARGE
                } else {
                    rng.random_range(0..=512)
                }
            });
            // Cheap, varied payload bytes: the decoder never looks at them.
            let fill = b'a' + (frames % 26) as u8;
            stream.extend_from_slice(len.to_string().as_bytes());
            stream.push(b':');
            stream.resize(stream.len() + len, fill);
            stream.push(b',');
            frames += 1;
            payload_bytes += len as u64;
            max_length = max_length.max(len);
        }
        let mut read_ends = Vec::new();
        let mut end = 0;
        while end < stream.len() {
            end = (end + rng.random_range(1..=max_read.max(1))).min(stream.len());
            read_ends.push(end);
        }
        Self {
            stream,
            read_ends,
            frames,
            payload_bytes,
            max_length,
        }
    }
}

fn bench_netstring(input: &NetstringInput) -> Measured {
    let start = Instant::now();
    let mut decoder = NetstringDecoder::with_max_length(input.max_length);
    let (mut frames, mut payload_bytes) = (0u64, 0u64);
    let mut from = 0;
    for &end in &input.read_ends {
        decoder
            .decode(&input.stream[from..end], |frame| {
                frames += 1;
                payload_bytes += std::hint::black_box(frame).len() as u64;
            })
            .expect("the benchmark stream is valid");
        from = end;
    }
    let elapsed = start.elapsed();
    assert_eq!(
        (frames, payload_bytes),
        (input.frames, input.payload_bytes),
        "every frame was decoded"
    );
    Measured::new(input.stream.len() as u64, elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstring_bench_input_is_seeded_and_decodes_completely() {
        let input = NetstringInput::new(1 << 20, None, 4096, 7);
        assert!(input.stream.len() >= 1 << 20);
        assert_eq!(input.read_ends.last(), Some(&input.stream.len()));
        assert!(
            input.max_length == NetstringInput::LARGE,
            "the mix has 64 KiB frames"
        );
        let again = NetstringInput::new(1 << 20, None, 4096, 7);
        assert_eq!(
            (again.stream, again.read_ends),
            (input.stream.clone(), input.read_ends.clone())
        );
        // Asserts internally that every frame and payload byte came out.
        let measured = bench_netstring(&input);
        assert!(measured.rate > 0.0);
        let fixed = NetstringInput::new(1 << 20, Some(65536), 1 << 17, 7);
        assert_eq!(fixed.frames, 16);
        bench_netstring(&fixed);
    }
}
