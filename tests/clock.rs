//! The fake clock and `LoopingCall`: Twisted's `task.Clock` semantics, one rule per test.

use std::time::Duration;

use weft::clock::{CallError, Clock, LoopingCall, ManualClock};
use weft::time::Instant;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Advances `clock` and returns the timers fired, in order.
fn advance<T: Copy>(clock: &mut ManualClock<T>, by: Duration) -> Vec<T> {
    let mut fired = Vec::new();
    clock.advance(by, |_, t| fired.push(t));
    fired
}

#[test]
fn time_starts_at_zero() {
    let clock = ManualClock::<()>::new();
    assert_eq!(clock.now(), Instant::ZERO);
}

#[test]
fn calls_fire_in_deadline_order_not_scheduling_order() {
    // The book's heap example: B at 2, A at 1, C at 3.
    let mut clock = ManualClock::new();
    clock.call_later(secs(2), 'B');
    clock.call_later(secs(1), 'A');
    clock.call_later(secs(3), 'C');
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(1)));
    assert_eq!(advance(&mut clock, secs(1)), vec!['A']);
    assert_eq!(advance(&mut clock, secs(2)), vec!['B', 'C']);
}

#[test]
fn ties_fire_in_scheduling_order() {
    let mut clock = ManualClock::new();
    for name in ["first", "second", "third"] {
        clock.call_later(secs(5), name);
    }
    clock.call_later(secs(4), "earlier");
    assert_eq!(
        advance(&mut clock, secs(5)),
        vec!["earlier", "first", "second", "third"]
    );
}

#[test]
fn advance_moves_time_first_then_runs_due_calls() {
    // TV-12: callLater(1.0, print, "OK"); advance(2) prints OK, with the clock at 2.
    let mut clock = ManualClock::new();
    clock.call_later(secs(1), "OK");
    let mut seen = Vec::new();
    clock.advance(secs(2), |clock, t| seen.push((t, clock.now())));
    assert_eq!(seen, vec![("OK", Instant::from_secs(2))]);
}

#[test]
fn calls_not_yet_due_stay_pending() {
    let mut clock = ManualClock::new();
    clock.call_later(secs(10), ());
    assert!(advance(&mut clock, secs(9)).is_empty());
    assert_eq!(clock.pending_count(), 1);
    assert_eq!(advance(&mut clock, secs(1)).len(), 1);
    assert_eq!(clock.pending_count(), 0);
}

#[test]
fn advance_zero_runs_zero_delay_calls() {
    let mut clock = ManualClock::new();
    clock.call_later(Duration::ZERO, "soon");
    clock.call_later(Duration::from_nanos(1), "later");
    assert_eq!(advance(&mut clock, Duration::ZERO), vec!["soon"]);
}

#[test]
fn calls_scheduled_during_advance_run_if_they_fall_due() {
    let mut clock = ManualClock::new();
    clock.call_later(secs(1), 0);
    let mut fired = Vec::new();
    clock.advance(secs(5), |clock, n| {
        fired.push(n);
        if n == 0 {
            clock.call_later(Duration::ZERO, 1); // due now: runs in this advance
            clock.call_later(secs(3), 2); // due at 8: does not
        }
    });
    assert_eq!(fired, vec![0, 1]);
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(8)));
}

#[test]
fn cancel_prevents_the_call_and_cannot_be_repeated() {
    let mut clock = ManualClock::new();
    let call = clock.call_later(secs(1), "cancelled");
    assert!(clock.active(call));
    clock.cancel(call).unwrap();
    assert!(!clock.active(call));
    assert_eq!(clock.cancel(call), Err(CallError::AlreadyCancelled));
    assert!(advance(&mut clock, secs(2)).is_empty());
}

#[test]
fn a_call_that_ran_cannot_be_cancelled_reset_or_delayed() {
    let mut clock = ManualClock::new();
    let call = clock.call_later(secs(1), ());
    advance(&mut clock, secs(1));
    assert_eq!(clock.cancel(call), Err(CallError::AlreadyCalled));
    assert_eq!(clock.reset(call, secs(1)), Err(CallError::AlreadyCalled));
    assert_eq!(clock.delay(call, secs(1)), Err(CallError::AlreadyCalled));
}

#[test]
fn reset_moves_the_deadline_relative_to_now() {
    let mut clock = ManualClock::new();
    let call = clock.call_later(secs(10), ());
    advance(&mut clock, secs(4));
    clock.reset(call, secs(10)).unwrap();
    assert_eq!(clock.deadline(call), Some(Instant::from_secs(14)));
    assert!(advance(&mut clock, secs(9)).is_empty());
    assert_eq!(advance(&mut clock, secs(1)).len(), 1);
}

#[test]
fn delay_pushes_the_deadline_later() {
    let mut clock = ManualClock::new();
    let call = clock.call_later(secs(10), ());
    clock.delay(call, secs(5)).unwrap();
    assert_eq!(clock.deadline(call), Some(Instant::from_secs(15)));
    assert!(advance(&mut clock, secs(14)).is_empty());
    assert_eq!(advance(&mut clock, secs(1)).len(), 1);
}

