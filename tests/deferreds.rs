//! The Deferred chapters as futures: "Expert Twisted" chapter 2's test vectors (TV-17 to
//! TV-24) and Peticolas's Part 17/18/19 behaviours, one test each, polled synchronously
//! as trial's `SynchronousTestCase` polls Deferreds.

use std::cell::RefCell;
use std::future::{Future, ready};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::time::Duration;

use weft::task::oneshot::{self, Sender};
use weft::task::{
    FakeClock, FirstError, TimedOut, assert_no_result, deferred_list, failure_result_of,
    fastest_of_two, first_failure, first_success, gather_results, result_of, success_result_of,
    there_can_be_only_one, with_canceller,
};

type Log = Rc<RefCell<Vec<String>>>;

fn log_of(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Twisted's generic `Exception()`, and the exception types the examples raise.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
enum Oops {
    #[error("exception")]
    Exception,
    #[error("value error")]
    Value,
    #[error("type error")]
    Type,
    #[error("division by zero")]
    ZeroDivision,
}

/// A Deferred the test fires: the sender, and the future of its result.
fn deferred<T: 'static>() -> (
    Sender<Result<T, Oops>>,
    Pin<Box<dyn Future<Output = Result<T, Oops>>>>,
) {
    let (sender, receiver) = oneshot::channel();
    let future = async move { receiver.await.expect("the test keeps its senders") };
    (sender, Box::pin(future))
}

fn boxed<T: 'static>(
    f: impl Future<Output = Result<T, Oops>> + 'static,
) -> Pin<Box<dyn Future<Output = Result<T, Oops>>>> {
    Box::pin(f)
}

// TV-17: the `+2, //3, *4` pipeline and its errback.

fn plus_two(value: Option<i64>) -> Result<i64, Oops> {
    value.map(|v| v + 2).ok_or(Oops::Type)
}

/// `manyCallbacks` with `onTypeError`: the callbacks are the `?` chain, the errback the
/// `match` that turns a type error into -1.
async fn pipeline(input: oneshot::Receiver<Option<i64>>) -> Result<i64, Oops> {
    let chain = async {
        let value = input.await.map_err(|_| Oops::Exception)?;
        let value = plus_two(value)?;
        let value = value.div_euclid(3);
        Ok::<_, Oops>(value * 4)
    };
    match chain.await {
        Err(Oops::Type) => Ok(-1),
        other => other,
    }
}

#[test]
fn tv17_the_callback_pipeline_gives_16() {
    let (d, input) = oneshot::channel();
    let mut result = pin!(pipeline(input));
    assert_no_result(&mut result);
    d.send(Some(10)).unwrap();
    assert_eq!(success_result_of(&mut result), 16);
}

#[test]
fn tv17_the_errback_turns_a_type_error_into_minus_one() {
    let (d, input) = oneshot::channel();
    let mut result = pin!(pipeline(input));
    d.send(None).unwrap();
    assert_eq!(success_result_of(&mut result), -1);
}

// TV-18: Deferred facts.

#[test]
fn a_fired_oneshot_keeps_its_value_until_awaited() {
    let (d2, result) = oneshot::channel();
    d2.send("the result").unwrap();
    // Awaiting a fired one gives its result at once, as a callback added to a fired
    // Deferred runs at once.
    let mut result = pin!(result);
    assert_eq!(success_result_of(&mut result), "the result");
}

#[test]
fn tv18_a_division_by_zero_takes_the_errback_path() {
    let (d3, number) = oneshot::channel::<i64>();
    let mut result = pin!(async {
        let number = number.await.map_err(|_| Oops::Exception)?;
        1i64.checked_div(number).ok_or(Oops::ZeroDivision)
    });
    d3.send(0).unwrap();
    assert_eq!(failure_result_of(&mut result), Oops::ZeroDivision);
}

