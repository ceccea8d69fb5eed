//! [`Host`]: the sans-IO core that runs one program for any driver.

use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;

use super::state::HostState;
use super::{
    Command, ConnId, ConnectError, HostContext, HostRng, ListenError, ListenerId, Program,
};
use crate::clock::ManualClock;
use crate::flow::Notice;
use crate::time::Instant;
use crate::transport::{CloseAction, Disconnect, TransportState};

mod answer;
#[cfg(test)]
mod layout_tests;

/// What a driver needs from a host, without knowing its program's type (so one network
/// can hold hosts running different programs).
///
/// The contract, quinn-style: `handle_*` feed events in; after each, the driver polls
/// [`poll_command`](Self::poll_command) and [`poll_dirty`](Self::poll_dirty) until they
/// are empty, moves bytes with [`pending`](Self::pending)/[`consume`](Self::consume),
/// carries out [`close_action`](Self::close_action)s, and sleeps until
/// [`poll_timeout`](Self::poll_timeout). Every `handle_*` takes the current time, which
/// never goes backwards.
///
/// A connection's [`reading_paused`](Self::reading_paused) and
/// [`accepts_data`](Self::accepts_data) change only during a call about that connection
/// or in a call after which [`poll_dirty`](Self::poll_dirty) reports it, so a driver may
/// keep what a [`poll_conn`](Self::poll_conn) or [`deliver_data`](Self::deliver_data)
/// told it until then.
///
/// `Node: Any`, so a driver's caller can look inside: `(node as &dyn Any)
/// .downcast_ref::<Host<MyProgram>>()`.
pub trait Node: Any {
    /// Replaces the random source the program draws from ([`HostContext::rng`]).
    /// Drivers call it before [`start`](Self::start): SimNet with a stream of the run's
    /// seed for each host; a host nobody seeds uses [`HostRng::default`].
    fn set_rng(&mut self, rng: HostRng);
    /// Starts the program. Call once, first.
    fn start(&mut self, now: Instant);
    /// The exit status, once the program has exited.
    fn exit_code(&self) -> Option<i32>;
    /// The next command (listen, connect, print, exit).
    fn poll_command(&mut self) -> Option<Command>;
    /// The next connection touched since the last poll: check its bytes and closes.
    fn poll_dirty(&mut self) -> Option<ConnId>;
    /// The earliest timer deadline.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// Fires every timer due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// Bytes `conn`'s program has written and the network has not taken yet.
    fn pending(&self, conn: ConnId) -> &[u8];
    /// The network took the first `n` pending bytes of `conn`.
    fn consume(&mut self, now: Instant, conn: ConnId, n: usize);
    /// The close `conn` is ready for, if any.
    fn close_action(&self, conn: ConnId) -> Option<CloseAction>;
    /// End-of-stream has been sent on `conn` (after [`CloseAction::ShutdownWrite`]).
    fn write_shut_down(&mut self, conn: ConnId);
    /// Whether `conn`'s program has paused its incoming data; hold it in the network.
    fn reading_paused(&self, conn: ConnId) -> bool;
    /// Whether data for `conn` still reaches its program (false once it asked to close:
    /// later bytes are dropped).
    fn accepts_data(&self, conn: ConnId) -> bool;
    /// The connections that are up, in id order.
    fn connections(&self) -> Vec<ConnId>;
    /// One look at `conn` for a driver: moves up to `room` of its pending bytes to the
    /// end of `out` (as [`pending`](Self::pending) then [`consume`](Self::consume)),
    /// and reports what the driver needs to know after that. With `room` 0 it moves
    /// nothing and runs no program code.
    ///
    /// The default is made of the single calls; [`Host`] answers with one lookup.
    fn poll_conn(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        let pending = self.pending(conn);
        let moved = room.min(pending.len());
        out.extend(&pending[..moved]);
        if moved > 0 {
            self.consume(now, conn, moved);
        }
        // `consume` may have resumed a producer.
        asked_one_by_one(self, conn, moved, moved > 0)
    }
    /// [`handle_data`](Self::handle_data), then what a [`poll_conn`](Self::poll_conn)
    /// with `room` 0 would say: one call per read for a driver that delivers many.
    ///
    /// The default is made of the single calls; [`Host`] answers with one lookup.
    fn deliver_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) -> ConnPoll {
        self.handle_data(now, conn, data);
        asked_one_by_one(self, conn, 0, true)
    }
    /// [`deliver_data`](Self::deliver_data), and, if that left the host
    /// [`quiet`](ConnPoll::quiet), the answer taken at once: the connection's dirty mark
    /// (the driver needs no [`poll_dirty`](Self::poll_dirty) for it) and up to `room`
    /// of its pending bytes, as a [`poll_conn`](Self::poll_conn) right after the
    /// delivery would take them. The poll returned is then that `poll_conn`'s, with
    /// `quiet` set; otherwise it is the delivery's, `quiet` clear, nothing moved.
    ///
    /// One call per exchange for a driver whose reads are answered by writes. The
    /// default never answers (a node that wraps another keeps working unchanged);
    /// [`Host`] does.
    fn deliver_data_and_poll(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        let _ = (room, out);
        ConnPoll {
            quiet: false,
            ..self.deliver_data(now, conn, data)
        }
    }
    /// [`deliver_data_and_poll`](Self::deliver_data_and_poll), with its commonest
    /// outcome told in one word: [`Delivered::Answered`] stands for the poll
    /// [`ConnPoll::ANSWERED`] (the program's answer taken, nothing else to look at), so
    /// that neither side builds and reads the poll's fields for it, and carries the
    /// answer's one byte, which the driver appends to `out` itself (or, with `out`
    /// empty, may put on its wire at once).
    ///
    /// The default wraps [`deliver_data_and_poll`](Self::deliver_data_and_poll).
    fn deliver_data_and_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> Delivered {
        Delivered::Polled(self.deliver_data_and_poll(now, conn, data, room, out))
    }
    /// A listener is accepting on `addr`.
    fn handle_listening(&mut self, now: Instant, listener: ListenerId, addr: SocketAddr);
    /// A listen failed.
    fn handle_listen_failed(&mut self, now: Instant, listener: ListenerId, error: ListenError);
    /// A listener accepted a connection; returns its new id.
    fn handle_accepted(
        &mut self,
        now: Instant,
        listener: ListenerId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> ConnId;
    /// A connect succeeded. Returns false if the program had cancelled it meanwhile:
    /// the driver should then reset the new connection.
    fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> bool;
    /// A connect failed.
    fn handle_connect_failed(&mut self, now: Instant, conn: ConnId, error: ConnectError);
    /// Bytes arrived on `conn`. Dropped if the program has asked to close it.
    fn handle_data(&mut self, now: Instant, conn: ConnId, data: &[u8]);
    /// The peer half-closed `conn`.
    fn handle_read_closed(&mut self, now: Instant, conn: ConnId);
    /// `conn` ended: after the driver carried out its close action, or on a reset or
    /// timeout from the network. Delivers `connection_lost` once.
    fn handle_closed(&mut self, now: Instant, conn: ConnId, reason: Disconnect);
}