#[test]
fn a_reset_call_takes_its_place_in_scheduling_order_anew() {
    let mut clock = ManualClock::new();
    let a = clock.call_later(secs(10), 'A');
    clock.call_later(secs(5), 'B');
    clock.reset(a, secs(5)).unwrap();
    assert_eq!(advance(&mut clock, secs(5)), vec!['B', 'A']);
}

#[test]
fn pending_calls_are_listed_in_firing_order() {
    let mut clock = ManualClock::new();
    clock.call_later(secs(3), "c");
    let b = clock.call_later(secs(2), "b");
    clock.call_later(secs(1), "a");
    clock.cancel(b).unwrap();
    let pending: Vec<_> = clock
        .pending_calls()
        .into_iter()
        .map(|(_, at, t)| (at, *t))
        .collect();
    assert_eq!(
        pending,
        vec![(Instant::from_secs(1), "a"), (Instant::from_secs(3), "c")]
    );
}

#[test]
fn pump_is_a_series_of_advances() {
    let mut clock = ManualClock::new();
    clock.call_later(secs(2), ());
    let mut seen = Vec::new();
    clock.pump(&[secs(1); 3], |clock, ()| seen.push(clock.now()));
    assert_eq!(seen, vec![Instant::from_secs(2)]);
    assert_eq!(clock.now(), Instant::from_secs(3));
}

#[test]
fn many_cancellations_keep_order_and_counts() {
    let mut clock = ManualClock::new();
    let ids: Vec<_> = (0..10_000u64)
        .map(|i| clock.call_later(Duration::from_millis((i * 7_919) % 10_000), i))
        .collect();
    for id in ids.iter().step_by(2) {
        clock.cancel(*id).unwrap();
    }
    let mut fired = Vec::new();
    clock.advance(secs(10), |clock, i| fired.push((clock.now(), i)));
    assert_eq!(fired.len(), 5_000);
    assert!(fired.iter().all(|(_, i)| i % 2 == 1));
    let deadlines: Vec<_> = fired.iter().map(|(_, i)| (i * 7_919) % 10_000).collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]));
}

/// Runs a loop's beats for `by`, counting them.
fn advance_loop(
    clock: &mut ManualClock<&'static str>,
    lc: &mut LoopingCall<&'static str>,
    by: Duration,
) -> Vec<u64> {
    let mut counts = Vec::new();
    clock.advance(by, |clock, _| {
        if let Some(tick) = lc.fired(clock) {
            counts.push(tick.count);
            lc.finish(clock, tick);
        }
    });
    counts
}

#[test]
fn looping_call_with_now_runs_at_once() {
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let tick = lc.start(&mut clock, secs(30), true).expect("runs now");
    lc.finish(&mut clock, tick);
    assert!(lc.running());
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(30)));
}

#[test]
fn looping_call_without_now_waits_one_interval() {
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    assert!(lc.start(&mut clock, secs(30), false).is_none());
    assert!(advance_loop(&mut clock, &mut lc, secs(29)).is_empty());
    assert_eq!(advance_loop(&mut clock, &mut lc, secs(1)), vec![1]);
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(60)));
}

#[test]
fn looping_call_skips_missed_intervals() {
    // TV-11 at the clock level: interval 30, advance(60) runs one beat (at 60), and the
    // next is due at 90, not at 60 again.
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let tick = lc.start(&mut clock, secs(30), true).unwrap();
    lc.finish(&mut clock, tick);
    assert_eq!(advance_loop(&mut clock, &mut lc, secs(60)), vec![2]);
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(90)));
    // A jump that is not a multiple lands on the next boundary after now.
    assert_eq!(advance_loop(&mut clock, &mut lc, secs(100)), vec![3]);
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(180)));
}

#[test]
fn looping_call_can_be_stopped_inside_its_own_beat() {
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    assert!(lc.start(&mut clock, secs(1), false).is_none());
    let mut beats = 0;
    clock.advance(secs(1), |clock, _| {
        if let Some(tick) = lc.fired(clock) {
            beats += 1;
            lc.stop(clock); // inside the beat
            lc.finish(clock, tick);
        }
    });
    assert_eq!(beats, 1);
    assert!(!lc.running());
    assert_eq!(clock.pending_count(), 0, "nothing rescheduled after stop");
}

#[test]
fn stopping_a_looping_call_cancels_its_pending_beat() {
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    assert!(lc.start(&mut clock, secs(1), false).is_none());
    assert!(lc.stop(&mut clock));
    assert!(!lc.stop(&mut clock), "already stopped");
    assert!(advance_loop(&mut clock, &mut lc, secs(5)).is_empty());
}

#[test]
fn looping_call_reset_restarts_timing_from_now() {
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    assert!(lc.start(&mut clock, secs(10), false).is_none());
    advance_loop(&mut clock, &mut lc, secs(7));
    lc.reset(&mut clock);
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(17)));
}

#[test]
#[should_panic(expected = "running loop")]
fn starting_a_running_looping_call_is_a_bug() {
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let _ = lc.start(&mut clock, secs(1), false);
    let _ = lc.start(&mut clock, secs(1), false);
}