#[test]
fn tv18_trap_passes_on_what_it_does_not_match() {
    // d4: cbWillFail (1/0), then ebValueError (`trap(ValueError)`: not this one, pass it
    // on), then ebTypeErrorAndZeroDivisionError.
    let log = Log::default();
    let (d4, number) = oneshot::channel::<i64>();
    let mut chain = pin!(async {
        let will_fail = async {
            let number = number.await.map_err(|_| Oops::Exception)?;
            1i64.checked_div(number).ok_or(Oops::ZeroDivision)
        };
        let result = match will_fail.await {
            Err(Oops::Value) => {
                log.borrow_mut().push("ValueError handled".into());
                Ok(0)
            }
            other => other,
        };
        match result {
            Err(failure @ (Oops::Type | Oops::ZeroDivision)) => {
                log.borrow_mut().push(format!("Failure was {failure:?}"));
                Ok(0)
            }
            other => other,
        }
    });
    d4.send(0).unwrap();
    assert_eq!(success_result_of(&mut chain), 0);
    assert_eq!(log_of(&log), ["Failure was ZeroDivision"]);
}

#[test]
fn tv18_an_already_fired_value_cannot_jump_the_queue() {
    // ReadyOK: `someAPI()` returns an already-fired Deferred, whose callback writes OK
    // at once, before the READY written on the next line. A future runs only when
    // awaited, so the line written before the await goes first.
    let written = Log::default();
    let some_api = || ready(Ok::<_, Oops>(()));
    let mut protocol = pin!(async {
        let ok = async {
            some_api().await?;
            written.borrow_mut().push("OK".into());
            Ok::<_, Oops>(())
        };
        written.borrow_mut().push("READY".into());
        ok.await
    });
    success_result_of(&mut protocol);
    assert_eq!(log_of(&written), ["READY", "OK"]);
}

// TV-19: an inner Deferred pauses the outer chain.

#[test]
fn tv19_an_inner_future_pauses_the_outer_chain() {
    let log = Log::default();
    let pp = |label: &str, result: &str| {
        log.borrow_mut()
            .push(format!("printAndPassThrough {label} received {result}"));
    };
    let (outer_d, outer) = oneshot::channel::<&str>();
    let (inner_d, inner) = oneshot::channel::<&str>();
    let mut outer_chain = pin!(async {
        let result = outer.await.unwrap();
        pp("1", result);
        log.borrow_mut()
            .push(format!("returnInnerDeferred 2 received {result}"));
        log.borrow_mut().push("Returning innerDeferred...".into());
        let result = async {
            let result = inner.await.unwrap();
            pp("2 a", result);
            pp("2 b", result);
            result
        }
        .await;
        pp("3", result);
        pp("4", result);
        result
    });
    outer_d.send("result").unwrap();
    assert_no_result(&mut outer_chain);
    assert_eq!(
        log_of(&log),
        [
            "printAndPassThrough 1 received result",
            "returnInnerDeferred 2 received result",
            "Returning innerDeferred...",
        ]
    );
    inner_d.send("inner result").unwrap();
    assert_eq!(result_of(&mut outer_chain), "inner result");
    assert_eq!(
        log_of(&log)[3..],
        [
            "printAndPassThrough 2 a received inner result",
            "printAndPassThrough 2 b received inner result",
            "printAndPassThrough 3 received inner result",
            "printAndPassThrough 4 received inner result",
        ]
    );
}

// TV-20: inlineCallbacks and ensureDeferred as async fn.

async fn async_increment(d: oneshot::Receiver<Option<i64>>) -> Result<i64, Oops> {
    let x = d.await.map_err(|_| Oops::Exception)?;
    x.map(|x| x + 1).ok_or(Oops::Type)
}

#[test]
fn tv20_ensure_deferred_increments_what_it_awaits() {
    let (awaited, d) = oneshot::channel();
    let mut add = pin!(async_increment(d));
    assert_no_result(&mut add);
    awaited.send(Some(1)).unwrap();
    assert_eq!(success_result_of(&mut add), 2);
}

