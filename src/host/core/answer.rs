//! The one-pass arrival of a [`Host`]: a read delivered and, if that left the host
//! quiet, its answer taken, in one look at the connection
//! ([`Node::deliver_data_and_poll`](super::Node::deliver_data_and_poll)).

use std::collections::VecDeque;

use super::{ConnPoll, Host, conn_span, extend};
use crate::host::{ConnId, HostContext, Program};
use crate::time::Instant;

impl<P: Program> Host<P> {
    /// [`Node::deliver_data_and_poll`](super::Node::deliver_data_and_poll): the
    /// effects, in order, of `deliver_data`, then (if quiet) the driver's `poll_dirty`
    /// taking this connection and a `poll_conn` of it, without the calls between.
    #[inline]
    pub(super) fn deliver_and_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        data: &[u8],
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        let Some(entry) = self.state.conns.get(conn) else {
            return ConnPoll::default();
        };
        if data.is_empty() || !entry.transport.accepts_data() {
            return ConnPoll::of(&entry.transport);
        }
        self.state.dirty.insert(conn);
        let span = conn_span(conn);
        let timers = self.clock.known_deadline();
        self.call(now, |p, cx: &mut HostContext<'_, P::Timer>| {
            p.data_received(cx, conn, data);
        });
        drop(span);
        let timers_unchanged = timers.is_some() && self.clock.known_deadline() == timers;

        let state = &mut self.state;
        let Some(entry) = state.conns.get_mut(conn) else {
            // A callback cannot remove a connection; this only keeps the types honest.
            return ConnPoll {
                ran_program: true,
                timers_unchanged,
                ..ConnPoll::default()
            };
        };
        let t = &mut entry.transport;
        if !(state.commands.is_empty() && state.dirty.is_only(conn)) {
            return ConnPoll {
                ran_program: true,
                quiet: false,
                timers_unchanged,
                ..ConnPoll::of(t)
            };
        }
        // Quiet: the driver takes the connection now, as if `poll_dirty` had reported
        // it, and polls it as `poll_conn` would.
        state.dirty.pop_first();
        let pending = t.pending();
        let moved = room.min(pending.len());
        if moved > 0 {
            match &pending[..moved] {
                &[byte] => out.push_back(byte),
                bytes => extend(out, bytes),
            }
            t.consume(moved);
            if t.has_notices() {
                return ConnPoll {
                    quiet: true,
                    timers_unchanged,
                    ..self.deliver_drain_notices(now, conn, moved)
                };
            }
        }
        ConnPoll {
            quiet: true,
            timers_unchanged,
            ..ConnPoll::of(t).moved(moved)
        }
    }
}
