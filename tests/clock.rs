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

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

// The expected orders below are Twisted 26.10's, from running the same steps on
// `task.Clock` (tests/compat/clock_ops.rs checks random sequences the same way).

#[test]
fn delaying_an_overdue_call_inside_advance_keeps_it_overdue() {
    // c0 at 125 ms, c1 at 250 ms; c2 at 0 delays c0 by 0 while the clock is at 375 ms.
    // Twisted runs c2, c0, c1, and c0 stays due at 125 ms: a delay is not clamped to now.
    let mut clock = ManualClock::new();
    let c0 = clock.call_later(millis(125), "c0");
    clock.call_later(millis(250), "c1");
    clock.call_later(Duration::ZERO, "c2");
    let mut fired = Vec::new();
    clock.advance(millis(375), |clock, name| {
        fired.push(name);
        if name == "c2" {
            clock.delay(c0, Duration::ZERO).unwrap();
            assert_eq!(clock.deadline(c0), Some(Instant::from_millis(125)));
        }
    });
    assert_eq!(fired, ["c2", "c0", "c1"]);
}

#[test]
fn a_call_moved_later_runs_first_among_the_calls_due_at_its_new_time() {
    // Twisted's stable sort keeps A where it was in the list: before B and X.
    for moved_by in ["reset", "delay"] {
        let mut clock = ManualClock::new();
        let a = clock.call_later(secs(1), 'A');
        clock.call_later(secs(5), 'B');
        clock.call_later(secs(5), 'X');
        match moved_by {
            "reset" => clock.reset(a, secs(5)).unwrap(),
            _ => clock.delay(a, secs(4)).unwrap(),
        }
        assert_eq!(advance(&mut clock, secs(10)), ['A', 'B', 'X'], "{moved_by}");
    }
}

#[test]
fn a_call_moved_earlier_runs_last_among_the_calls_due_at_its_new_time() {
    let mut clock = ManualClock::new();
    clock.call_later(secs(5), 'B');
    clock.call_later(secs(5), 'X');
    let d = clock.call_later(secs(9), 'D');
    clock.reset(d, secs(5)).unwrap();
    assert_eq!(advance(&mut clock, secs(10)), ['B', 'X', 'D']);
}

#[test]
fn a_call_whose_time_does_not_change_keeps_its_place() {
    let mut clock = ManualClock::new();
    let b = clock.call_later(secs(5), 'B');
    clock.call_later(secs(5), 'X');
    clock.delay(b, Duration::ZERO).unwrap();
    assert_eq!(advance(&mut clock, secs(5)), ['B', 'X']);

    // Moved away and back before the clock sorts again: still first.
    let b = clock.call_later(secs(5), 'B');
    clock.call_later(secs(5), 'X');
    clock.reset(b, secs(9)).unwrap();
    clock.reset(b, secs(5)).unwrap();
    assert_eq!(advance(&mut clock, secs(10)), ['B', 'X']);
}

#[test]
fn calls_moved_to_the_same_time_keep_their_old_order_whatever_order_they_moved_in() {
    for a_first in [true, false] {
        let mut clock = ManualClock::new();
        let a = clock.call_later(secs(1), "A");
        let a2 = clock.call_later(secs(2), "A2");
        clock.call_later(secs(5), "B");
        let (first, second) = if a_first { (a, a2) } else { (a2, a) };
        clock.reset(first, secs(5)).unwrap();
        clock.reset(second, secs(5)).unwrap();
        let pending: Vec<_> = clock
            .pending_calls()
            .into_iter()
            .map(|(_, _, t)| *t)
            .collect();
        assert_eq!(pending, ["A", "A2", "B"], "listed as they will fire");
        assert_eq!(advance(&mut clock, secs(5)), ["A", "A2", "B"]);
    }
}

#[test]
fn a_sort_between_two_moves_puts_the_later_mover_first() {
    // Scheduling sorts Twisted's list: A2 takes its new place before A moves.
    let mut clock = ManualClock::new();
    let a = clock.call_later(secs(1), "A");
    let a2 = clock.call_later(secs(2), "A2");
    clock.call_later(secs(5), "B");
    clock.reset(a2, secs(5)).unwrap();
    clock.call_later(secs(100), "late");
    clock.reset(a, secs(5)).unwrap();
    assert_eq!(advance(&mut clock, secs(5)), ["A", "A2", "B"]);
}

#[test]
fn ended_calls_answer_how_they_ended_long_after_their_slots_are_reused() {
    // Twisted's handles answer AlreadyCalled / AlreadyCancelled forever; weft's do for
    // the last 16 million calls, and a handle never reaches a newer call.
    let mut clock = ManualClock::new();
    let ids: Vec<_> = (0..100_000u64)
        .map(|i| {
            let id = clock.call_later(Duration::ZERO, i);
            if i % 2 == 0 {
                clock.cancel(id).unwrap();
            }
            advance(&mut clock, Duration::ZERO);
            id
        })
        .collect();
    let newest = clock.call_later(secs(1), u64::MAX);
    for (i, &id) in ids.iter().enumerate() {
        let want = if i % 2 == 0 {
            CallError::AlreadyCancelled
        } else {
            CallError::AlreadyCalled
        };
        assert_eq!(clock.cancel(id), Err(want), "call {i}");
        assert_eq!(clock.reset(id, secs(1)), Err(want), "call {i}");
        assert_eq!(clock.deadline(id), None);
    }
    assert!(
        clock.active(newest),
        "old handles did not touch the call in their slot"
    );
    assert_eq!(advance(&mut clock, secs(1)), [u64::MAX]);
}