#[test]
fn tv20_awaiting_none_fails_with_a_type_error() {
    let (awaited, d) = oneshot::channel();
    let mut add = pin!(async_increment(d));
    awaited.send(None).unwrap();
    assert_eq!(failure_result_of(&mut add), Oops::Type);
}

#[test]
fn tv20_awaiting_an_async_fn_is_yield_from() {
    // e(): a = yield 1; return a + 2 — f(): c = yield from e(); print(c)
    async fn e(a: oneshot::Receiver<i64>) -> i64 {
        a.await.unwrap() + 2
    }
    let printed = Log::default();
    let (send, a) = oneshot::channel();
    let mut f = pin!(async {
        printed.borrow_mut().push("Begin f".into());
        let c = e(a).await;
        printed.borrow_mut().push(c.to_string());
    });
    assert_no_result(&mut f);
    assert_eq!(log_of(&printed), ["Begin f"]);
    send.send(2).unwrap();
    result_of(&mut f);
    assert_eq!(log_of(&printed), ["Begin f", "4"]);
}

// TV-21: DeferredList and gatherResults.

#[test]
fn tv21_deferred_list_keeps_input_order() {
    let (url1, d1) = deferred::<&str>();
    let (url2, d2) = deferred::<&str>();
    let mut list = pin!(deferred_list([d1, d2]));
    url2.send(Ok("url2")).unwrap();
    assert_no_result(&mut list);
    url1.send(Ok("url1")).unwrap();
    assert_eq!(result_of(&mut list), [Ok("url1"), Ok("url2")]);
}

#[test]
fn tv21_deferred_list_holds_each_success_and_failure() {
    let (succeeds, d1) = deferred::<&str>();
    let (fails, d2) = deferred::<&str>();
    let mut list = pin!(deferred_list([d1, d2]));
    fails.send(Err(Oops::Exception)).unwrap();
    succeeds.send(Ok("OK")).unwrap();
    assert_eq!(result_of(&mut list), [Ok("OK"), Err(Oops::Exception)]);
}

#[test]
fn tv21_fire_on_one_callback_gives_the_value_and_its_index() {
    let (_no_value, d1) = deferred::<&str>();
    let (gets_value, d2) = deferred::<&str>();
    let mut waits_for_one = pin!(first_success([d1, d2]));
    assert_no_result(&mut waits_for_one);
    gets_value.send(Ok("the value")).unwrap();
    assert_eq!(success_result_of(&mut waits_for_one), (1, "the value"));
}

#[test]
fn tv21_fire_on_one_callback_with_no_success_gives_every_failure() {
    let (a, d1) = deferred::<&str>();
    let (b, d2) = deferred::<&str>();
    let mut list = pin!(first_success([d1, d2]));
    b.send(Err(Oops::Type)).unwrap();
    a.send(Err(Oops::Value)).unwrap();
    assert_eq!(failure_result_of(&mut list), [Oops::Value, Oops::Type]);
}

#[test]
fn tv21_fire_on_one_errback_gives_the_first_error_with_its_index() {
    let (a, d1) = deferred::<&str>();
    let (b, d2) = deferred::<&str>();
    let mut list = pin!(first_failure([d1, d2]));
    a.send(Ok("fine")).unwrap();
    assert_no_result(&mut list);
    b.send(Err(Oops::Value)).unwrap();
    let error = failure_result_of(&mut list);
    assert_eq!(
        error,
        FirstError {
            error: Oops::Value,
            index: 1
        }
    );
    assert_eq!(error.to_string(), "FirstError[#1, value error]");
}

#[test]
fn tv21_gather_results_gives_plain_values_in_order() {
    let (d1, r1) = deferred::<i32>();
    let (d2, r2) = deferred::<i32>();
    let mut results = pin!(gather_results([r1, r2]));
    d2.send(Ok(2)).unwrap();
    assert_no_result(&mut results);
    d1.send(Ok(1)).unwrap();
    assert_eq!(success_result_of(&mut results), [1, 2]);
}

