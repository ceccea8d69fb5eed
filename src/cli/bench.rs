//! `weft bench`: throughput of the engine's hot paths, one `key=value` line each.
//!
//! The only place outside the tokio driver that reads the machine's clock: a benchmark
//! measures wall time by definition.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::{CallId, Clock, ManualClock};
use crate::programs::pingpong::PingPongFactory;
use crate::protocol::Factory;
use crate::testing::{Pump, PumpOptions};
use crate::transport::ipv4;

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
    Pingpong {
        /// Exchanges (client maximum); each pump round trips one byte each way.
        #[arg(long, default_value_t = 1_000_000)]
        exchanges: u64,
    },
    /// N timers at seeded random deadlines in [0, 100 s), every third cancelled, then
    /// 100 advances of 1 s: prints `timers_per_s=`.
    Clock {
        /// Number of timers.
        #[arg(long, default_value_t = 1_000_000)]
        timers: u64,
    },
}

pub(crate) fn run(args: &BenchArgs) -> i32 {
    let runs = args.runs.max(1);
    match args.what {
        BenchCommand::Pingpong { exchanges } => {
            let rates = repeat(runs, || bench_pingpong(exchanges));
            report(&format!("exchanges={exchanges}"), "exchanges_per_s", &rates);
        }
        BenchCommand::Clock { timers } => {
            let rates = repeat(runs, || bench_clock(timers));
            report(&format!("timers={timers}"), "timers_per_s", &rates);
        }
    }
    0
}

/// Runs `once` `runs` times; returns the rates it measured, sorted.
fn repeat(runs: usize, mut once: impl FnMut() -> Measured) -> Vec<Measured> {
    let mut all: Vec<Measured> = (0..runs).map(|_| once()).collect();
    all.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    all
}

/// One run: how many units in how long.
#[derive(Clone, Copy, Debug)]
struct Measured {
    seconds: f64,
    rate: f64,
}

impl Measured {
    fn new(units: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Self {
            seconds,
            rate: units as f64 / seconds,
        }
    }
}

/// Prints one `key=value` line: the median rate, and the spread.
fn report(what: &str, key: &str, sorted: &[Measured]) {
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

/// Twisted's anchor figure drives `connectedServerAndClient(greet=False)` with
/// `while pump.pump()`; this is the same loop.
fn bench_pingpong(exchanges: u64) -> Measured {
    let options = PumpOptions {
        transcript: false,
        ..PumpOptions::default()
    };
    let client = PingPongFactory::client(Some(exchanges)).build_protocol(ipv4(127, 0, 0, 1, 1));
    let server = PingPongFactory::server(None).build_protocol(ipv4(127, 0, 0, 1, 2));
    let start = Instant::now();
    let mut pump = Pump::new(options, client, server);
    while pump.pump() {}
    let elapsed = start.elapsed();
    assert_eq!(
        pump.client.received(),
        exchanges,
        "the benchmark ran to its end"
    );
    Measured::new(exchanges, elapsed)
}

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
