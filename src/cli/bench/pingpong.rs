//! `weft bench pingpong`: the ping-pong over the in-memory pump, alone or in turns with
//! Twisted's `iosim` ping-pong; each run's figure is the fastest of its repetitions.

use std::time::Instant;

use super::{Measured, report, sorted, twisted};
use crate::programs::pingpong::PingPongFactory;
use crate::protocol::Factory;
use crate::testing::{Pump, PumpOptions};
use crate::transport::ipv4;

/// Twisted's anchor figure drives `connectedServerAndClient(greet=False)` with
/// `while pump.pump()`; this is the same loop.
pub(super) fn bench_pingpong(exchanges: u64) -> Measured {
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

/// The fastest of `repeats` measurements made back to back.
pub(super) fn fastest_of(repeats: usize, mut once: impl FnMut() -> Measured) -> Measured {
    let first = once();
    (1..repeats).map(|_| once()).fold(
        first,
        |best, next| {
            if next.rate > best.rate { next } else { best }
        },
    )
}

/// `repeats` turns of `ours` then `theirs`; the fastest measurement of each.
fn in_turns<E>(
    repeats: usize,
    mut ours: impl FnMut() -> Result<Measured, E>,
    mut theirs: impl FnMut() -> Result<Measured, E>,
) -> Result<(Measured, Measured), E> {
    let faster = |best: Measured, next: Measured| if next.rate > best.rate { next } else { best };
    let (mut our_best, mut their_best) = (ours()?, theirs()?);
    for _ in 1..repeats {
        our_best = faster(our_best, ours()?);
        their_best = faster(their_best, theirs()?);
    }
    Ok((our_best, their_best))
}

/// What `weft bench pingpong --vs-twisted` measures in each run.
pub(super) struct PingpongSizes {
    pub(super) exchanges: u64,
    pub(super) twisted_exchanges: u64,
    pub(super) repeats: usize,
}

/// `weft bench pingpong --vs-twisted`: in each run, weft's repetitions and then
/// Twisted's, each side's fastest; a line per run, then weft's line, Twisted's, and the
/// ratios.
pub(super) fn pingpong_vs_twisted(sizes: &PingpongSizes, runs: usize) -> i32 {
    if let Some(why) = twisted::unavailable() {
        eprintln!("error: {why}");
        return 2;
    }
    let mut twisted = match twisted::TwistedPingPong::start() {
        Ok(twisted) => twisted,
        Err(error) => {
            eprintln!("error: {error}");
            return 2;
        }
    };
    let (mut weft, mut anchor, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let turns = in_turns(
            sizes.repeats,
            || Ok(bench_pingpong(sizes.exchanges)),
            || twisted.once(sizes.twisted_exchanges),
        );
        let (ours, theirs) = match turns {
            Ok(fastest) => fastest,
            Err(error) => {
                eprintln!("error: {error}");
                return 2;
            }
        };
        let ratio = ours.rate / theirs.rate;
        println!(
            "vs_twisted_run run={run} exchanges_per_s={:.0} twisted_exchanges_per_s={:.0} ratio_vs_twisted={ratio:.1}",
            ours.rate, theirs.rate,
        );
        ratios.push(ratio);
        weft.push(ours);
        anchor.push(theirs);
    }
    let repeats = sizes.repeats;
    report(
        &format!("exchanges={} repeats={repeats}", sizes.exchanges),
        "exchanges_per_s",
        &sorted(weft),
    );
    report(
        &format!(
            "twisted_iosim exchanges={} repeats={repeats}",
            sizes.twisted_exchanges
        ),
        "exchanges_per_s",
        &sorted(anchor),
    );
    println!("{}", ratio_line(ratios));
    0
}

/// `vs_twisted runs= ratio_vs_twisted= min_ratio_vs_twisted= max_ratio_vs_twisted=`:
/// the median of the runs' ratios and their spread.
fn ratio_line(mut ratios: Vec<f64>) -> String {
    ratios.sort_by(f64::total_cmp);
    format!(
        "vs_twisted runs={} ratio_vs_twisted={:.1} min_ratio_vs_twisted={:.1} max_ratio_vs_twisted={:.1}",
        ratios.len(),
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn taking(seconds: &[f64]) -> impl FnMut() -> Measured {
        let mut seconds = seconds.iter().copied();
        move || Measured::new(1000, Duration::from_secs_f64(seconds.next().unwrap()))
    }

    #[test]
    fn a_pingpong_run_counts_its_fastest_repetition() {
        let best = fastest_of(4, taking(&[0.030, 0.012, 0.050, 0.020]));
        assert_eq!(best.seconds, 0.012);
        assert_eq!(fastest_of(1, taking(&[0.7])).seconds, 0.7);
    }

    #[test]
    fn turns_alternate_the_two_sides_and_keep_each_sides_fastest() {
        let order = std::cell::RefCell::new(String::new());
        let mut weft = taking(&[0.020, 0.015, 0.040]);
        let mut twisted = taking(&[0.030, 0.060, 0.025]);
        let (ours, theirs) = in_turns::<()>(
            3,
            || {
                order.borrow_mut().push('w');
                Ok(weft())
            },
            || {
                order.borrow_mut().push('t');
                Ok(twisted())
            },
        )
        .unwrap();
        assert_eq!((ours.seconds, theirs.seconds), (0.015, 0.025));
        assert_eq!(order.into_inner(), "wtwtwt");
        let mut weft = taking(&[0.020]);
        let failed = in_turns(2, || Ok(weft()), || Err("python3 exited"));
        assert_eq!(failed.err(), Some("python3 exited"));
    }

    #[test]
    fn the_ratio_line_gives_the_median_run_and_the_spread() {
        assert_eq!(
            ratio_line(vec![120.0, 64.3, 101.0, 99.0, 140.5]),
            "vs_twisted runs=5 ratio_vs_twisted=101.0 min_ratio_vs_twisted=64.3 \
             max_ratio_vs_twisted=140.5"
        );
        assert_eq!(
            ratio_line(vec![90.0, 110.0]),
            "vs_twisted runs=2 ratio_vs_twisted=110.0 min_ratio_vs_twisted=90.0 \
             max_ratio_vs_twisted=110.0"
        );
    }
}
