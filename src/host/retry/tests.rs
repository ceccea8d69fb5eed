use proptest::prelude::*;
use rand::RngCore;

use super::*;
use crate::host::HostRng;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn a_fixed_policy_waits_the_same_to_the_nanosecond_until_its_retries_run_out() {
    let delay = Duration::from_nanos(1_234_567_891);
    let policy = RetryPolicy::fixed(delay).with_max_retries(3);
    let mut rng = HostRng::default();
    let waits: Vec<_> = (1..=4).map(|n| policy.delay(n, &mut rng)).collect();
    assert_eq!(waits, [Some(delay), Some(delay), Some(delay), None]);
    assert_eq!(policy.max_attempts(), Some(4));
    assert_eq!(
        RetryPolicy::fixed(delay).delay(u32::MAX, &mut rng),
        Some(delay)
    );
}

#[test]
fn no_retries_means_no_wait_at_all() {
    let policy = RetryPolicy::fixed(Duration::from_secs(1)).with_max_retries(0);
    assert_eq!(policy.delay(1, &mut HostRng::default()), None);
    assert!(!policy.allows(1));
    assert_eq!(policy.max_attempts(), Some(1));
}

#[test]
fn client_service_waits_as_twisteds_backoff_policy() {
    // Twisted: min(1.0 * 1.5 ** attempt, 60) for attempt = 1, 2, ...
    let twisted = [
        1.5,
        2.25,
        3.375,
        5.0625,
        7.59375,
        11.390625,
        17.0859375,
        25.62890625,
        38.443359375,
        57.6650390625,
        60.0,
    ];
    let policy = RetryPolicy::client_service();
    for (n, expected) in (1..).zip(twisted) {
        assert_eq!(policy.backoff(n), secs(expected), "failure {n}");
    }
    assert_eq!(policy.max_retries(), None);
    // Plus up to a second of jitter.
    let mut rng = HostRng::default();
    for n in 1..50 {
        let wait = policy.delay(n, &mut rng).unwrap();
        assert!(wait >= policy.backoff(n) && wait < policy.backoff(n) + secs(1.0));
    }
}

#[test]
fn reconnecting_client_factory_grows_by_e_up_to_an_hour() {
    let policy = RetryPolicy::reconnecting_client_factory();
    let e = std::f64::consts::E;
    assert_eq!(policy.backoff(1), secs(e));
    let second = policy.backoff(2).as_secs_f64();
    assert!((second - e * e).abs() < 1e-6, "{second}");
    assert_eq!(policy.backoff(9), Duration::from_secs(3600), "e^9 > 3600");
}

#[test]
fn huge_failure_counts_and_factors_saturate_at_the_maximum() {
    let max = Duration::from_secs(60);
    let mut rng = HostRng::default();
    for factor in [2.0, 1e300, f64::MAX, f64::INFINITY] {
        let policy = RetryPolicy::exponential(Duration::from_secs(1), factor).with_max_delay(max);
        assert_eq!(policy.backoff(u32::MAX), max, "factor {factor}");
        assert_eq!(policy.delay(u32::MAX, &mut rng), Some(max));
    }
    // With no maximum, the back-off stops at the largest Duration.
    let unbounded = RetryPolicy::exponential(Duration::from_secs(1), 10.0);
    assert_eq!(unbounded.backoff(u32::MAX), Duration::MAX);
    let jittered = unbounded.with_jitter(Jitter::Add(Duration::from_secs(1)));
    assert_eq!(jittered.delay(u32::MAX, &mut rng), Some(Duration::MAX));
    let scaled = unbounded.with_jitter(Jitter::Proportional(1.0));
    assert!(scaled.delay(u32::MAX, &mut rng).is_some());
}

#[test]
fn factors_below_one_or_nan_never_shrink_the_wait() {
    for factor in [0.5, 0.0, -3.0, f64::NAN] {
        let policy = RetryPolicy::exponential(Duration::from_secs(2), factor);
        assert_eq!(policy.factor(), 1.0);
        assert_eq!(policy.backoff(10), Duration::from_secs(2));
    }
}

#[test]
fn failure_zero_is_taken_as_the_first() {
    let policy = RetryPolicy::exponential(Duration::from_secs(1), 2.0);
    assert_eq!(policy.backoff(0), policy.backoff(1));
}

#[test]
fn without_jitter_the_random_source_is_not_touched() {
    let policy = RetryPolicy::exponential(Duration::from_secs(1), 2.0);
    let mut used = HostRng::new(3, 0);
    for n in 1..10 {
        policy.delay(n, &mut used);
    }
    assert_eq!(used.next_u64(), HostRng::new(3, 0).next_u64());
}

#[test]
fn jitter_is_reproducible_from_the_seed_and_differs_between_seeds() {
    let policy = RetryPolicy::fixed(Duration::from_secs(1))
        .with_jitter(Jitter::Add(Duration::from_millis(500)));
    let waits = |seed| {
        let mut rng = HostRng::new(seed, 0);
        (1..=8)
            .map(|n| policy.delay(n, &mut rng).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(waits(11), waits(11));
    assert_ne!(waits(11), waits(12));
    let first = waits(11);
    assert!(
        first.iter().any(|w| *w != first[0]),
        "waits vary: {first:?}"
    );
}

#[test]
fn proportional_jitter_stays_within_its_fraction_and_clamps_it() {
    let base = Duration::from_secs(10);
    let mut rng = HostRng::default();
    for _ in 0..200 {
        let wait = Jitter::Proportional(0.2).apply(base, &mut rng);
        assert!((secs(8.0)..secs(12.0)).contains(&wait), "{wait:?}");
        let wide = Jitter::Proportional(5.0).apply(base, &mut rng);
        assert!(
            wide < secs(20.0),
            "a fraction past 1 is taken as 1: {wide:?}"
        );
    }
    assert_eq!(Jitter::Proportional(f64::NAN).apply(base, &mut rng), base);
    assert_eq!(Jitter::Proportional(-1.0).apply(base, &mut rng), base);
    assert_eq!(Jitter::Proportional(0.2).upper_bound(base), secs(12.0));
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        any::<u64>().prop_map(|n| Jitter::Add(Duration::from_nanos(n))),
        any::<f64>().prop_map(Jitter::Proportional),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..10_000_000_000).prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
        Just(Duration::MAX),
    ]
}

proptest! {
    #[test]
    fn every_wait_is_within_the_bounds_and_none_panics(
        initial in duration(),
        factor in any::<f64>(),
        max in duration(),
        jitter in jitter(),
        retries in proptest::option::of(any::<u32>()),
        failures in any::<u32>(),
        seed in any::<u64>(),
    ) {
        let mut policy = RetryPolicy::exponential(initial, factor)
            .with_max_delay(max)
            .with_jitter(jitter);
        if let Some(r) = retries {
            policy = policy.with_max_retries(r);
        }
        let backoff = policy.backoff(failures);
        prop_assert!(backoff <= max);
        prop_assert!(backoff <= policy.backoff(failures.saturating_add(1)), "waits never shrink");
        match policy.delay(failures, &mut HostRng::new(seed, 0)) {
            Some(wait) => {
                prop_assert!(retries.is_none_or(|r| failures <= r));
                prop_assert!(wait <= policy.upper_bound(), "{wait:?} > {:?}", policy.upper_bound());
                prop_assert_eq!(Some(wait), policy.delay(failures, &mut HostRng::new(seed, 0)));
            }
            None => prop_assert!(retries.is_some_and(|r| failures > r)),
        }
    }
}