#[test]
fn tv21_gather_results_fails_with_the_first_error() {
    let (d1, r1) = deferred::<i32>();
    let (_d2, r2) = deferred::<i32>();
    let mut fails = pin!(gather_results([r1, r2]));
    d1.send(Err(Oops::Exception)).unwrap();
    assert_eq!(failure_result_of(&mut fails).index, 0);
}

#[test]
fn tv21_among_inputs_already_fired_the_first_in_the_list_wins() {
    let mut list = pin!(first_success([
        boxed(ready(Ok("a"))),
        boxed(ready(Ok("b")))
    ]));
    assert_eq!(success_result_of(&mut list), (0, "a"));
}

// TV-22: fastestOfTwo and its five synchronous tests.

#[test]
fn tv22_no_result() {
    let (_a, d1) = deferred::<&str>();
    let (_b, d2) = deferred::<&str>();
    let mut d1 = pin!(d1);
    assert_no_result(&mut d1);
    let mut d2 = pin!(d2);
    assert_no_result(&mut d2);
    let mut fastest = pin!(fastest_of_two(d1, d2));
    assert_no_result(&mut fastest);
}

#[test]
fn tv22_result_is_first_deferreds_result() {
    let (gets_result_first, d1) = deferred::<&str>();
    let (_never_gets_result, d2) = deferred::<&str>();
    let mut fastest = pin!(fastest_of_two(d1, d2));
    assert_no_result(&mut fastest);
    let result = "the result";
    gets_result_first.send(Ok(result)).unwrap();
    let actual = success_result_of(&mut fastest);
    assert!(std::ptr::eq(actual, result), "the very value sent");
}

#[test]
fn tv22_fired_deferred_is_first_result() {
    let (_unfired, d1) = deferred::<&str>();
    let mut fastest = pin!(fastest_of_two(d1, boxed(ready(Ok("the result")))));
    assert_eq!(success_result_of(&mut fastest), "the result");
}

#[test]
fn tv22_both_deferreds_fired() {
    let mut fastest = pin!(fastest_of_two(
        ready(Ok::<_, Oops>("first")),
        ready(Ok::<_, Oops>("second"))
    ));
    assert_eq!(success_result_of(&mut fastest), "first");
}

#[test]
fn tv22_fail_deferred() {
    let (_unfired, d2) = deferred::<&str>();
    let mut fastest = pin!(fastest_of_two(boxed(ready(Err(Oops::Exception))), d2));
    // failure.trap(FirstError); failure.value.subFailure.trap(ExceptionType)
    let FirstError { error, index } = failure_result_of(&mut fastest);
    assert_eq!((error, index), (Oops::Exception, 0));
}

// TV-23: there_can_be_only_one.

fn contenders(n: usize, log: &Log) -> (Vec<Sender<Result<&'static str, Oops>>>, Vec<Contender>) {
    (0..n)
        .map(|i| {
            let (sender, d) = deferred::<&'static str>();
            let log = log.clone();
            let contender: Contender = Box::pin(with_canceller(d, move || {
                log.borrow_mut().push(format!("cancel {i}"))
            }));
            (sender, contender)
        })
        .unzip()
}

type Contender = Pin<Box<dyn Future<Output = Result<&'static str, Oops>>>>;

#[test]
fn tv23_there_can_be_only_one_cancels_the_losers() {
    let log = Log::default();
    let (mut fire, contenders) = contenders(5, &log);
    let mut d = pin!(there_can_be_only_one(contenders));
    assert_no_result(&mut d);
    fire.remove(0).send(Err(Oops::Value)).unwrap();
    assert_no_result(&mut d);
    fire.remove(0).send(Err(Oops::Type)).unwrap();
    assert_no_result(&mut d);
    fire.remove(0).send(Ok("yay")).unwrap();
    assert_eq!(success_result_of(&mut d), "yay");
    // Cancellers 3 and 4 ran, in input order, before the summary was there; the
    // contenders that had finished were not cancelled.
    assert_eq!(log_of(&log), ["cancel 3", "cancel 4"]);
    assert!(fire.iter().all(Sender::is_cancelled));
}

