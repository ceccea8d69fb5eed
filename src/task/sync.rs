//! trial's `SynchronousTestCase` for futures: look at a future's result now, without an
//! executor.
//!
//! Each helper polls the future once with a waker that does nothing, so what it sees is
//! what the future can produce from what has already happened: values sent on
//! [one-shots](super::oneshot), time moved by a [`FakeClock`](super::FakeClock). Pin the
//! future first (`std::pin::pin!`) and keep it between calls, as a test keeps its
//! Deferred: [`assert_no_result`] may be called any number of times, but a future that
//! has given its result is finished, so call [`success_result_of`] or
//! [`failure_result_of`] once (as trial asks for its own).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// Fails (panics) if `future` has a result now (trial's `assertNoResult`).
#[track_caller]
pub fn assert_no_result<F>(future: &mut F)
where
    F: Future + Unpin,
    F::Output: Debug,
{
    if let Poll::Ready(output) = poll_once(future) {
        panic!("expected no result yet, got {output:?}");
    }
}

/// The result `future` has now; fails (panics) if it has none yet.
#[track_caller]
pub fn result_of<F: Future + Unpin>(future: &mut F) -> F::Output {
    match poll_once(future) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("expected a result, the future has none yet"),
    }
}

/// The success `future` has now (trial's `successResultOf`); fails (panics) if it has no
/// result yet or failed.
#[track_caller]
pub fn success_result_of<F, T, E>(future: &mut F) -> T
where
    F: Future<Output = Result<T, E>> + Unpin,
    E: Debug,
{
    match result_of(future) {
        Ok(value) => value,
        Err(error) => panic!("expected a success, got the failure {error:?}"),
    }
}

/// The failure `future` has now (trial's `failureResultOf`); fails (panics) if it has no
/// result yet or succeeded. Check the error's type by matching on it, as
/// `failureResultOf(d, SomeError)` checks it.
#[track_caller]
pub fn failure_result_of<F, T, E>(future: &mut F) -> E
where
    F: Future<Output = Result<T, E>> + Unpin,
    T: Debug,
{
    match result_of(future) {
        Ok(value) => panic!("expected a failure, got the success {value:?}"),
        Err(error) => error,
    }
}