#[test]
fn a_handle_from_another_clock_has_expired() {
    let mut other = ManualClock::new();
    let foreign = (0..3).map(|i| other.call_later(secs(1), i)).last().unwrap();
    let mut clock = ManualClock::<u64>::new();
    assert_eq!(clock.cancel(foreign), Err(CallError::Expired));
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
fn looping_call_counts_missed_intervals_on_the_grid_an_overdue_reset_moved() {
    // Twisted: started at 0 with a 1 s interval and a reset from a call due at 0.5 s,
    // `advance(5.5 s)` runs the reset at 5.5 s (the next beat moves to 6.5 s), and
    // `advance(1 s)` beats with a count of 6: whole intervals from the beat at 0 to
    // 6.5 s, on the grid that starts at the reset.
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let tick = lc.start(&mut clock, secs(1), true).unwrap();
    assert_eq!(tick.count, 1);
    lc.finish(&mut clock, tick);
    clock.call_later(millis(500), "reset");
    let mut counts = Vec::new();
    let mut run = |clock: &mut ManualClock<&'static str>, by: Duration| {
        clock.advance(by, |clock, timer| {
            if timer == "reset" {
                lc.reset(clock);
            } else if let Some(tick) = lc.fired(clock) {
                counts.push((tick.count, clock.now()));
                lc.finish(clock, tick);
            }
        });
    };
    run(&mut clock, millis(5_500));
    assert_eq!(clock.next_deadline(), Some(Instant::from_millis(6_500)));
    run(&mut clock, secs(1));
    assert_eq!(counts, [(6, Instant::from_millis(6_500))]);
}

#[test]
fn looping_call_reset_inside_its_own_beat_is_ignored() {
    // A late beat (due at 10, run at 25) resets its loop: Twisted's reset finds no
    // pending call and does nothing, so the next beat stays on the grid from 0, at 30
    // (a reset would have moved it to 35).
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    assert!(lc.start(&mut clock, secs(10), false).is_none());
    clock.advance(secs(25), |clock, _| {
        let tick = lc.fired(clock).expect("the beat due at 10");
        lc.reset(clock);
        lc.finish(clock, tick);
    });
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(30)));
    assert_eq!(clock.pending_count(), 1);
}

#[test]
fn a_loop_restarted_within_an_interval_of_its_last_beat_counts_zero() {
    // Twisted's withCount keeps the last beat's time across a stop and restart and
    // skips its function when no interval boundary has passed.
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let restart = |clock: &mut ManualClock<&'static str>, lc: &mut LoopingCall<_>| {
        lc.stop(clock);
        let tick = lc.start(clock, secs(1), true).expect("runs at once");
        let count = tick.count;
        lc.finish(clock, tick);
        count
    };
    let tick = lc.start(&mut clock, secs(1), true).unwrap();
    lc.finish(&mut clock, tick);
    assert_eq!(restart(&mut clock, &mut lc), 0, "at the same instant");
    advance_loop(&mut clock, &mut lc, millis(500));
    assert_eq!(restart(&mut clock, &mut lc), 0, "half an interval later");
    assert_eq!(clock.next_deadline(), Some(Instant::from_millis(1_500)));
    lc.stop(&mut clock);
    advance_loop(&mut clock, &mut lc, secs(10));
    assert_eq!(
        restart(&mut clock, &mut lc),
        10,
        "ten intervals since the beat at 0"
    );
    assert_eq!(advance_loop(&mut clock, &mut lc, secs(1)), [1]);
}

#[test]
fn a_loop_restarted_inside_its_own_beat_runs_one_chain_of_beats() {
    // Twisted (a deliberate difference, README): the old beat's callback schedules a
    // successor too, and beats run twice at 2, 3, 4 and 5.
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let tick = lc.start(&mut clock, secs(1), true).unwrap();
    lc.finish(&mut clock, tick);
    let mut beats = vec![Instant::ZERO];
    for _ in 0..5 {
        clock.advance(secs(1), |clock, _| {
            if let Some(tick) = lc.fired(clock) {
                beats.push(clock.now());
                if beats.len() == 2 {
                    lc.stop(clock);
                    assert!(lc.start(clock, secs(1), false).is_none());
                }
                lc.finish(clock, tick);
            }
        });
    }
    let want: Vec<_> = (0..=5).map(Instant::from_secs).collect();
    assert_eq!(beats, want);
    assert_eq!(clock.pending_count(), 1);
}

#[test]
#[should_panic(expected = "running loop")]
fn starting_a_running_looping_call_is_a_bug() {
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let _ = lc.start(&mut clock, secs(1), false);
    let _ = lc.start(&mut clock, secs(1), false);
}

#[test]
#[should_panic(expected = "interval must be positive")]
fn a_zero_interval_is_a_bug() {
    // Twisted runs such a loop as fast as it can, which under a fake clock is forever
    // inside one `advance` (README).
    let mut clock = ManualClock::new();
    let mut lc = LoopingCall::new("beat");
    let _ = lc.start(&mut clock, Duration::ZERO, false);
}
