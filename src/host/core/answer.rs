//! The one-pass arrival of a [`Host`]: a read delivered and, if that left the host
//! quiet, its answer taken, in one look at the connection
//! ([`Node::deliver_data_and_poll`](super::Node::deliver_data_and_poll)).

use std::collections::VecDeque;

use super::{ConnPoll, Host, Node, extend, span_wanted};
use crate::clock::ManualClock;
use crate::host::state::ConnSet;
use crate::host::{ConnId, HostContext, Program};
use crate::time::Instant;
use crate::transport::TransportState;

impl<P: Program + 'static> Host<P> {
    /// [`Node::deliver_data_and_poll`]: the effects, in order, of `deliver_data`, then
    /// (if that left the host quiet) the driver's `poll_dirty` taking this connection
    /// and a `poll_conn` of it, without the calls between.
    #[inline]
    pub(super) fn deliver_and_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        if span_wanted() {
            return self.deliver_then_poll(now, conn, data, room, out);
        }
        let Some(entry) = self.state.conns.get(conn) else {
            return ConnPoll::default();
        };
        if data.is_empty() || !entry.transport.accepts_data() {
            return ConnPoll::of(&entry.transport);
        }
        // `conn` goes on the dirty set only if the host is not quiet after all (see
        // `take_answer`): no callback can tell.
        let timers = self.clock.known_deadline();
        self.clock.set_now(now);
        let cx = &mut HostContext {
            clock: &mut self.clock,
            state: &mut self.state,
        };
        self.program.data_received(cx, conn, data);

        // The callback's producer notices. Most often it touched this connection
        // alone, which owes none: that is checked on the entry the answer needs.
        let touched = &self.state.in_call;
        if touched.first.is_some_and(|first| first != conn) || !touched.more.is_empty() {
            self.deliver_notices();
        }
        let state = &mut self.state;
        let Some(entry) = state.conns.get_mut(conn) else {
            // A callback cannot remove a connection; this only keeps the types honest.
            return ConnPoll {
                ran_program: true,
                timers_unchanged: timers_unchanged(&self.clock, timers),
                ..ConnPoll::default()
            };
        };
        if state.in_call.first.is_some() {
            // This connection, touched alone.
            if entry.transport.has_notices() {
                return self.answer_after_notices(now, conn, room, out, timers);
            }
            entry.in_call = false;
            state.in_call.first = None;
        }
        let timers_unchanged = timers_unchanged(&self.clock, timers);
        let quiet = state.commands.is_empty();
        match take_answer(
            &mut entry.transport,
            &mut state.dirty,
            quiet,
            conn,
            room,
            out,
        ) {
            Ok(poll) => ConnPoll {
                timers_unchanged,
                ..poll
            },
            Err(moved) => ConnPoll {
                quiet: true,
                timers_unchanged,
                ..self.deliver_drain_notices(now, conn, moved)
            },
        }
    }

    /// The rest of [`deliver_and_answer`](Self::deliver_and_answer) for a callback
    /// that left its connection owing a notice: the notices first, then the answer.
    #[cold]
    #[inline(never)]
    fn answer_after_notices(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
        timers: Option<Option<Instant>>,
    ) -> ConnPoll {
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
        let quiet = state.commands.is_empty();
        match take_answer(
            &mut entry.transport,
            &mut state.dirty,
            quiet,
            conn,
            room,
            out,
        ) {
            Ok(poll) => ConnPoll {
                timers_unchanged,
                ..poll
            },
            Err(moved) => ConnPoll {
                quiet: true,
                timers_unchanged,
                ..self.deliver_drain_notices(now, conn, moved)
            },
        }
    }

    /// The same call made of the single steps, for a run whose log lines want the
    /// connection's span (which covers the delivery, not the poll after it).
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
        self.state.dirty.pop_first();
        ConnPoll {
            quiet: true,
            timers_unchanged: delivered.timers_unchanged,
            ..self.poll_conn(now, conn, room, out)
        }
    }
}

/// Whether the clock's known deadline is `before`, and was known.
#[inline(always)]
fn timers_unchanged<T>(clock: &ManualClock<T>, before: Option<Option<Instant>>) -> bool {
    before.is_some() && clock.known_deadline() == before
}

/// After a delivery that ran program code on `t`'s connection and left no notice
/// owed: the poll to return, with `conn` on the dirty set, if the host is not quiet
/// (`commands_empty` false, or a connection other than `conn` touched); else, quiet,
/// `conn` off the dirty set and up to `room` of its pending bytes moved into `out`. `Err(moved)` if moving them
/// left a notice owed (a producer to resume), which the caller delivers.
#[inline(always)]
fn take_answer(
    t: &mut TransportState,
    dirty: &mut ConnSet,
    commands_empty: bool,
    conn: ConnId,
    room: usize,
    out: &mut VecDeque<u8>,
) -> Result<ConnPoll, usize> {
    if !(commands_empty && dirty.is_empty_or_only(conn)) {
        dirty.insert(conn);
        return Ok(ConnPoll {
            ran_program: true,
            quiet: false,
            ..ConnPoll::of(t)
        });
    }
    // Quiet: the driver takes the connection now, as if `poll_dirty` had reported it,
    // and polls it as `poll_conn` would.
    dirty.pop_first();
    let pending = t.pending();
    let moved = room.min(pending.len());
    if moved > 0 {
        match &pending[..moved] {
            &[byte] => out.push_back(byte),
            bytes => extend(out, bytes),
        }
        t.consume(moved);
        if t.has_notices() {
            return Err(moved);
        }
    }
    Ok(ConnPoll {
        quiet: true,
        ..ConnPoll::of(t).moved(moved)
    })
}