#[test]
fn tv23_when_every_contender_fails_the_first_failure_is_the_summary() {
    let log = Log::default();
    let (mut fire, contenders) = contenders(3, &log);
    let mut d = pin!(there_can_be_only_one(contenders));
    assert_no_result(&mut d);
    fire.remove(1).send(Err(Oops::Type)).unwrap();
    assert_no_result(&mut d);
    fire.remove(0).send(Err(Oops::Value)).unwrap();
    assert_no_result(&mut d);
    fire.remove(0).send(Err(Oops::Exception)).unwrap();
    assert_eq!(failure_result_of(&mut d), Oops::Type, "the first to fail");
    assert!(log_of(&log).is_empty(), "nobody was cancelled");
}

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
    let mut cancellable = pin!(with_canceller(awaited, {
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

// Parts 17 and 18: the get-poetry clients' generator and DeferredList.

/// Client 7.0's `get_transformed_poem`: a failed download is reported and re-raised; a
/// failed transform is reported and the original poem used.
async fn get_transformed_poem(
    download: impl Future<Output = Result<String, Oops>>,
    xform: impl FnOnce(String) -> Pin<Box<dyn Future<Output = Result<String, Oops>>>>,
    stderr: Log,
) -> Result<String, Oops> {
    let poem = match download.await {
        Ok(poem) => poem,
        Err(error) => {
            stderr
                .borrow_mut()
                .push(format!("The poem download failed: {error}"));
            return Err(error);
        }
    };
    match xform(poem.clone()).await {
        Ok(transformed) => Ok(transformed),
        Err(_) => {
            stderr.borrow_mut().push("Cummingsify failed!".into());
            Ok(poem)
        }
    }
}

#[test]
fn part17_a_failed_transform_falls_back_to_the_original_poem() {
    let stderr = Log::default();
    let mut poem = pin!(get_transformed_poem(
        ready(Ok("A POEM".to_owned())),
        |_| boxed(ready(Err(Oops::Exception))),
        stderr.clone(),
    ));
    assert_eq!(success_result_of(&mut poem), "A POEM");
    assert_eq!(log_of(&stderr), ["Cummingsify failed!"]);
}

#[test]
fn part17_a_failed_download_is_reported_and_raised() {
    let stderr = Log::default();
    let mut poem = pin!(get_transformed_poem(
        ready(Err(Oops::Exception)),
        |p| boxed(ready(Ok(p.to_lowercase()))),
        stderr.clone(),
    ));
    assert_eq!(failure_result_of(&mut poem), Oops::Exception);
    assert_eq!(log_of(&stderr), ["The poem download failed: exception"]);
}

#[test]
fn part18_deferred_list_waits_for_every_download_and_keeps_their_order() {
    let stderr = Log::default();
    let (first, d1) = deferred::<String>();
    let (second, d2) = deferred::<String>();
    let lower = |p: String| boxed(ready(Ok(p.to_lowercase())));
    let mut all = pin!(deferred_list([
        boxed(get_transformed_poem(d1, lower, stderr.clone())),
        boxed(get_transformed_poem(d2, lower, stderr.clone())),
    ]));
    second.send(Ok("SECOND".into())).unwrap();
    assert_no_result(&mut all);
    first.send(Err(Oops::Exception)).unwrap();
    // consumeErrors: the failure is a value in the list, not an unhandled error.
    assert_eq!(
        result_of(&mut all),
        [Err(Oops::Exception), Ok("second".to_owned())]
    );
    assert_eq!(log_of(&stderr), ["The poem download failed: exception"]);
}
