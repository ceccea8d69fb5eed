//! [`HostContext`]: everything a program may do during one callback.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use super::{Command, ConnId, ConnMap, HostPort, HostRng, ListenerId, Stream};
use crate::clock::{CallError, CallId, Clock, ManualClock, MapClock};
use crate::flow::{Consumer, Notice, ProducerError, ProducerKind};
use crate::protocol::Context;
use crate::time::Instant;
use crate::transport::{Transport, TransportState};

/// A host's connections and the commands its program has issued, shared by the
/// [`Host`](super::Host) and the contexts it lends out.
// The fields every event touches come last (`repr(C)` keeps the order), next to the
// clock's, so that together they take few cache lines (see `Host`).
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct HostState {
    /// Connects issued and not yet answered.
    pub(crate) connecting: BTreeSet<ConnId>,
    pub(crate) next_conn: u64,
    pub(crate) next_listener: u64,
    pub(crate) exit_code: Option<i32>,
    /// The program's random source, seeded by the driver.
    pub(crate) rng: HostRng,
    /// Connections that are up, until their `connection_lost` has been delivered.
    pub(crate) conns: ConnMap<HostConn>,
    /// Connections touched since the driver last looked.
    pub(crate) dirty: ConnSet,
    /// Connections the current callback has touched (each flagged `in_call`): the only
    /// ones that can owe their program a producer notice when it returns.
    pub(crate) in_call: ConnList,
    pub(crate) commands: VecDeque<Command>,
}

/// One connection of a host: its transport, and whether the current callback has
/// touched it.
// Aligned so that the flag and the transport's hot fields share one cache line.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct HostConn {
    /// Listed in [`HostState::in_call`].
    in_call: bool,
    pub(crate) transport: TransportState,
}

impl HostState {
    pub(crate) fn new_conn_id(&mut self) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        id
    }

    /// Adds a connection that has just come up, listed as dirty.
    pub(crate) fn open(&mut self, conn: ConnId, transport: TransportState) {
        let entry = HostConn {
            transport,
            in_call: false,
        };
        let replaced = self.conns.insert(conn, entry);
        debug_assert!(replaced.is_none(), "connection ids are never reused");
        self.dirty.insert(conn);
    }

    /// Takes a connection out, and off the dirty list.
    pub(crate) fn remove(&mut self, conn: ConnId) {
        if self.conns.remove(conn).is_some() {
            self.dirty.remove(&conn);
        }
        // An `in_call` entry for a removed connection is skipped when delivered.
    }

    #[inline]
    pub(crate) fn transport(&self, conn: ConnId) -> Option<&TransportState> {
        self.conns.get(conn).map(|c| &c.transport)
    }

    #[inline]
    pub(crate) fn transport_mut(&mut self, conn: ConnId) -> Option<&mut TransportState> {
        self.conns.get_mut(conn).map(|c| &mut c.transport)
    }

    /// Lists `conn` for the driver to look at if it is up and its transport passes
    /// `test`; returns whether it did.
    #[inline]
    pub(crate) fn mark_dirty_if(
        &mut self,
        conn: ConnId,
        test: impl FnOnce(&TransportState) -> bool,
    ) -> bool {
        let Some(entry) = self.conns.get_mut(conn) else {
            return false;
        };
        if !test(&entry.transport) {
            return false;
        }
        self.dirty.insert(conn);
        true
    }

    /// Lists `conn` for the driver, and as touched by the current callback, so that
    /// any producer notice it owes is delivered when the callback returns.
    #[inline]
    pub(crate) fn touch(&mut self, conn: ConnId) -> Option<&mut TransportState> {
        let entry = self.conns.get_mut(conn)?;
        self.dirty.insert(conn);
        if !entry.in_call {
            entry.in_call = true;
            self.in_call.push(conn);
        }
        Some(&mut entry.transport)
    }

    /// The next connection for the driver to look at, lowest id first.
    #[inline]
    pub(crate) fn pop_dirty(&mut self) -> Option<ConnId> {
        self.dirty.pop_first()
    }

    /// The touched connection with the lowest id that owes its program a notice, and
    /// the notice. Once none does, the touched list is cleared.
    #[inline]
    pub(crate) fn next_notice(&mut self) -> Option<(ConnId, Notice)> {
        let first = self.in_call.first?;
        if self.in_call.more.is_empty() {
            // The common case: one connection touched.
            if let Some(entry) = self.conns.get_mut(first) {
                if let Some(notice) = entry.transport.take_notice() {
                    return Some((first, notice));
                }
                entry.in_call = false;
            }
            self.in_call.first = None;
            return None;
        }
        self.next_notice_of_many()
    }

    fn next_notice_of_many(&mut self) -> Option<(ConnId, Notice)> {
        let conns = &self.conns;
        let owing = (self.in_call.iter())
            .filter(|&conn| conns.get(conn).is_some_and(|c| c.transport.has_notices()))
            .min();
        if let Some(conn) = owing {
            let entry = self.conns.get_mut(conn).expect("just found");
            let notice = entry.transport.take_notice().expect("just checked");
            return Some((conn, notice));
        }
        for conn in self.in_call.take() {
            if let Some(entry) = self.conns.get_mut(conn) {
                entry.in_call = false;
            }
        }
        None
    }
}

/// Connection ids in the order they were added, the first kept inline: most callbacks
/// touch one connection, and then no other memory is needed.
#[derive(Debug, Default)]
pub(crate) struct ConnList {
    first: Option<ConnId>,
    more: Vec<ConnId>,
}

