//! TV-24 and Part 19: timeouts on the fake clock, cancellation.

use std::pin::pin;
use std::time::Duration;

use weft::task::oneshot;
use weft::task::{
    FakeClock, TimedOut, assert_no_result, failure_result_of, success_result_of, with_canceller,
};

use super::{Log, log_of};

// TV-24: addTimeout on the fake clock.

#[test]
fn tv24_timeout_fires_at_ten_seconds_and_leaves_no_call() {
    let clock = FakeClock::new();
    let (_d, awaited) = oneshot::channel::<&str>();
    let cancelled = Log::default();
    let inner = with_canceller(awaited, {
        let cancelled = cancelled.clone();
        move || cancelled.borrow_mut().push("cancelled".into())
    });
    let mut d = pin!(clock.timers().timeout(Duration::from_secs(10), inner));
    assert_no_result(&mut d);
    clock.advance(Duration::from_secs(9));
    assert_no_result(&mut d);
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        failure_result_of(&mut d),
        TimedOut {
            limit: Duration::from_secs(10)
        }
    );
    assert_eq!(clock.pending_count(), 0, "no delayed call is left");
    assert_eq!(
        log_of(&cancelled),
        ["cancelled"],
        "expiry cancels the inner future"
    );
}

#[test]
fn tv24_a_result_at_five_seconds_cancels_the_timer() {
    let clock = FakeClock::new();
    let (d, awaited) = oneshot::channel::<&str>();
    let mut timed = pin!(clock.timers().timeout(Duration::from_secs(10), awaited));
    assert_no_result(&mut timed);
    assert_eq!(clock.pending_count(), 1);
    clock.advance(Duration::from_secs(5));
    d.send("x").unwrap();
    assert_eq!(success_result_of(&mut timed), Ok("x"));
    assert_eq!(clock.pending_count(), 0, "the timer was cancelled");
}

// Part 19: cancelling Deferreds.

#[test]
fn part19_cancelling_runs_the_canceller() {
    // defer-cancel-5: the canceller runs when the Deferred is cancelled.
    let log = Log::default();
    let (_d, awaited) = oneshot::channel::<&str>();
    let d = with_canceller(awaited, {
        let log = log.clone();
        move || {
            log.borrow_mut()
                .push("I need to cancel this deferred".into())
        }
    });
    drop(d);
    log.borrow_mut().push("done".into());
    assert_eq!(log_of(&log), ["I need to cancel this deferred", "done"]);
}

#[test]
fn part19_cancelling_a_fired_future_does_not_call_its_canceller() {
    // defer-cancel-3 and -8: fire, then cancel: the canceller is not called.
    let log = Log::default();
    let (d, awaited) = oneshot::channel::<&str>();
    let mut cancellable = Box::pin(with_canceller(awaited, {
        let log = log.clone();
        move || log.borrow_mut().push("canceller".into())
    }));
    d.send("result").unwrap();
    assert_eq!(success_result_of(&mut cancellable), "result");
    drop(cancellable);
    assert!(log_of(&log).is_empty());
}

#[test]
fn part19_a_late_fire_after_cancel_is_ignored_without_error() {
    // defer-cancel-4: cancel, then the producer's callback: silently ignored.
    let (d, awaited) = oneshot::channel::<&str>();
    drop(awaited);
    assert!(d.is_cancelled());
    assert_eq!(d.send("result"), Err("result"), "handed back, no panic");
}

#[test]
fn part19_cancelling_an_outer_chain_cancels_the_inner_future_it_waits_on() {
    // defer-cancel-12: the outer Deferred is paused on an inner one; cancelling the
    // outer cancels the inner.
    let log = Log::default();
    let (outer_d, outer) = oneshot::channel::<()>();
    let (_inner_d, inner) = oneshot::channel::<()>();
    let inner = with_canceller(inner, {
        let log = log.clone();
        move || log.borrow_mut().push("inner cancelled".into())
    });
    let mut chain = Box::pin(async move {
        outer.await.unwrap();
        inner.await
    });
    outer_d.send(()).unwrap();
    assert_no_result(&mut chain);
    drop(chain);
    assert_eq!(log_of(&log), ["inner cancelled"]);
}
