//! The one-pass arrival of a [`Host`]: a read delivered and, if that left the host
//! quiet, its answer taken, in one look at the connection
//! ([`Node::deliver_data_and_poll`](super::Node::deliver_data_and_poll)).

use std::collections::VecDeque;

use super::{ConnPoll, Delivered, Host, Node, span_wanted};
use crate::clock::ManualClock;
use crate::host::state::{ConnSet, HostState, StateMut};
use crate::host::{ConnId, HostContext, Program};
use crate::time::Instant;
use crate::transport::TransportState;

impl<P: Program + 'static> Host<P> {
    /// [`Node::deliver_data_and_poll`]: the effects, in order, of `deliver_data`, then
    /// (if that left the host quiet) the driver's `poll_dirty` taking this connection
    /// and a `poll_conn` of it, without the calls between.
    #[inline(always)]
    pub(super) fn deliver_and_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> Delivered {
        if span_wanted() {
            return Delivered::Polled(self.deliver_then_poll(now, conn, data, room, out));
        }
        let HostState {
            book, conns, marks, ..
        } = &mut self.state;
        // The entry, kept at hand across the callback: lent out of the map the
        // callback's context holds. (One kept aside, below the map's window, is
        // delivered to in single steps.)
        let Some((entry, others)) = conns.lend(conn) else {
            return Delivered::Polled(self.deliver_then_poll(now, conn, data, room, out));
        };
        if data.is_empty() || !entry.transport.accepts_data() {
            return Delivered::Polled(ConnPoll::of(&entry.transport));
        }
        // `conn` goes on the dirty set only if the host is not quiet after all (see
        // `take_answer`): no callback can tell. Lent out, it is touched by the call
        // without being flagged `in_call`, listed or put on the dirty set, so that the
        // program's own touches of it skip all three and, after the callback, only its
        // entry is asked for notices; it is flagged and listed only if the callback
        // touched another connection too, or owes a notice (`answer_after_notices`).
        debug_assert!(!entry.in_call, "no callback is running");
        let timers = self.clock.timers_stamp();
        self.clock.set_now(now);
        let cx = &mut HostContext {
            clock: &mut self.clock,
            state: StateMut::lending(book, conn, entry, others, marks),
        };
        self.program.data_received(cx, conn, data);

        if marks.touched_any() || entry.transport.has_notices() {
            // Another connection touched, or a notice owed: the notices first.
            return Delivered::Polled(self.answer_after_notices(now, conn, room, out, timers));
        }
        let timers_unchanged = timers_unchanged(&self.clock, timers);
        let quiet = marks.commands.is_empty() && marks.dirty.is_empty_or_only(conn);
        let taken = take_answer(
            &mut entry.transport,
            &mut marks.dirty,
            quiet,
            conn,
            room,
            out,
        );
        if let Ok(Delivered::Answered(byte)) = taken
            && timers_unchanged
        {
            return Delivered::Answered(byte);
        }
        Delivered::Polled(self.answered(now, conn, taken, timers_unchanged, out))
    }

    /// The poll an answer's [`take_answer`] makes: as taken (a lone byte put in
    /// `out`), or, if the take resumed a producer, after its notices.
    #[inline(always)]
    fn answered(
        &mut self,
        now: Instant,
        conn: ConnId,
        taken: Result<Delivered, usize>,
        timers_unchanged: bool,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        match taken {
            Ok(delivered) => {
                if let Delivered::Answered(byte) = delivered {
                    out.push_back(byte);
                }
                ConnPoll {
                    timers_unchanged,
                    ..delivered.poll()
                }
            }
            Err(moved) => ConnPoll {
                quiet: true,
                timers_unchanged,
                ..self.deliver_drain_notices(now, conn, moved)
            },
        }
    }

    /// The rest of [`deliver_and_answer`](Self::deliver_and_answer) for a callback
    /// that touched another connection or left its own owing a notice: `conn`, touched
    /// by the call, is flagged and joins the touched list, the notices are delivered
    /// (lowest id first, as after any callback), then the answer is taken.
    #[cold]
    #[inline(never)]
    fn answer_after_notices(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
        timers: u64,
    ) -> ConnPoll {
        let state = &mut self.state;
        if let Some(entry) = state.conns.get_mut(conn) {
            entry.in_call = true;
        }
        state.marks.list_in_call(&mut state.book, conn);
        self.deliver_notices();
        let timers_unchanged = timers_unchanged(&self.clock, timers);
        let state = &mut self.state;
        let Some(entry) = state.conns.get_mut(conn) else {
            return ConnPoll {
                ran_program: true,
                timers_unchanged,
                ..ConnPoll::default()
            };
        };
        let marks = &mut state.marks;
        let quiet = marks.commands.is_empty() && marks.dirty.is_empty_or_only(conn);
        let taken = take_answer(
            &mut entry.transport,
            &mut marks.dirty,
            quiet,
            conn,
            room,
            out,
        );
        self.answered(now, conn, taken, timers_unchanged, out)
    }

    /// The same call made of the single steps, for a run whose log lines want the
    /// connection's span (which covers the delivery, not the poll after it), or for a
    /// connection that cannot be lent out of the map (kept aside, or not up).
    #[cold]
    #[inline(never)]
    fn deliver_then_poll(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        let delivered = self.deliver_data(now, conn, data);
        if !delivered.quiet {
            return delivered;
        }
        self.state.marks.dirty.pop_first();
        ConnPoll {
            quiet: true,
            timers_unchanged: delivered.timers_unchanged,
            ..self.poll_conn(now, conn, room, out)
        }
    }
}