impl ConnList {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    #[inline]
    fn push(&mut self, conn: ConnId) {
        if self.first.is_none() {
            self.first = Some(conn);
        } else {
            self.more.push(conn);
        }
    }

    fn iter(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.first.into_iter().chain(self.more.iter().copied())
    }

    /// Empties the list, returning what it held.
    fn take(&mut self) -> impl Iterator<Item = ConnId> + '_ {
        self.first.take().into_iter().chain(self.more.drain(..))
    }
}

/// A set of connection ids, lowest first: the lowest inline, the rest in a sorted
/// ring, as ids are touched mostly in rising order and the set is small (for a client,
/// one connection). The common insert is a store or a push and taking the lowest a
/// load or a pop, and neither allocates once the ring has grown.
#[derive(Debug, Default)]
pub(crate) struct ConnSet {
    /// The lowest id; `None` only if the set is empty.
    first: Option<ConnId>,
    /// The others, ascending.
    rest: VecDeque<ConnId>,
}

impl ConnSet {
    #[inline]
    pub(crate) fn insert(&mut self, conn: ConnId) {
        match self.first {
            None => self.first = Some(conn),
            Some(first) if first == conn => {}
            Some(first) if conn < first => {
                self.rest.push_front(first);
                self.first = Some(conn);
            }
            Some(_) => self.insert_rest(conn),
        }
    }

    fn insert_rest(&mut self, conn: ConnId) {
        match self.rest.back() {
            None => self.rest.push_back(conn),
            Some(&last) if last < conn => self.rest.push_back(conn),
            Some(&last) if last == conn => {}
            Some(_) => {
                if let Err(at) = self.rest.binary_search(&conn) {
                    self.rest.insert(at, conn);
                }
            }
        }
    }

    #[inline]
    pub(crate) fn pop_first(&mut self) -> Option<ConnId> {
        let first = self.first.take()?;
        if !self.rest.is_empty() {
            self.first = self.rest.pop_front();
        }
        Some(first)
    }

    pub(crate) fn remove(&mut self, conn: &ConnId) {
        if self.first == Some(*conn) {
            self.pop_first();
        } else if let Ok(at) = self.rest.binary_search(conn) {
            self.rest.remove(at);
        }
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ConnId> {
        self.first.iter().chain(self.rest.iter())
    }
}

/// What a [`Program`](super::Program) may do during a callback: act on its connections,
/// listen and connect, use its clock, print and exit.
///
/// Operations on a connection that has ended (or never was) do nothing, as writes to a
/// closed Twisted transport do.
pub struct HostContext<'a, T> {
    pub(crate) clock: &'a mut ManualClock<T>,
    pub(crate) state: &'a mut HostState,
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
        let listener = ListenerId(self.state.next_listener);
        self.state.next_listener += 1;
        self.state.commands.push_back(Command::Listen {
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
            .commands
            .push_back(Command::PauseAccepting { listener });
    }

    /// Accepts again on `listener`, oldest waiting connection first.
    pub fn resume_accepting(&mut self, listener: ListenerId) {
        self.state
            .commands
            .push_back(Command::ResumeAccepting { listener });
    }

    /// Stops accepting new connections on `listener`.
    pub fn stop_listening(&mut self, listener: ListenerId) {
        self.state
            .commands
            .push_back(Command::StopListening { listener });
    }

    /// Connects to `to`; the outcome arrives on a later turn as `connection_made` or
    /// `connect_failed`, never inside this call.
    pub fn connect(&mut self, to: HostPort, timeout: Duration) -> ConnId {
        let conn = self.state.new_conn_id();
        self.state.connecting.insert(conn);
        self.state
            .commands
            .push_back(Command::Connect { conn, to, timeout });
        conn
    }

    /// Whether `conn` is a connect still waiting for its answer.
    pub fn is_connecting(&self, conn: ConnId) -> bool {
        self.state.connecting.contains(&conn)
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
        if self.state.connecting.remove(&conn) {
            // Withdraw the connect if the driver has not taken it yet; otherwise ask the
            // driver to drop it.
            let queued = self.state.commands.iter().position(
                |c| matches!(c, Command::Connect { conn: queued, .. } if *queued == conn),
            );
            match queued {
                Some(i) => {
                    self.state.commands.remove(i);
                }
                None => self
                    .state
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
        self.state.transport(conn).map_or(0, |t| t.pending().len())
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
        self.state.commands.push_back(Command::Print {
            stream: Stream::Stdout,
            line: line.into(),
        });
    }

    /// Prints a line on standard error.
    pub fn eprint(&mut self, line: impl Into<String>) {
        self.state.commands.push_back(Command::Print {
            stream: Stream::Stderr,
            line: line.into(),
        });
    }

    /// Ends the program with `code`. Only the first exit counts.
    pub fn exit(&mut self, code: i32) {
        if self.state.exit_code.is_none() {
            self.state.exit_code = Some(code);
            self.state.commands.push_back(Command::Exit { code });
        }
    }

    /// Whether the program has exited.
    pub fn has_exited(&self) -> bool {
        self.state.exit_code.is_some()
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
        &mut self.state.rng
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_set_keeps_ids_once_and_lowest_first() {
        let mut set = ConnSet::default();
        for id in [3, 5, 5, 1, 4, 3, 9] {
            set.insert(ConnId(id));
        }
        set.remove(&ConnId(4));
        set.remove(&ConnId(7));
        let ids: Vec<u64> = set.iter().map(|c| c.0).collect();
        assert_eq!(ids, [1, 3, 5, 9]);
        assert_eq!(set.pop_first(), Some(ConnId(1)));
        assert_eq!(set.pop_first(), Some(ConnId(3)));
    }
}