/// The state of `conn` as the single calls report it: what the default
/// [`Node::poll_conn`] and [`Node::deliver_data`] return.
fn asked_one_by_one<N: Node + ?Sized>(
    node: &N,
    conn: ConnId,
    moved: usize,
    ran_program: bool,
) -> ConnPoll {
    ConnPoll {
        moved,
        left: node.pending(conn).len(),
        close: node.close_action(conn),
        reading_paused: node.reading_paused(conn),
        accepts_data: node.accepts_data(conn),
        ran_program,
        quiet: false,
        timers_unchanged: false,
    }
}

/// What [`Node::poll_conn`] found: the bytes it moved, and the connection's state
/// after moving them.
///
/// ```
/// use std::collections::VecDeque;
/// use weft::host::{ConnPoll, Node};
/// use weft::time::Instant;
///
/// // A driver's loop: take what fits, then act on the close (if any).
/// fn drain(node: &mut dyn Node, conn: weft::host::ConnId, buffer: &mut VecDeque<u8>) -> ConnPoll {
///     loop {
///         let room = 4096 - buffer.len().min(4096);
///         let poll = node.poll_conn(Instant::ZERO, conn, room, buffer);
///         if poll.moved == 0 {
///             return poll;
///         }
///         buffer.clear(); // "sent"
///     }
/// }
/// # let _ = drain;
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ConnPoll {
    /// Pending bytes moved to the driver's buffer by this poll.
    pub moved: usize,
    /// Pending bytes left behind (the room ran out).
    pub left: usize,
    /// The close the connection is ready for ([`Node::close_action`]).
    pub close: Option<CloseAction>,
    /// Its program has paused incoming data ([`Node::reading_paused`]).
    pub reading_paused: bool,
    /// Incoming data still reaches its program ([`Node::accepts_data`]).
    pub accepts_data: bool,
    /// The call ran program code (a producer that draining resumed, or the protocol
    /// the data was delivered to), which may have issued commands, touched other
    /// connections or set timers: the driver looks at the host again.
    pub ran_program: bool,
    /// The delivery left nothing for the driver but this connection: its program
    /// issued no command and touched no other connection, and this one is the only
    /// one [`poll_dirty`](Node::poll_dirty) would report. Only
    /// [`deliver_data`](Node::deliver_data) and
    /// [`deliver_data_and_poll`](Node::deliver_data_and_poll) of a [`Host`] set it;
    /// false means "look at the host", always safe. (Timers are not covered: the
    /// driver looks at them by `timers_unchanged`.)
    pub quiet: bool,
    /// The delivery scheduled, moved and cancelled no timer (so
    /// [`poll_timeout`](Node::poll_timeout) would say what it said last). Set by the
    /// same calls as `quiet`; false means "ask again", always safe.
    pub timers_unchanged: bool,
}

