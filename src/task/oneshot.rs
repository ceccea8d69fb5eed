//! One-shot values: "you make it, you fire it" — the Deferred a producer creates, hands
//! out, and fires once.
//!
//! [`channel`] makes a [`Sender`] (the producer's end: `d.callback(x)` is
//! [`Sender::send`]) and a [`Receiver`], a future of the value (what the caller of an API
//! returning a Deferred awaits). Dropping the receiver is cancelling: the producer can
//! see it with [`Sender::is_cancelled`] and, as with a Deferred without a canceller, a
//! later `send` is simply ignored (it returns the value). Dropping the sender without
//! sending fails the receiver with [`Dropped`].
//!
//! ```
//! use std::pin::pin;
//! use weft::task::{assert_no_result, oneshot, success_result_of};
//!
//! let (d, awaited) = oneshot::channel::<u32>();
//! let mut awaited = pin!(awaited);
//! assert_no_result(&mut awaited);
//! d.send(1).unwrap();
//! assert_eq!(success_result_of(&mut awaited), 1);
//! ```
//!
//! Firing twice (Twisted's `AlreadyCalledError`) does not compile: `send` takes the
//! sender.
//!
//! ```compile_fail
//! let (d, _awaited) = weft::task::oneshot::channel::<&str>();
//! d.send("result").unwrap();
//! d.send("whoops").unwrap();
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Shared<T> {
    value: Option<T>,
    sender_gone: bool,
    receiver_gone: bool,
    waker: Option<Waker>,
}

/// The sender was dropped without sending.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("the value was never sent: its sender was dropped")]
pub struct Dropped;

/// A new one-shot: the producer's end and the consumer's.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(RefCell::new(Shared {
        value: None,
        sender_gone: false,
        receiver_gone: false,
        waker: None,
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The producer's end of a one-shot.
pub struct Sender<T> {
    shared: Rc<RefCell<Shared<T>>>,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Fires the one-shot with `value` (Twisted's `d.callback(value)`; send a `Result`
    /// to have an errback path). Gives the value back if the receiver is gone
    /// (cancelled).
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut shared = self.shared.borrow_mut();
            if shared.receiver_gone {
                return Err(value);
            }
            shared.value = Some(value);
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Whether the receiver has been dropped: nobody wants the value any more.
    pub fn is_cancelled(&self) -> bool {
        self.shared.borrow().receiver_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut shared = self.shared.borrow_mut();
            shared.sender_gone = true;
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The consumer's end: a future of the value.
pub struct Receiver<T> {
    shared: Rc<RefCell<Shared<T>>>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("fired", &self.shared.borrow().value.is_some())
            .finish()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Dropped>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut shared = self.shared.borrow_mut();
        if let Some(value) = shared.value.take() {
            return Poll::Ready(Ok(value));
        }
        if shared.sender_gone {
            return Poll::Ready(Err(Dropped));
        }
        shared.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.borrow_mut().receiver_gone = true;
    }
}