/// Whether the clock's known deadline is the one stamped `before`, and was known.
#[inline(always)]
fn timers_unchanged<T>(clock: &ManualClock<T>, before: u64) -> bool {
    before != ManualClock::<T>::UNKNOWN_STAMP && clock.timers_stamp() == before
}

/// After a delivery that ran program code on `t`'s connection and left no notice
/// owed: the poll to return, with `conn` on the dirty set, if the host is not `quiet`
/// (a command issued, or a connection other than `conn` dirty); else `conn` off the
/// dirty set (which holds nothing else) and up to `room` of its pending bytes moved
/// into `out`. `Err(moved)` if moving them left a notice owed (a producer to
/// resume), which the caller delivers. The poll's `timers_unchanged` is for the
/// caller to set: [`Delivered::Answered`] stands for the rest of
/// [`ConnPoll::ANSWERED`], its byte not in `out` yet.
#[inline(always)]
fn take_answer(
    t: &mut TransportState,
    dirty: &mut ConnSet,
    quiet: bool,
    conn: ConnId,
    room: usize,
    out: &mut VecDeque<u8>,
) -> Result<Delivered, usize> {
    if !quiet {
        dirty.insert(conn);
        return Ok(Delivered::Polled(ConnPoll {
            ran_program: true,
            quiet: false,
            ..ConnPoll::of(t)
        }));
    }
    // Quiet: the driver takes the connection now, as if `poll_dirty` had reported it,
    // and polls it as `poll_conn` would.
    dirty.clear_one();
    if let Some(byte) = t.take_lone_byte(room) {
        // Ping-pong's answer: nothing left, no producer to resume.
        if t.reads_on_with_no_close() {
            return Ok(Delivered::Answered(byte));
        }
        out.push_back(byte);
        return Ok(Delivered::Polled(ConnPoll {
            moved: 1,
            left: 0,
            quiet: true,
            ..ConnPoll::flags_of(t)
        }));
    }
    let moved = t.move_pending(room, out);
    if moved > 0 && t.has_notices() {
        return Err(moved);
    }
    Ok(Delivered::Polled(ConnPoll {
        quiet: true,
        ..ConnPoll::of(t).moved(moved)
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use crate::flow::{HIGH_WATER_MARK, ProducerKind};
    use crate::host::{
        ConnId, ConnPoll, ConnectError, Delivered, Host, HostContext, ListenerId, Node, Program,
    };
    use crate::testing::logs::{self, Level, LevelGuard};
    use crate::time::Instant;
    use crate::transport::{CloseAction, Disconnect, ipv4};

    /// What the test program does on each read, besides writing `*` back.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Also {
        Nothing,
        WriteToOther,
        SetTimer,
        Print,
        Close,
        WriteNothing,
        /// Writes past the high-water mark, pausing a push producer on the connection.
        Flood,
        /// Floods the other connection, then this one.
        FloodBoth,
    }

    struct Answering {
        also: Also,
        reads: u32,
        resumed: u32,
        /// The connections told to pause, in order.
        paused: Vec<u64>,
    }

    impl Program for Answering {
        type Timer = ();
        fn start(&mut self, _: &mut HostContext<'_, ()>) {}
        fn connection_made(&mut self, _: &mut HostContext<'_, ()>, _: ConnId) {}
        fn data_received(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId, _: &[u8]) {
            self.reads += 1;
            if self.also != Also::WriteNothing {
                cx.write(conn, b"*");
            }
            match self.also {
                Also::Nothing | Also::WriteNothing => {}
                Also::WriteToOther => cx.write(ConnId(1 - conn.0), b"+"),
                Also::SetTimer => {
                    cx.call_later(Duration::from_secs(1), ());
                }
                Also::Print => cx.print("read"),
                Also::Close => cx.lose_connection(conn),
                Also::Flood => cx.write(conn, &[b'.'; HIGH_WATER_MARK]),
                Also::FloodBoth => {
                    cx.write(ConnId(1 - conn.0), &[b'+'; HIGH_WATER_MARK + 1]);
                    cx.write(conn, &[b'.'; HIGH_WATER_MARK]);
                }
            }
        }
        fn connection_lost(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: Disconnect) {}
        fn connect_failed(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: ConnectError) {}
        fn resume_producing(&mut self, _: &mut HostContext<'_, ()>, _: ConnId) {
            self.resumed += 1;
        }
        fn pause_producing(&mut self, _: &mut HostContext<'_, ()>, conn: ConnId) {
            self.paused.push(conn.0);
        }
    }

    /// A started host with two accepted connections, c0 and c1, nothing dirty.
    fn host(also: Also) -> Host<Answering> {
        let mut host = Host::new(Answering {
            also,
            reads: 0,
            resumed: 0,
            paused: Vec::new(),
        });
        let now = Instant::ZERO;
        host.start(now);
        let (local, peer) = (ipv4(10, 0, 0, 1, 80), ipv4(10, 0, 0, 2, 5000));
        host.handle_accepted(now, ListenerId(0), local, peer);
        host.handle_accepted(now, ListenerId(0), local, peer);
        while host.poll_dirty().is_some() {}
        // The deadline is known (nothing pending), as after a driver's look.
        assert_eq!(host.poll_timeout(), None);
        host
    }

    /// [`host`], with a push producer registered on both connections.
    fn host_with_producers(also: Also) -> Host<Answering> {
        let mut host = host(also);
        host.call(Instant::ZERO, |_, cx| {
            for conn in [ConnId(0), ConnId(1)] {
                cx.register_producer(conn, ProducerKind::Push).unwrap();
            }
        });
        while host.poll_dirty().is_some() {}
        host
    }

    /// Marks this thread as capturing its logs, as SimNet does: no span is wanted, so
    /// `deliver_data_and_poll` takes its one-pass path whatever other tests log.
    fn one_pass() -> LevelGuard {
        let guard = logs::level(Level::INFO);
        assert!(!super::span_wanted());
        guard
    }

    fn dirty(host: &mut Host<Answering>) -> Vec<ConnId> {
        std::iter::from_fn(|| host.poll_dirty()).collect()
    }

    #[test]
    fn a_read_answered_on_its_own_connection_alone_is_quiet_and_takes_the_answer() {
        let _one_pass = one_pass();
        let mut host = host(Also::Nothing);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        assert!(poll.quiet && poll.timers_unchanged);
        assert_eq!((poll.moved, poll.left, poll.close), (1, 0, None));
        assert!(poll.accepts_data && !poll.reading_paused && !poll.ran_program);
        assert_eq!(out, [b'*']);
        assert_eq!(dirty(&mut host), [], "the driver has taken the connection");
        assert_eq!(host.pending(ConnId(0)), b"");
    }

    #[test]
    fn the_common_answer_comes_back_in_one_word_with_its_byte_not_in_the_buffer() {
        let _one_pass = one_pass();
        let mut host = host(Also::Nothing);
        let mut out = VecDeque::new();
        let got = host.deliver_data_and_answer(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        assert_eq!(got, Delivered::Answered(b'*'));
        assert_eq!(got.poll(), ConnPoll::ANSWERED);
        assert!(out.is_empty(), "the driver appends the byte itself");
        assert_eq!(dirty(&mut host), []);
        assert_eq!(host.pending(ConnId(0)), b"");
        // Anything else is the full poll, as `deliver_data_and_poll` gives it.
        let mut host = self::host(Also::Nothing);
        let got = host.deliver_data_and_answer(Instant::ZERO, ConnId(0), b"x", 0, &mut out);
        let Delivered::Polled(poll) = got else {
            panic!("no room, yet {got:?}");
        };
        assert_eq!((poll.quiet, poll.moved, poll.left), (true, 0, 1));
        assert_eq!(host.pending(ConnId(0)), b"*");
    }

    #[test]
    fn a_quiet_answer_moves_no_more_than_the_room() {
        let _one_pass = one_pass();
        let mut host = host(Also::Nothing);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 0, &mut out);
        assert!(poll.quiet);
        assert_eq!((poll.moved, poll.left), (0, 1));
        assert!(out.is_empty());
        assert_eq!(host.pending(ConnId(0)), b"*");
    }

    #[test]
    fn a_read_that_writes_nothing_is_quiet_and_leaves_nothing_dirty() {
        let _one_pass = one_pass();
        let mut host = host(Also::WriteNothing);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        assert!(poll.quiet);
        assert_eq!((poll.moved, poll.left), (0, 0));
        assert_eq!(host.program().reads, 1);
        assert_eq!(dirty(&mut host), []);
    }

    #[test]
    fn a_read_that_writes_to_another_connection_is_not_quiet_and_moves_nothing() {
        let _one_pass = one_pass();
        let mut host = host(Also::WriteToOther);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(1), b"x", 10, &mut out);
        assert!(!poll.quiet && poll.ran_program);
        assert_eq!((poll.moved, poll.left), (0, 1));
        assert!(out.is_empty());
        assert_eq!(dirty(&mut host), [ConnId(0), ConnId(1)]);
        assert_eq!(host.pending(ConnId(0)), b"+");
    }

    #[test]
    fn a_read_while_another_connection_is_dirty_is_not_quiet() {
        let _one_pass = one_pass();
        let mut host = host(Also::Nothing);
        // c1 written to by a call the driver has not looked at yet.
        host.call(Instant::ZERO, |_, cx| cx.write(ConnId(1), b"+"));
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        assert!(!poll.quiet && poll.ran_program);
        assert!(out.is_empty());
        assert_eq!(dirty(&mut host), [ConnId(0), ConnId(1)]);
    }

    #[test]
    fn a_read_that_issues_a_command_is_not_quiet_and_leaves_its_connection_dirty() {
        let _one_pass = one_pass();
        let mut host = host(Also::Print);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        assert!(!poll.quiet && poll.ran_program);
        assert_eq!((poll.moved, poll.left), (0, 1));
        assert!(host.poll_command().is_some());
        assert_eq!(dirty(&mut host), [ConnId(0)]);
    }

    #[test]
    fn a_read_that_sets_a_timer_says_the_timers_changed() {
        let _one_pass = one_pass();
        let mut host = host(Also::SetTimer);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        // Timers are not `quiet`'s business (see `ConnPoll::quiet`): the driver looks
        // at them by `timers_unchanged`.
        assert!(!poll.timers_unchanged);
        assert_eq!(
            host.poll_timeout(),
            Some(Instant::from_nanos(1_000_000_000))
        );
    }

    #[test]
    fn a_read_that_closes_takes_the_answer_and_reports_the_close() {
        let _one_pass = one_pass();
        let mut host = host(Also::Close);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        assert!(poll.quiet);
        assert_eq!(poll.moved, 1);
        assert_eq!(poll.close, Some(CloseAction::Close));
        assert!(!poll.accepts_data);
        // Later reads are dropped without running the program.
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"y", 10, &mut out);
        assert!(!poll.quiet && !poll.ran_program);
        assert_eq!(host.program().reads, 1);
    }

    #[test]
    fn an_answer_that_drains_a_producer_resumes_it_within_the_call() {
        let _one_pass = one_pass();
        let mut host = host(Also::Nothing);
        let now = Instant::ZERO;
        let mut out = VecDeque::new();
        host.call(now, |_, cx| {
            cx.register_producer(ConnId(0), ProducerKind::Pull).unwrap();
        });
        assert_eq!(host.program().resumed, 1);
        while host.poll_dirty().is_some() {}
        let poll = host.deliver_data_and_poll(now, ConnId(0), b"x", 10, &mut out);
        assert!(poll.quiet && poll.ran_program);
        assert_eq!(poll.moved, 1);
        assert_eq!(host.program().resumed, 2, "the drained queue resumed it");
    }

    #[test]
    fn a_read_that_pauses_its_own_producer_hears_it_within_the_call() {
        let _one_pass = one_pass();
        let mut host = host_with_producers(Also::Flood);
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(1), b"x", 10, &mut out);
        assert_eq!(host.program().paused, [1]);
        // Quiet: the poll is the answer's, which ran no program code.
        assert!(poll.quiet && !poll.ran_program);
        assert_eq!((poll.moved, poll.left), (10, HIGH_WATER_MARK + 1 - 10));
        assert_eq!(dirty(&mut host), []);
    }

    #[test]
    fn a_read_that_pauses_two_producers_tells_the_lowest_id_first() {
        let _one_pass = one_pass();
        let mut host = host_with_producers(Also::FloodBoth);
        let mut out = VecDeque::new();
        // Read on c1, which floods c0 first and then itself.
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(1), b"x", 10, &mut out);
        assert_eq!(host.program().paused, [0, 1]);
        assert!(!poll.quiet && poll.ran_program);
        assert!(out.is_empty());
        assert_eq!(dirty(&mut host), [ConnId(0), ConnId(1)]);
        // Nothing is left flagged as touched: the next read on c0 pauses nothing anew
        // and is answered alone.
        let poll = host.deliver_data_and_poll(Instant::ZERO, ConnId(0), b"x", 10, &mut out);
        assert_eq!(host.program().paused, [0, 1]);
        assert!(!poll.quiet, "it wrote to c1 too");
    }

    #[test]
    fn a_read_on_a_connection_kept_aside_is_answered_as_in_one_pass() {
        let _one_pass = one_pass();
        let mut host = host(Also::Nothing);
        let now = Instant::ZERO;
        // Many connections made after c0 and c1 and all but the newest ended: the map
        // keeps c0 and c1 aside, below its window, where none is lent out.
        let (local, peer) = (ipv4(10, 0, 0, 1, 80), ipv4(10, 0, 0, 2, 5000));
        let later: Vec<ConnId> = (0..200)
            .map(|_| host.handle_accepted(now, ListenerId(0), local, peer))
            .collect();
        for &conn in &later[..199] {
            host.handle_closed(now, conn, Disconnect::Reset);
        }
        while host.poll_dirty().is_some() {}
        assert!(host.state.conns.get(ConnId(0)).is_some());
        assert!(host.state.conns.lend(ConnId(0)).is_none(), "kept aside");
        let mut out = VecDeque::new();
        let poll = host.deliver_data_and_poll(now, ConnId(0), b"x", 10, &mut out);
        assert!(poll.quiet && !poll.ran_program);
        assert_eq!((poll.moved, poll.left), (1, 0));
        assert_eq!(out, [b'*']);
        assert_eq!(dirty(&mut host), []);
        assert_eq!(host.program().reads, 1);
        // Not up: nothing delivered.
        let poll = host.deliver_data_and_poll(now, later[0], b"x", 10, &mut out);
        assert_eq!(poll, ConnPoll::default());
        assert_eq!(host.program().reads, 1);
    }

    /// The one-pass call against the steps it stands for, for every kind of read.
    #[test]
    fn the_one_pass_read_leaves_the_host_as_the_single_calls_do() {
        let _one_pass = one_pass();
        compare_with_the_single_calls();
    }

    /// The same with a debug-level subscriber and no capture, where the connection's
    /// span is wanted and the call is made of the single steps.
    #[test]
    fn the_read_in_a_span_leaves_the_host_as_the_single_calls_do() {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::DEBUG)
            .with_writer(std::io::sink)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            assert!(super::span_wanted());
            compare_with_the_single_calls();
        });
    }

    fn compare_with_the_single_calls() {
        let kinds = [
            Also::Nothing,
            Also::WriteNothing,
            Also::WriteToOther,
            Also::SetTimer,
            Also::Print,
            Also::Close,
            Also::Flood,
            Also::FloodBoth,
        ];
        let hosts: [fn(Also) -> Host<Answering>; 2] = [host, host_with_producers];
        for (also, make) in kinds.into_iter().flat_map(|a| hosts.map(|h| (a, h))) {
            let (mut fused, mut steps) = (make(also), make(also));
            let now = Instant::ZERO;
            for (i, room) in [(0u64, 10), (1, 0), (0, 10), (1, 10)] {
                let conn = ConnId(i);
                let (mut a, mut b) = (VecDeque::new(), VecDeque::new());
                let got = fused.deliver_data_and_poll(now, conn, b"x", room, &mut a);
                let delivered = steps.deliver_data(now, conn, b"x");
                let want = if delivered.quiet {
                    assert_eq!(steps.poll_dirty(), Some(conn));
                    ConnPoll {
                        quiet: true,
                        timers_unchanged: delivered.timers_unchanged,
                        ..steps.poll_conn(now, conn, room, &mut b)
                    }
                } else {
                    delivered
                };
                assert_eq!(got, want, "{also:?}, read on {conn}");
                assert_eq!(a, b);
                assert_eq!(dirty(&mut fused), dirty(&mut steps), "{also:?}");
                let commands = |h: &mut Host<Answering>| -> Vec<_> {
                    std::iter::from_fn(|| h.poll_command()).collect()
                };
                assert_eq!(commands(&mut fused), commands(&mut steps));
                assert_eq!(fused.poll_timeout(), steps.poll_timeout());
                for c in [ConnId(0), ConnId(1)] {
                    assert_eq!(fused.pending(c), steps.pending(c));
                }
                assert_eq!(fused.program().paused, steps.program().paused);
                assert_eq!(fused.program().resumed, steps.program().resumed);
            }
        }
    }
}
