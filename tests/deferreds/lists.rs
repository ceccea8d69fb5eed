//! TV-21 to TV-23: DeferredList, gatherResults, fastestOfTwo, there_can_be_only_one.

use std::future::{Future, ready};
use std::pin::{Pin, pin};

use weft::task::oneshot::Sender;
use weft::task::{
    FirstError, assert_no_result, deferred_list, failure_result_of, fastest_of_two, first_failure,
    first_success, gather_results, result_of, success_result_of, there_can_be_only_one,
    with_canceller,
};

use super::{Log, Oops, boxed, deferred, log_of};

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

type Firers = Vec<Sender<Result<&'static str, Oops>>>;

fn contenders(n: usize, log: &Log) -> (Firers, Vec<Contender>) {
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
