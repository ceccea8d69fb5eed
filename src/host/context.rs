//! [`HostContext`]: everything a program may do during one callback.

use std::net::SocketAddr;
use std::time::Duration;

use super::state::StateMut;
use super::{Command, ConnId, HostPort, HostRng, ListenerId, Stream};
use crate::clock::{CallError, CallId, Clock, ManualClock, MapClock};
use crate::flow::{Consumer, ProducerError, ProducerKind};
use crate::protocol::Context;
use crate::time::Instant;
use crate::transport::{Transport, TransportState};

/// What a [`Program`](super::Program) may do during a callback: act on its connections,
/// listen and connect, use its clock, print and exit.
///
/// Operations on a connection that has ended (or never was) do nothing, as writes to a
/// closed Twisted transport do.
pub struct HostContext<'a, T> {
    pub(crate) clock: &'a mut ManualClock<T>,
    pub(crate) state: StateMut<'a>,
}

impl<T> HostContext<'_, T> {
    /// Starts listening on `addr`; the outcome arrives as `listening` or `listen_failed`.
    pub fn listen(&mut self, addr: HostPort) -> ListenerId {
        self.listen_on(addr, None)
    }

    /// Listens with a chosen backlog: how many connections wait, completed by the
    /// kernel, while the program is not accepting.
    pub fn listen_with_backlog(&mut self, addr: HostPort, backlog: u32) -> ListenerId {
        self.listen_on(addr, Some(backlog))
    }

    fn listen_on(&mut self, addr: HostPort, backlog: Option<u32>) -> ListenerId {
        let listener = ListenerId(self.state.book.next_listener);
        self.state.book.next_listener += 1;
        self.state.marks.commands.push_back(Command::Listen {
            listener,
            addr,
            backlog,
        });
        listener
    }

    /// Stops accepting on `listener` (Twisted's `port.stopReading()`; a blocking server
    /// busy with one client). Connections that arrive meanwhile wait in the backlog:
    /// their connect succeeds, but the program hears of them only once it resumes.
    pub fn pause_accepting(&mut self, listener: ListenerId) {
        self.state
            .marks
            .commands
            .push_back(Command::PauseAccepting { listener });
    }

    /// Accepts again on `listener`, oldest waiting connection first.
    pub fn resume_accepting(&mut self, listener: ListenerId) {
        self.state
            .marks
            .commands
            .push_back(Command::ResumeAccepting { listener });
    }

    /// Stops accepting new connections on `listener`.
    pub fn stop_listening(&mut self, listener: ListenerId) {
        self.state
            .marks
            .commands
            .push_back(Command::StopListening { listener });
    }

    /// Connects to `to`; the outcome arrives on a later turn as `connection_made` or
    /// `connect_failed`, never inside this call.
    pub fn connect(&mut self, to: HostPort, timeout: Duration) -> ConnId {
        let conn = self.state.book.new_conn_id();
        self.state.book.connecting.insert(conn);
        self.state
            .marks
            .commands
            .push_back(Command::Connect { conn, to, timeout });
        conn
    }

    /// Whether `conn` is a connect still waiting for its answer.
    pub fn is_connecting(&self, conn: ConnId) -> bool {
        self.state.book.connecting.contains(&conn)
    }

    /// Whether `conn` is up (made and not yet lost).
    pub fn is_connected(&self, conn: ConnId) -> bool {
        self.state.transport(conn).is_some_and(|t| !t.is_closed())
    }

    /// The transport of `conn`, if it is up.
    pub fn transport(&mut self, conn: ConnId) -> Option<&mut dyn Transport> {
        self.state.touch(conn).map(|t| t as &mut dyn Transport)
    }

    /// Queues bytes on `conn`.
    pub fn write(&mut self, conn: ConnId, data: &[u8]) {
        if let Some(t) = self.state.touch(conn) {
            t.write(data);
        }
    }

    /// Closes `conn` once its queue drains.
    pub fn lose_connection(&mut self, conn: ConnId) {
        if let Some(t) = self.state.touch(conn) {
            t.lose_connection();
        }
    }

    /// Closes `conn` now, discarding its queue; the peer sees a reset. On a connect that
    /// is still pending this cancels it, with no callback.
    pub fn abort_connection(&mut self, conn: ConnId) {
        if self.state.book.connecting.remove(&conn) {
            // Withdraw the connect if the driver has not taken it yet; otherwise ask the
            // driver to drop it.
            let queued = self.state.marks.commands.iter().position(
                |c| matches!(c, Command::Connect { conn: queued, .. } if *queued == conn),
            );
            match queued {
                Some(i) => {
                    self.state.marks.commands.remove(i);
                }
                None => self
                    .state
                    .marks
                    .commands
                    .push_back(Command::CancelConnect { conn }),
            }
            return;
        }
        if let Some(t) = self.state.touch(conn) {
            t.abort_connection();
        }
    }

    /// Half-closes `conn` once its queue drains.
    pub fn lose_write_connection(&mut self, conn: ConnId) {
        if let Some(t) = self.state.touch(conn) {
            t.lose_write_connection();
        }
    }

    /// Stops delivering `conn`'s incoming data (inbound back-pressure).
    pub fn pause_reading(&mut self, conn: ConnId) {
        if let Some(t) = self.state.touch(conn) {
            t.pause_reading();
        }
    }

    /// Resumes delivering `conn`'s incoming data.
    pub fn resume_reading(&mut self, conn: ConnId) {
        if let Some(t) = self.state.touch(conn) {
            t.resume_reading();
        }
    }

    /// Registers the program as `conn`'s producer.
    pub fn register_producer(
        &mut self,
        conn: ConnId,
        kind: ProducerKind,
    ) -> Result<(), ProducerError> {
        match self.state.touch(conn) {
            Some(t) => t.register_producer(kind),
            None => Ok(()),
        }
    }

    /// Unregisters the program as `conn`'s producer.
    pub fn unregister_producer(&mut self, conn: ConnId) -> Result<(), ProducerError> {
        match self.state.touch(conn) {
            Some(t) => t.unregister_producer(),
            None => Ok(()),
        }
    }

    /// Bytes queued on `conn` and not yet sent.
    pub fn queued(&self, conn: ConnId) -> usize {
        self.state
            .transport(conn)
            .map_or(0, TransportState::pending_len)
    }

    /// The remote address of `conn`.
    pub fn peer(&self, conn: ConnId) -> Option<SocketAddr> {
        self.state.transport(conn).map(|t| t.peer())
    }

    /// The local address of `conn`.
    pub fn host(&self, conn: ConnId) -> Option<SocketAddr> {
        self.state.transport(conn).map(|t| t.host())
    }

    /// Runs `f` with a protocol [`Context`] for `conn`: its transport, and this clock
    /// seen through `wrap`, which turns the protocol's timers into the program's.
    /// Returns `None` (without running `f`) if `conn` is not up.
    // Always inlined, so that the protocol's callback (`f`) is seen by its caller, and
    // the context it gets is never built in memory.
    #[inline(always)]
    pub fn with_protocol<U, R>(
        &mut self,
        conn: ConnId,
        wrap: impl Fn(U) -> T,
        f: impl FnOnce(&mut Context<'_, U>) -> R,
    ) -> Option<R> {
        let transport = self.state.touch(conn)?;
        let mut clock = MapClock::new(&mut *self.clock as &mut dyn Clock<T>, wrap);
        Some(f(&mut Context::new(transport, &mut clock)))
    }

    /// Prints a line on standard output.
    pub fn print(&mut self, line: impl Into<String>) {
        self.state.marks.commands.push_back(Command::Print {
            stream: Stream::Stdout,
            line: line.into(),
        });
    }

    /// Prints a line on standard error.
    pub fn eprint(&mut self, line: impl Into<String>) {
        self.state.marks.commands.push_back(Command::Print {
            stream: Stream::Stderr,
            line: line.into(),
        });
    }

    /// Ends the program with `code`. Only the first exit counts.
    pub fn exit(&mut self, code: i32) {
        if self.state.book.exit_code.is_none() {
            self.state.book.exit_code = Some(code);
            self.state.marks.commands.push_back(Command::Exit { code });
        }
    }

    /// Whether the program has exited.
    pub fn has_exited(&self) -> bool {
        self.state.book.exit_code.is_some()
    }

    /// The host's current time (its clock, which a fault may have jumped).
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Schedules `timer` to come back through `timer_fired` after `delay`, as
    /// [`Context::call_later`] does for a protocol. The rest of the timer API
    /// (`reset`, `delay`, `deadline`) is on the [`Clock`] trait.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::host::{ConnId, ConnectError, HostContext, Program};
    /// use weft::transport::Disconnect;
    ///
    /// /// Prints a line every second, three times.
    /// struct Ticker(u32);
    ///
    /// impl Program for Ticker {
    ///     type Timer = ();
    ///     fn start(&mut self, cx: &mut HostContext<'_, ()>) {
    ///         cx.call_later(Duration::from_secs(1), ());
    ///     }
    ///     fn timer_fired(&mut self, cx: &mut HostContext<'_, ()>, (): ()) {
    ///         self.0 += 1;
    ///         cx.print(format!("tick {} at {}", self.0, cx.now()));
    ///         if self.0 < 3 {
    ///             cx.call_later(Duration::from_secs(1), ());
    ///         }
    ///     }
    ///     // A ticker has no connections.
    ///     fn connection_made(&mut self, _: &mut HostContext<'_, ()>, _: ConnId) {}
    ///     fn data_received(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: &[u8]) {}
    ///     fn connection_lost(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: Disconnect) {}
    ///     fn connect_failed(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: ConnectError) {}
    /// }
    /// ```
    pub fn call_later(&mut self, delay: Duration, timer: T) -> CallId {
        self.clock.call_later(delay, timer)
    }

    /// Cancels a pending call made with [`call_later`](Self::call_later).
    pub fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        self.clock.cancel(call)
    }

    /// The host's random source, seeded by the driver (see [`HostRng`]): draw from it,
    /// never from an unseeded generator, so that a run replays from its seed.
    ///
    /// ```
    /// use weft::host::{HostContext, Jitter, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// fn next_wait<T>(cx: &mut HostContext<'_, T>, failures: u32) -> Option<Duration> {
    ///     RetryPolicy::client_service().delay(failures, cx.rng())
    /// }
    /// ```
    pub fn rng(&mut self) -> &mut HostRng {
        &mut self.state.book.rng
    }
}

impl<T> Clock<T> for HostContext<'_, T> {
    fn now(&self) -> Instant {
        self.clock.now()
    }
    fn call_later(&mut self, delay: Duration, timer: T) -> CallId {
        self.clock.call_later(delay, timer)
    }
    fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        self.clock.cancel(call)
    }
    fn reset(&mut self, call: CallId, delay: Duration) -> Result<(), CallError> {
        self.clock.reset(call, delay)
    }
    fn delay(&mut self, call: CallId, by: Duration) -> Result<(), CallError> {
        self.clock.delay(call, by)
    }
    fn deadline(&self, call: CallId) -> Option<Instant> {
        self.clock.deadline(call)
    }
}