/// What [`Node::deliver_data_and_answer`] found: the common answer, or any poll.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Delivered {
    /// The poll [`ConnPoll::ANSWERED`]: the delivery left the host quiet, changed no
    /// timer and ran no more program code, its answer, this one byte, is all that was
    /// pending, and the connection reads on. The byte is moved out of the host but
    /// not into the driver's buffer: the driver appends it there (a byte handed over
    /// in a register rather than through the buffer's growth and wrap checks).
    Answered(u8),
    /// Any poll (possibly [`ConnPoll::ANSWERED`] too).
    Polled(ConnPoll),
}

// The accessors take `&self`: a driver reads the fields it needs where the call left
// them, and for the common answer none at all.
impl Delivered {
    /// The poll this stands for.
    #[inline(always)]
    pub fn poll(&self) -> ConnPoll {
        match self {
            Self::Answered(_) => ConnPoll::ANSWERED,
            Self::Polled(poll) => *poll,
        }
    }

    /// The poll's [`quiet`](ConnPoll::quiet).
    #[inline(always)]
    pub fn quiet(&self) -> bool {
        match self {
            Self::Answered(_) => true,
            Self::Polled(poll) => poll.quiet,
        }
    }

    /// The poll's [`timers_unchanged`](ConnPoll::timers_unchanged).
    #[inline(always)]
    pub fn timers_unchanged(&self) -> bool {
        match self {
            Self::Answered(_) => true,
            Self::Polled(poll) => poll.timers_unchanged,
        }
    }

    /// The poll's [`ran_program`](ConnPoll::ran_program).
    #[inline(always)]
    pub fn ran_program(&self) -> bool {
        match self {
            Self::Answered(_) => false,
            Self::Polled(poll) => poll.ran_program,
        }
    }
}

/// A program with its clock and connections: the part of a host that every driver
/// shares. Drivers use it through [`Node`].
// The state's hot fields come last and the clock's first (`repr(C)` keeps this order),
// so that what every event reads of a host shares two cache lines, which start where
// a line does (the alignment, and `HostState`'s padding).
#[repr(C, align(64))]
pub struct Host<P: Program> {
    state: HostState,
    clock: ManualClock<P::Timer>,
    program: P,
}

impl<P: Program> Host<P> {
    /// A host that will run `program` once started.
    pub fn new(program: P) -> Self {
        Self {
            program,
            clock: ManualClock::new(),
            state: HostState::default(),
        }
    }

    /// A host whose program draws from `rng` instead of [`HostRng::default`].
    pub fn with_rng(program: P, rng: HostRng) -> Self {
        let mut host = Self::new(program);
        *host.state.book.rng = rng;
        host
    }

    /// The program, to inspect its state in tests.
    pub fn program(&self) -> &P {
        &self.program
    }

    /// The program, mutably.
    pub fn program_mut(&mut self) -> &mut P {
        &mut self.program
    }

    /// The host's clock (its pending timers are the program's).
    pub fn clock(&self) -> &ManualClock<P::Timer> {
        &self.clock
    }

