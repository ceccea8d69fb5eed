//! TV-17 to TV-20: callback chains, Deferred facts, nesting, inlineCallbacks.

use std::future::ready;
use std::pin::pin;

use weft::task::oneshot;
use weft::task::{assert_no_result, failure_result_of, result_of, success_result_of};

use super::{Log, Oops, log_of};

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
