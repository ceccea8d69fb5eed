//! The Deferred family as futures: Twisted's `DeferredList`, `gatherResults`,
//! `fastestOfTwo` and Expert Twisted's `there_can_be_only_one`, with their semantics.
//!
//! Every combinator here polls its inputs in **input order**, so when several are ready
//! at once the earliest in the list is seen first — as `DeferredList` attaches its
//! callbacks in list order, so among already-fired Deferreds the first in the list wins.
//! Results always come back in input order, whatever the order they were ready in.
//!
//! Where Twisted lets the other Deferreds run on once a list has fired, a combinator
//! here returns, and the futures it still held are dropped — cancelled, in input order —
//! when it returns. In Rust nothing runs unless polled, and a dropped future releases
//! what it owned (a [`Connection`](super::Connection) closes).
//!
//! `consumeErrors`: Twisted logs a failure nobody handled ("Unhandled error in
//! Deferred") unless the list consumes it. In Rust an error is a value, returned or
//! dropped, never "unhandled": every combinator here consumes its inputs' errors, as
//! `consumeErrors=True` does.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

/// The first failure of a list that fails on its first failure, and its index
/// (Twisted's `FirstError`, `str` = `FirstError[#index, error]`).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("FirstError[#{index}, {error}]")]
pub struct FirstError<E> {
    /// The failure.
    pub error: E,
    /// Which input failed, in input order.
    pub index: usize,
}

type Slots<F> = Vec<Option<Pin<Box<F>>>>;

fn slots<I: IntoIterator>(futures: I) -> Slots<I::Item>
where
    I::Item: Future,
{
    futures.into_iter().map(|f| Some(Box::pin(f))).collect()
}

/// Polls every unfinished input once, in input order, handing each output to `each`;
/// stops early (returning its value) when `each` says the combinator has its answer.
fn poll_inputs<F: Future, R>(
    inputs: &mut Slots<F>,
    cx: &mut std::task::Context<'_>,
    mut each: impl FnMut(usize, F::Output) -> Option<R>,
) -> Option<R> {
    for (index, slot) in inputs.iter_mut().enumerate() {
        let Some(future) = slot else { continue };
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            *slot = None;
            if let Some(answer) = each(index, output) {
                return Some(answer);
            }
        }
    }
    None
}

/// Twisted's `DeferredList(ds, consumeErrors=True)`: waits for every input and gives
/// each one's result, success or failure, in input order.
///
/// ```
/// use std::pin::pin;
/// use weft::task::{deferred_list, oneshot, result_of};
///
/// let (url1, r1) = oneshot::channel::<Result<&str, ()>>();
/// let (url2, r2) = oneshot::channel::<Result<&str, ()>>();
/// let mut list = pin!(deferred_list([r1, r2].map(|r| async { r.await.unwrap() })));
/// url2.send(Ok("url2")).unwrap();
/// url1.send(Ok("url1")).unwrap();
/// assert_eq!(result_of(&mut list), [Ok("url1"), Ok("url2")]);
/// ```
pub async fn deferred_list<I, F, T, E>(futures: I) -> Vec<Result<T, E>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let mut inputs = slots(futures);
    let mut results: Vec<Option<Result<T, E>>> = inputs.iter().map(|_| None).collect();
    poll_fn(|cx| {
        poll_inputs(&mut inputs, cx, |i, output| {
            results[i] = Some(output);
            None::<()>
        });
        if inputs.iter().any(Option::is_some) {
            return Poll::Pending;
        }
        Poll::Ready(
            results
                .drain(..)
                .map(|r| r.expect("every input finished"))
                .collect(),
        )
    })
    .await
}

/// `DeferredList(ds, fireOnOneCallback=True)`: the first success and its index; if every
/// input fails, all the failures in input order.
pub async fn first_success<I, F, T, E>(futures: I) -> Result<(usize, T), Vec<E>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let mut inputs = slots(futures);
    let mut failures: Vec<Option<E>> = inputs.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let won = poll_inputs(&mut inputs, cx, |i, output| match output {
            Ok(value) => Some((i, value)),
            Err(error) => {
                failures[i] = Some(error);
                None
            }
        });
        if let Some(winner) = won {
            // The rest are cancelled in input order.
            inputs.clear();
            return Poll::Ready(Ok(winner));
        }
        if inputs.iter().any(Option::is_some) {
            return Poll::Pending;
        }
        Poll::Ready(Err(failures
            .drain(..)
            .map(|f| f.expect("every input failed"))
            .collect()))
    })
    .await
}

