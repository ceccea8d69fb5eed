//! [`Tasks`]: what a task can do, and [`JoinHandle`] for the tasks it spawns.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::conn::{Connect, Listener};
use super::core::{Net, Op};
use super::oneshot::{self, Receiver};
use super::timer::{Interval, Sleep, Timeout, Timers};
use crate::host::{DEFAULT_CONNECT_TIMEOUT, HostPort, Stream};
use crate::time::Instant;

/// A task's handle on its program: connect and listen, sleep and time out on the host's
/// clock, spawn tasks, print and exit. Cheap to clone; every clone is the same program.
#[derive(Clone)]
pub struct Tasks {
    pub(crate) net: Net,
    timers: Timers,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("timers", &self.timers)
            .finish()
    }
}

impl Tasks {
    pub(crate) fn new(net: Net, timers: Timers) -> Self {
        Self { net, timers }
    }

    /// The host's current time.
    pub fn now(&self) -> Instant {
        self.timers.now()
    }

    /// Runs `draw` with the host's random source, seeded by the driver (see
    /// [`HostRng`](crate::host::HostRng)), so that a run's random choices — a retry's
    /// jitter, say — replay from its seed.
    ///
    /// ```
    /// use weft::host::RetryPolicy;
    /// use weft::task::Tasks;
    ///
    /// async fn back_off(tasks: &Tasks, failures: u32) {
    ///     let policy = RetryPolicy::client_service();
    ///     if let Some(wait) = tasks.with_rng(|rng| policy.delay(failures, rng)) {
    ///         tasks.sleep(wait).await;
    ///     }
    /// }
    /// ```
    pub fn with_rng<R>(&self, draw: impl FnOnce(&mut crate::host::HostRng) -> R) -> R {
        draw(&mut self.net.borrow_mut().rng)
    }

    /// The host clock's timers, for code written against [`Timers`].
    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    /// Completes `delay` from now on the host's clock.
    pub fn sleep(&self, delay: Duration) -> Sleep {
        self.timers.sleep(delay)
    }

    /// Completes at `deadline` on the host's clock.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        self.timers.sleep_until(deadline)
    }

    /// `future` with a time limit on the host's clock; see [`Timers::timeout`].
    pub fn timeout<F: Future>(&self, limit: Duration, future: F) -> Timeout<F> {
        self.timers.timeout(limit, future)
    }

    /// Ticks every `period`, the first at once; see [`Timers::interval`].
    pub fn interval(&self, period: Duration) -> Interval {
        self.timers.interval(period)
    }

    /// Runs `future` as a task of its own, polled after the tasks already ready.
    /// Dropping the handle detaches the task; [`JoinHandle::cancel`] drops it.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let id = self.net.borrow_mut().spawn(Box::pin(async move {
            let _ = sender.send(future.await);
        }));
        JoinHandle {
            net: self.net.clone(),
            id,
            receiver,
        }
    }

    /// Connects to `to` with Twisted's 30-second connect timeout (change it with
    /// [`Connect::connect_timeout`]). The connect is issued when the future is first
    /// polled; dropping the future before it completes withdraws it.
    pub fn connect(&self, to: HostPort) -> Connect {
        Connect::new(self.net.clone(), to, DEFAULT_CONNECT_TIMEOUT)
    }

    /// Listens on `addr` (port 0: any free port), with the driver's default backlog.
    /// The listener is there at once; [`Listener::listening`] waits for the driver's
    /// answer, and [`Listener::accept`] reports a failed listen.
    pub fn listen(&self, addr: HostPort) -> Listener {
        Listener::new(self.net.clone(), addr, None)
    }

    /// Listens with a chosen backlog: how many connections the kernel completes and
    /// holds while nobody accepts.
    pub fn listen_with_backlog(&self, addr: HostPort, backlog: u32) -> Listener {
        Listener::new(self.net.clone(), addr, Some(backlog))
    }

    /// Prints a line on standard output.
    pub fn print(&self, line: impl Into<String>) {
        self.push(Op::Print {
            stream: Stream::Stdout,
            line: line.into(),
        });
    }

    /// Prints a line on standard error.
    pub fn eprint(&self, line: impl Into<String>) {
        self.push(Op::Print {
            stream: Stream::Stderr,
            line: line.into(),
        });
    }

    /// Ends the program with `code` (only the first exit counts); its connections close
    /// as a process exit closes them.
    pub fn exit(&self, code: i32) {
        let mut net = self.net.borrow_mut();
        if !std::mem::replace(&mut net.exited, true) {
            net.ops.push_back(Op::Exit { code });
        }
    }

    fn push(&self, op: Op) {
        self.net.borrow_mut().ops.push_back(op);
    }
}

/// A spawned task's result, as a future. Dropping it leaves the task running.
pub struct JoinHandle<T> {
    net: Net,
    id: u64,
    receiver: Receiver<T>,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

impl<T> JoinHandle<T> {
    /// Drops the task (at the executor's next turn), cancelling whatever it owned.
    pub fn cancel(self) {
        self.net.borrow_mut().cancelled.push(self.id);
    }
}

impl<T> Future for JoinHandle<T> {
    /// `None` if the task was dropped before it finished.
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        Pin::new(&mut self.receiver).poll(cx).map(Result::ok)
    }
}
