//! Async programs on the sans-IO core: a deterministic executor inside a
//! [`Program`](crate::host::Program), and the Deferred family as futures.
//!
//! Rust's answer to a Deferred is a future, and to `inlineCallbacks` an `async fn`.
//! [`TaskProgram`] turns an `async fn` into a weft program: its tasks connect, listen,
//! read and write, sleep and time out on the host's clock, and everything they do goes
//! through the same [`Host`](crate::host::Host) a state machine uses — so an async
//! program runs under [`MemoryReactor`](crate::testing::MemoryReactor), the pump,
//! [SimNet](crate::simnet) (with its faults, re-segmentation and transcripts), the tokio
//! driver on real TCP and turmoil, unchanged.
//!
//! ```
//! use weft::host::HostPort;
//! use weft::task::{Connection, TaskProgram, Tasks};
//!
//! /// An echo server, one task per client.
//! async fn echo(tasks: Tasks) {
//!     let mut listener = tasks.listen(HostPort::new("0.0.0.0", 7));
//!     // An error here: the listen failed.
//!     while let Ok(conn) = listener.accept().await {
//!         tasks.spawn(serve(conn));
//!     }
//!     tasks.exit(1);
//! }
//!
//! async fn serve(mut conn: Connection) {
//!     // Each read is one delivery of the network's: chunking is kept.
//!     while let Ok(Some(chunk)) = conn.read().await {
//!         if conn.write(chunk).await.is_err() {
//!             return;
//!         }
//!     }
//!     // Dropping `conn` closes it cleanly.
//! }
//!
//! let program = TaskProgram::new(echo);
//! # let _ = program;
//! ```
//!
//! ## The executor
//!
//! One thread, one FIFO ready queue. Tasks are polled only inside the host's callbacks —
//! bytes, timers, connects, closes — and after each callback every ready task runs until
//! all wait again, so a task's answer to an event happens in the callback of that event,
//! exactly when a state machine's would. Nothing is woken by a real clock or another
//! thread (wakers are `Send + Sync`, as std requires, but a wake from elsewhere is only
//! seen at the next host event). There is no tokio in this layer.
//!
//! Cancelling is dropping. A dropped [`Connection`] closes cleanly (`lose_connection`,
//! as Twisted's `connector.disconnect()`); a dropped [`Connect`] withdraws the connect;
//! a dropped [`Sleep`] cancels its timer; a dropped [`Listener`] stops listening. So a
//! future cancelled by [`Timers::timeout`] or by [`there_can_be_only_one`] releases what
//! it owned.
//!
//! ## From Twisted to weft
//!
//! | Twisted | weft | shown by |
//! |---|---|---|
//! | `Deferred` | a future; one you fire yourself is a [`oneshot`] | `tests/deferreds/` `a_fired_oneshot_keeps_its_value_until_awaited`; firing twice does not compile ([`oneshot`]) |
//! | callbacks / errbacks | `.await` and `Result` combinators (`map`, `map_err`, `or_else`, `?`) | `tv17_the_callback_pipeline_gives_16`, `tv17_the_errback_turns_a_type_error_into_minus_one` |
//! | a callback returning a Deferred (nested) | awaiting inside an `async` block: the outer future waits | `tv19_an_inner_future_pauses_the_outer_chain` |
//! | `succeed(x)` / `fail(e)` / `maybeDeferred(f)` | `std::future::ready(Ok(x))` / `ready(Err(e))` / `async { f() }` | `tv22_fired_deferred_is_first_result`, `tv22_fail_deferred` |
//! | `Failure.trap(E)` / `check` | `match` on the error enum; other variants propagate with `?` | `tv18_trap_passes_on_what_it_does_not_match` |
//! | `inlineCallbacks`, `returnValue` | `async fn`, `return` | `tv20_ensure_deferred_increments_what_it_awaits` |
//! | `ensureDeferred(coro)` | [`Tasks::spawn`] (a [`JoinHandle`]), or polling the `async fn`'s future | `tv20_ensure_deferred_increments_what_it_awaits`; `tests/tasks.rs` `a_spawned_task_hands_its_result_to_its_join_handle` |
//! | `DeferredList(ds, consumeErrors=True)` | [`deferred_list`] | `tv21_deferred_list_keeps_input_order` |
//! | `fireOnOneCallback` / `fireOnOneErrback`, `FirstError` | [`first_success`] / [`first_failure`], [`FirstError`] | `tv21_fire_on_one_callback_gives_the_value_and_its_index` |
//! | `gatherResults` | [`gather_results`] | `tv21_gather_results_fails_with_the_first_error` |
//! | `fastestOfTwo` | [`fastest_of_two`] | the five `tv22_*` tests |
//! | `there_can_be_only_one` | [`there_can_be_only_one`] | `tv23_there_can_be_only_one_cancels_the_losers` |
//! | `Deferred(canceller)`, `d.cancel()` | [`with_canceller`]; dropping the future (a [`Connection`] it owned closes cleanly) | `part19_*` in `tests/deferreds/` and `tests/tasks.rs`, `dropping_a_connection_closes_it_cleanly_after_its_writes` |
//! | `addTimeout(t, clock)` | [`Timers::timeout`] / [`Tasks::timeout`], [`TimedOut`] | `tv24_timeout_fires_at_ten_seconds_and_leaves_no_call` |
//! | `TimeoutMixin` | a [`Tasks::timeout`] around each [`Connection::read`]: data resets it | `tests/tasks.rs` `tv25_an_idle_timeout_is_reset_by_data` |
//! | `deferLater`, `LoopingCall` | [`Tasks::sleep`], [`Tasks::interval`] | `tests/tasks.rs` `an_interval_skips_missed_ticks_like_looping_call` |
//! | `task.Clock` for Deferred tests | [`FakeClock`] | `tv24_*` |
//! | `SynchronousTestCase`: `assertNoResult`, `successResultOf`, `failureResultOf` | [`assert_no_result`], [`success_result_of`], [`failure_result_of`] | every `tests/deferreds/` test |
//!
//! The seed clients in this form are [`get_poetry_async`](crate::programs::poetry::get_poetry_async)
//! (clients 7.0 and 8.0, held to the state machine's transcripts by
//! `tests/get_poetry_async.rs`) and [`pingpong_async`](crate::programs::pingpong_async),
//! which `tests/tasks.rs` runs under the MemoryReactor, SimNet, loopback TCP and turmoil.
//!
//! Two Twisted behaviours have no Rust form. A canceller that fires its Deferred with a
//! value or another error (defer-cancel-6 and -7): a dropped future has no result to give.
//! And a Deferred fires its callbacks synchronously,
//! inside `callback()`, so a callback added to an already-fired Deferred runs at once
//! (the `ReadyOK` hazard). A future runs only when awaited, so the code before the
//! `.await` always runs first; `tv18_an_already_fired_value_cannot_jump_the_queue` shows
//! weft's order.

mod conn;
mod core;
mod deferred;
mod executor;
mod handle;
pub mod oneshot;
mod sync;
mod timer;

pub use conn::{Closing, Connect, Connection, ConnectionError, Listener};
pub use deferred::{
    FirstError, WithCanceller, deferred_list, fastest_of_two, first_failure, first_success,
    gather_results, there_can_be_only_one, with_canceller,
};
pub use executor::{TaskProgram, TaskTimer};
pub use handle::{JoinHandle, Tasks};
pub use sync::{assert_no_result, failure_result_of, result_of, success_result_of};
pub use timer::{FakeClock, Interval, Sleep, TimedOut, Timeout, Timers};