/// `DeferredList(ds, fireOnOneErrback=True)` with its successes unwrapped: every value
/// in input order, or the first failure as a [`FirstError`] with its index. This is
/// also [`gather_results`].
pub async fn first_failure<I, F, T, E>(futures: I) -> Result<Vec<T>, FirstError<E>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let mut inputs = slots(futures);
    let mut values: Vec<Option<T>> = inputs.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let failed = poll_inputs(&mut inputs, cx, |index, output| match output {
            Ok(value) => {
                values[index] = Some(value);
                None
            }
            Err(error) => Some(FirstError { error, index }),
        });
        if let Some(first) = failed {
            inputs.clear();
            return Poll::Ready(Err(first));
        }
        if inputs.iter().any(Option::is_some) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(values
            .drain(..)
            .map(|v| v.expect("every input succeeded"))
            .collect()))
    })
    .await
}

/// Twisted's `gatherResults(ds, consumeErrors=True)`: the values in input order, or the
/// first failure with its index. (With `consumeErrors=False` Twisted would also log the
/// failures as unhandled; Rust has no unhandled errors, see the module docs.)
pub async fn gather_results<I, F, T, E>(futures: I) -> Result<Vec<T>, FirstError<E>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    first_failure(futures).await
}

/// Expert Twisted's `fastestOfTwo`: `DeferredList([d1, d2], fireOnOneCallback=True,
/// fireOnOneErrback=True)` with the value extracted — whichever of the two is first,
/// success or failure (a failure as [`FirstError`]). If both are ready, the first.
pub async fn fastest_of_two<A, B, T, E>(first: A, second: B) -> Result<T, FirstError<E>>
where
    A: Future<Output = Result<T, E>>,
    B: Future<Output = Result<T, E>>,
{
    let mut first = Some(Box::pin(first));
    let mut second = Some(Box::pin(second));
    poll_fn(|cx| {
        for index in 0..2 {
            let output = match index {
                0 => first.as_mut().map(|f| f.as_mut().poll(cx)),
                _ => second.as_mut().map(|f| f.as_mut().poll(cx)),
            };
            if let Some(Poll::Ready(output)) = output {
                first = None;
                second = None;
                return Poll::Ready(output.map_err(|error| FirstError { error, index }));
            }
        }
        Poll::Pending
    })
    .await
}

/// Expert Twisted's `there_can_be_only_one` (the Highlander race of magic-wormhole's
/// transit): the first contender to succeed wins, and every contender still running is
/// cancelled — dropped, in input order, before the winner is returned. If every
/// contender fails, the first failure (in the order they failed; among failures seen
/// in one poll, input order) — the "common-mode failure".
///
/// Twisted's `_remaining` is a `set`; here the contenders stay in input order, so the
/// losers' cancellers run in a deterministic order. Twisted's summary fires re-entrantly
/// inside the last loser's cancellation; a future cannot be observed mid-drop, so weft's
/// order is: every loser's cancellation, in input order, then the winner's result.
pub async fn there_can_be_only_one<I, F, T, E>(contenders: I) -> Result<T, E>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let mut inputs = slots(contenders);
    let mut first_failure: Option<E> = None;
    poll_fn(|cx| {
        let won = poll_inputs(&mut inputs, cx, |_, output| match output {
            Ok(value) => Some(value),
            Err(error) => {
                first_failure.get_or_insert(error);
                None
            }
        });
        if let Some(value) = won {
            // Vec drops its elements front to back: the losers go in input order.
            for loser in &mut inputs {
                drop(loser.take());
            }
            return Poll::Ready(Ok(value));
        }
        if inputs.iter().any(Option::is_some) {
            return Poll::Pending;
        }
        Poll::Ready(Err(first_failure.take().expect("every contender failed")))
    })
    .await
}

/// Gives `future` a canceller (Twisted's `Deferred(canceller)`): `canceller` runs if the
/// future is dropped before it completes, and never otherwise.
pub fn with_canceller<F: Future, C: FnOnce()>(future: F, canceller: C) -> WithCanceller<F, C> {
    WithCanceller {
        future: Box::pin(future),
        canceller: Some(canceller),
    }
}

/// A future with a canceller; see [`with_canceller`].
#[must_use = "futures do nothing unless polled"]
pub struct WithCanceller<F, C: FnOnce()> {
    future: Pin<Box<F>>,
    canceller: Option<C>,
}

impl<F, C: FnOnce()> std::fmt::Debug for WithCanceller<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithCanceller")
            .field("finished", &self.canceller.is_none())
            .finish()
    }
}

impl<F: Future, C: FnOnce() + Unpin> Future for WithCanceller<F, C> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let output = std::task::ready!(self.future.as_mut().poll(cx));
        self.canceller = None;
        Poll::Ready(output)
    }
}

impl<F, C: FnOnce()> Drop for WithCanceller<F, C> {
    fn drop(&mut self) {
        if let Some(canceller) = self.canceller.take() {
            canceller();
        }
    }
}