    /// Runs one program callback at `now`, then every producer notice it caused.
    #[inline]
    fn call(&mut self, now: Instant, f: impl FnOnce(&mut P, &mut HostContext<'_, P::Timer>)) {
        self.clock.set_now(now);
        let cx = &mut HostContext {
            clock: &mut self.clock,
            state: self.state.as_mut(),
        };
        f(&mut self.program, cx);
        if self.state.settled_without_notices() {
            return;
        }
        self.deliver_notices();
    }

    /// Delivers the producer notices the callback just run left on the connections
    /// it touched, lowest id first, each of which may leave more.
    #[inline(never)]
    fn deliver_notices(&mut self) {
        while let Some((conn, notice)) = self.state.next_notice() {
            let cx = &mut HostContext {
                clock: &mut self.clock,
                state: self.state.as_mut(),
            };
            match notice {
                Notice::PauseProducing => self.program.pause_producing(cx, conn),
                Notice::ResumeProducing => self.program.resume_producing(cx, conn),
                Notice::StopProducing => self.program.stop_producing(cx, conn),
            }
        }
    }

    fn open(&mut self, now: Instant, conn: ConnId, local: SocketAddr, peer: SocketAddr) {
        self.state.open(conn, TransportState::new(local, peer));
        let _span = conn_span(conn);
        self.call(now, |p, cx| p.connection_made(cx, conn));
    }

    /// Draining `conn` left it owing its program a notice (a producer to resume): it
    /// runs now, and may write more. Returns the state after that, as a poll that
    /// moved `moved` bytes.
    #[cold]
    #[inline(never)]
    fn deliver_drain_notices(&mut self, now: Instant, conn: ConnId, moved: usize) -> ConnPoll {
        self.state.touch(conn);
        self.call(now, |_, _| {});
        let Some(t) = self.state.transport(conn) else {
            return ConnPoll::default().moved(moved);
        };
        ConnPoll {
            ran_program: true,
            ..ConnPoll::of(t).moved(moved)
        }
    }
}

impl<P: Program + 'static> Node for Host<P> {
    fn set_rng(&mut self, rng: HostRng) {
        *self.state.book.rng = rng;
    }

    fn start(&mut self, now: Instant) {
        self.call(now, |p, cx| p.start(cx));
    }

    fn exit_code(&self) -> Option<i32> {
        self.state.book.exit_code
    }

    fn poll_command(&mut self) -> Option<Command> {
        self.state.marks.commands.pop_front()
    }

    fn poll_dirty(&mut self) -> Option<ConnId> {
        self.state.pop_dirty()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.clock.next_deadline()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.clock.set_now(now);
        while let Some((_, timer)) = self.clock.pop_due() {
            self.call(now, |p, cx| p.timer_fired(cx, timer));
        }
    }

    fn pending(&self, conn: ConnId) -> &[u8] {
        self.state.transport(conn).map_or(&[], |t| t.pending())
    }

    fn consume(&mut self, now: Instant, conn: ConnId, n: usize) {
        if let Some(t) = self.state.transport_mut(conn) {
            t.consume(n);
            if t.has_notices() {
                self.state.touch(conn);
                self.call(now, |_, _| {});
            }
        }
    }

    fn close_action(&self, conn: ConnId) -> Option<CloseAction> {
        self.state.transport(conn)?.close_action()
    }

    fn write_shut_down(&mut self, conn: ConnId) {
        if let Some(t) = self.state.transport_mut(conn) {
            t.write_shut_down();
        }
    }

    fn reading_paused(&self, conn: ConnId) -> bool {
        self.state
            .transport(conn)
            .is_some_and(TransportState::reading_paused)
    }

    fn accepts_data(&self, conn: ConnId) -> bool {
        self.state
            .transport(conn)
            .is_some_and(TransportState::accepts_data)
    }

    fn connections(&self) -> Vec<ConnId> {
        self.state.conns.keys().collect()
    }

    fn poll_conn(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        let Some(t) = self.state.transport_mut(conn) else {
            return ConnPoll::default();
        };
        let moved = t.move_pending(room, out);
        if moved == 0 {
            return ConnPoll::of(t);
        }
        if t.has_notices() {
            return self.deliver_drain_notices(now, conn, moved);
        }
        ConnPoll::of(t).moved(moved)
    }

