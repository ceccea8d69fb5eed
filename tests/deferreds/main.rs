//! The Deferred chapters as futures: "Expert Twisted" chapter 2's test vectors (TV-17 to
//! TV-24) and Peticolas's Part 17/18/19 behaviours, one test each, polled synchronously
//! as trial's `SynchronousTestCase` polls Deferreds.

mod chains;
mod lists;
mod poetry;
mod time_and_cancel;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use weft::task::oneshot::{self, Sender};

pub(crate) type Log = Rc<RefCell<Vec<String>>>;

pub(crate) fn log_of(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Twisted's generic `Exception()`, and the exception types the examples raise.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub(crate) enum Oops {
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
/// The future of a Deferred's result.
pub(crate) type Fired<T> = Pin<Box<dyn Future<Output = Result<T, Oops>>>>;

pub(crate) fn deferred<T: 'static>() -> (Sender<Result<T, Oops>>, Fired<T>) {
    let (sender, receiver) = oneshot::channel();
    let future = async move { receiver.await.expect("the test keeps its senders") };
    (sender, Box::pin(future))
}

pub(crate) fn boxed<T: 'static>(
    f: impl Future<Output = Result<T, Oops>> + 'static,
) -> Pin<Box<dyn Future<Output = Result<T, Oops>>>> {
    Box::pin(f)
}