    fn deliver_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) -> ConnPoll {
        if data.is_empty() || !self.state.mark_dirty_if(conn, TransportState::accepts_data) {
            return (self.state.transport(conn)).map_or_else(ConnPoll::default, ConnPoll::of);
        }
        let _span = conn_span(conn);
        let timers = self.clock.timers_stamp();
        self.call(now, |p, cx| p.data_received(cx, conn, data));
        let poll = (self.state.transport(conn)).map_or_else(ConnPoll::default, ConnPoll::of);
        ConnPoll {
            ran_program: true,
            quiet: self.state.marks.commands.is_empty() && self.state.marks.dirty.is_only(conn),
            timers_unchanged: timers != ManualClock::<P::Timer>::UNKNOWN_STAMP
                && self.clock.timers_stamp() == timers,
            ..poll
        }
    }

    fn deliver_data_and_poll(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        let delivered = self.deliver_data_and_answer(now, conn, data, room, out);
        if let Delivered::Answered(byte) = delivered {
            out.push_back(byte);
        }
        delivered.poll()
    }

    fn deliver_data_and_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> Delivered {
        self.deliver_and_answer(now, conn, data, room, out)
    }

    fn handle_listening(&mut self, now: Instant, listener: ListenerId, addr: SocketAddr) {
        self.call(now, |p, cx| p.listening(cx, listener, addr));
    }

    fn handle_listen_failed(&mut self, now: Instant, listener: ListenerId, error: ListenError) {
        self.call(now, |p, cx| p.listen_failed(cx, listener, error));
    }

    fn handle_accepted(
        &mut self,
        now: Instant,
        _listener: ListenerId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> ConnId {
        let conn = self.state.book.new_conn_id();
        self.open(now, conn, local, peer);
        conn
    }

    fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> bool {
        if !self.state.book.connecting.remove(&conn) {
            return false;
        }
        self.open(now, conn, local, peer);
        true
    }

    fn handle_connect_failed(&mut self, now: Instant, conn: ConnId, error: ConnectError) {
        if self.state.book.connecting.remove(&conn) {
            let _span = conn_span(conn);
            self.call(now, |p, cx| p.connect_failed(cx, conn, error));
        }
    }

    fn handle_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        if !data.is_empty() && self.state.mark_dirty_if(conn, TransportState::accepts_data) {
            let _span = conn_span(conn);
            self.call(now, |p, cx| p.data_received(cx, conn, data));
        }
    }

    fn handle_read_closed(&mut self, now: Instant, conn: ConnId) {
        if self.state.mark_dirty_if(conn, TransportState::accepts_data) {
            let _span = conn_span(conn);
            self.call(now, |p, cx| p.read_connection_lost(cx, conn));
        }
    }

    fn handle_closed(&mut self, now: Instant, conn: ConnId, reason: Disconnect) {
        let Some(transport) = self.state.transport_mut(conn) else {
            return;
        };
        if transport.close() {
            // A registered producer hears stop_producing before connection_lost.
            self.state.touch(conn);
            let _span = conn_span(conn);
            self.call(now, |_, _| {});
            self.call(now, |p, cx| p.connection_lost(cx, conn, reason));
        }
        self.state.remove(conn);
    }
}

/// The tracing span a connection's callbacks run in, so their log lines say which
/// connection they are about (at debug level: spans cost, and simulations make many;
/// none while SimNet captures the logs, whose subscriber ignores spans).
#[inline(always)]
fn conn_span(conn: ConnId) -> Option<tracing::span::EnteredSpan> {
    if !span_wanted() {
        return None;
    }
    enter_conn_span(conn)
}

/// Whether [`conn_span`] makes a span: the global level admits debug (one load and a
/// comparison; below it the span would be disabled anyway) and this thread's logs are
/// not being captured.
#[inline(always)]
fn span_wanted() -> bool {
    !crate::testing::logs::capturing()
        && tracing::Level::DEBUG <= tracing::level_filters::LevelFilter::current()
}

/// The span itself, made out of line: the check above is all a captured run pays.
#[inline(never)]
fn enter_conn_span(conn: ConnId) -> Option<tracing::span::EnteredSpan> {
    Some(tracing::debug_span!("conn", id = %conn).entered())
}

impl ConnPoll {
    /// The commonest poll of a delivery ([`Delivered::Answered`]): quiet, the timers
    /// unchanged, no more program code run, one byte moved and none left, no close
    /// due, and the connection reading on.
    pub const ANSWERED: Self = Self {
        moved: 1,
        left: 0,
        close: None,
        reading_paused: false,
        accepts_data: true,
        ran_program: false,
        quiet: true,
        timers_unchanged: true,
    };

    /// The state of `t`, for a poll that moved nothing.
    #[inline(always)]
    fn of(t: &TransportState) -> Self {
        Self {
            left: t.pending_len(),
            ..Self::flags_of(t)
        }
    }

    /// The state of `t` but for its pending bytes, for a poll that moved nothing and
    /// left nothing.
    #[inline(always)]
    fn flags_of(t: &TransportState) -> Self {
        Self {
            moved: 0,
            left: 0,
            close: t.close_action(),
            reading_paused: t.reading_paused(),
            accepts_data: t.accepts_data(),
            ran_program: false,
            quiet: false,
            timers_unchanged: false,
        }
    }

    /// This state, as the outcome of a poll that moved `moved` bytes.
    #[inline]
    fn moved(self, moved: usize) -> Self {
        Self { moved, ..self }
    }
}
