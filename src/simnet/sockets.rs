//! The socket layer: kernel buffers, the receive window, reads, closes, triggers.

use std::collections::VecDeque;

use super::SimNet;
use super::conn::{End, Packet, Phase, ReadState};
use crate::host::{ConnId, ConnPoll};
use crate::testing::EventKind;
use crate::transport::{CloseAction, Disconnect};

mod arrival;
#[cfg(test)]
pub(super) use arrival::probe;

impl SimNet {
    /// Moves a host's queued bytes into the kernel, puts what the window allows on the
    /// wire, carries out the program's close, and delivers reads if it is reading.
    pub(super) fn service(&mut self, conn: u64, end: usize) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        let e = &c.ends[end];
        if e.phase != Phase::Open {
            self.transmit(conn, end);
            return;
        }
        let (h, hc) = (e.host, e.conn.expect("open ends have a host id"));
        let Some(poll) = self.poll_into_kernel(conn, end, h, hc) else {
            return;
        };
        self.serve(conn, end, h, hc, poll);
    }

    /// One poll of an open end: up to the send buffer's room of its program's bytes
    /// move into the kernel. `None` if the host has no program.
    fn poll_into_kernel(
        &mut self,
        conn: u64,
        end: usize,
        h: usize,
        hc: ConnId,
    ) -> Option<ConnPoll> {
        let send_buffer = self.config.send_buffer;
        let e = self.end_mut(conn, end);
        let room = send_buffer.saturating_sub(e.send_buf.len());
        // Lent to the node for the call, and given back.
        let mut send_buf = std::mem::take(&mut e.send_buf);
        // Draining may resume the program's producer, which writes more.
        let poll =
            self.call_node_untouched(h, |node, now| node.poll_conn(now, hc, room, &mut send_buf));
        self.end_mut(conn, end).send_buf = send_buf;
        poll
    }

    /// The rest of [`service`](Self::service), given what its first poll found.
    fn serve(&mut self, conn: u64, end: usize, h: usize, hc: ConnId, first: ConnPoll) {
        let mut transmitted = false;
        let mut poll = first;
        let poll = loop {
            self.end_mut(conn, end).backlog = poll.left > 0;
            if poll.ran_program {
                self.touch_host(h);
            }
            if poll.moved == 0 {
                break poll;
            }
            self.transmit(conn, end);
            transmitted = true;
            // Nothing left: the poll's state is already the state after this move
            // (a producer it resumed has run, and what it wrote would be left).
            if poll.left == 0 {
                break poll;
            }
            let Some(next) = self.poll_into_kernel(conn, end, h, hc) else {
                return;
            };
            poll = next;
        };
        if !transmitted {
            self.transmit(conn, end);
        }
        match poll.close {
            Some(CloseAction::Close) => {
                let e = self.end_mut(conn, end);
                e.fin_queued = true;
                e.phase = Phase::Closed;
                self.lost(conn, end, Disconnect::Clean);
                self.transmit(conn, end);
                return;
            }
            Some(CloseAction::ShutdownWrite) => {
                self.end_mut(conn, end).fin_queued = true;
                self.call_node(h, |node, _| node.write_shut_down(hc));
                self.transmit(conn, end);
            }
            Some(CloseAction::Abort) => {
                let e = self.end_mut(conn, end);
                e.send_buf.clear();
                e.stall = None;
                e.phase = Phase::Dead;
                self.send(conn, end, Packet::Rst);
                self.lost(conn, end, Disconnect::Aborted);
                return;
            }
            None => {}
        }
        let e = self.end_mut(conn, end);
        if e.has_reads_waiting() {
            self.deliver_reads_after(conn, end, Some(poll), false, None);
        } else {
            // Nothing to read now: what the poll said is kept for the next arrival.
            e.read_state = Some(ReadState::from(&poll));
        }
    }

    /// The peer's window opened: what the send buffer holds may go on the wire. The
    /// program, which did not touch the connection, is not asked anything.
    pub(super) fn window_opened(&mut self, conn: u64, end: usize) {
        self.transmit(conn, end);
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        let e = &c.ends[end];
        if e.phase == Phase::Open && e.has_reads_waiting() {
            self.deliver_reads(conn, end);
        }
    }

    pub(super) fn end_mut(&mut self, conn: u64, end: usize) -> &mut End {
        &mut self.conns.get_mut(conn).expect("connection exists").ends[end]
    }

    /// Tells an end's program its connection is gone, once.
    pub(super) fn lost(&mut self, conn: u64, end: usize, reason: Disconnect) {
        let c = &self.conns[conn];
        let e = &c.ends[end];
        let who = c.end_label(end);
        let (h, incarnation, hc) = (e.host, e.incarnation, e.conn);
        self.record(who, EventKind::Lost(reason));
        let Some(hc) = hc else { return };
        self.index.remove(&(h, incarnation, hc));
        if self.is_current(h, incarnation) {
            self.call_node(h, |node, now| node.handle_closed(now, hc, reason));
        }
    }

    /// Puts bytes (and then a pending FIN) on the wire as the receiver's window allows.
    pub(super) fn transmit(&mut self, conn: u64, from: usize) {
        loop {
            let (recv_buffer, mss) = (self.config.recv_buffer, self.config.mss);
            let Some(c) = self.conns.get_mut(conn) else {
                return;
            };
            let [a, b] = &mut c.ends;
            let (e, peer) = if from == 0 { (a, &*b) } else { (b, &*a) };
            if e.phase == Phase::Dead || e.phase == Phase::Connecting {
                return;
            }
            let window = recv_buffer.saturating_sub(peer.recv_buf.len() + e.in_flight);
            let n = window.min(mss).min(e.send_buf.len());
            if n > 0 {
                let data = self.arena.take_front(&mut e.send_buf, n);
                e.in_flight += n;
                // Everything sent and no FIN to follow: no second look needed.
                let done = e.send_buf.is_empty() && (e.fin_sent || !e.fin_queued);
                self.send(conn, from, Packet::Data(data));
                if done {
                    return;
                }
                continue;
            }
            if e.send_buf.is_empty() && e.fin_queued && !e.fin_sent {
                e.fin_sent = true;
                self.send(conn, from, Packet::Fin);
            }
            return;
        }
    }

    /// Hands arrived bytes to the program as reads (cut by the segmentation policy)
    /// while it is reading, then the end-of-stream.
    pub(super) fn deliver_reads(&mut self, conn: u64, to: usize) {
        self.deliver_reads_after(conn, to, None, false, None);
    }

    /// [`deliver_reads`](Self::deliver_reads), given what a poll of the receiving end
    /// just found; `answer`: an arrival's, which may take the short path.
    /// `drawn`: the first read's size, if the short path drew it.
    fn deliver_reads_after(
        &mut self,
        conn: u64,
        to: usize,
        known: Option<ConnPoll>,
        answer: bool,
        drawn: Option<usize>,
    ) {
        // A host a quiet read left untouched, to touch unless its answer is taken.
        let mut owed = Owed::default();
        self.deliver_reads_loop(conn, to, known, answer, &mut owed, drawn);
        if let Some(h) = owed.host {
            self.touch_host(h);
        }
    }

    fn deliver_reads_loop(
        &mut self,
        conn: u64,
        to: usize,
        known: Option<ConnPoll>,
        answer: bool,
        owed: &mut Owed,
        mut drawn: Option<usize>,
    ) {
        if let (Some(poll), Some(c)) = (known, self.conns.get_mut(conn)) {
            c.ends[to].read_state = Some(ReadState::from(&poll));
        }
        loop {
            let Some(c) = self.conns.get_mut(conn) else {
                return;
            };
            let e = &mut c.ends[to];
            if e.phase != Phase::Open {
                return;
            }
            let (h, hc) = (e.host, e.conn.expect("open ends have a host id"));
            if !e.has_reads_waiting() {
                // Nothing to deliver, paused or not.
                return;
            }
            let state = match e.read_state {
                Some(state) => state,
                None => {
                    let now = self.now + self.hosts[h].clock_offset;
                    let Some(node) = self.hosts[h].node.as_mut() else {
                        return;
                    };
                    let poll = node.poll_conn(now, hc, 0, &mut VecDeque::new());
                    let state = ReadState::from(&poll);
                    e.read_state = Some(state);
                    state
                }
            };
            if state.paused {
                return;
            }
            if !e.recv_buf.is_empty() {
                // The first read's size may have been drawn already (by the short path).
                let n = match drawn.take() {
                    Some(n) => n,
                    None => e.reads.next_read(e.recv_buf.len()),
                };
                let chunk = e.recv_buf.take(n);
                e.bytes_delivered += n as u64;
                e.frames.feed(&chunk);
                let recording = self.record || self.digest.is_some();
                let who = recording.then(|| c.label(1 - to));
                self.check_triggers(conn, to);
                // Neither label nor bytes are cloned for a run that keeps no record.
                if let Some(who) = who {
                    let what = if state.accepts {
                        EventKind::Data(chunk.to_bytes(&mut self.arena))
                    } else {
                        EventKind::Discarded(chunk.len())
                    };
                    self.record(who, what);
                }
                if answer && self.answer_may_follow(conn, to) {
                    let Some(poll) = self.deliver_and_answer(conn, to, h, hc, &chunk) else {
                        self.end_mut(conn, to).read_state = None;
                        return;
                    };
                    if poll.quiet {
                        // As settling would: the end is serviced, and the host's wake-up
                        // looked at again if it may have moved.
                        owed.host = None;
                        self.answered_in_pass += 1;
                        if owed.timers_moved
                            || !poll.timers_unchanged
                            || self.hosts[h].wake_unsettled
                        {
                            self.note_settled(h);
                        }
                        self.end_mut(conn, to).read_state = None;
                        self.serve(conn, to, h, hc, poll);
                        return;
                    }
                    self.touch_host(h);
                    self.end_mut(conn, to).read_state = Some(ReadState::from(&poll));
                    // The last read, and the peer had nothing for the window (checked).
                    return;
                }
                let poll =
                    self.call_node_untouched(h, |node, now| node.deliver_data(now, hc, &chunk));
                match &poll {
                    Some(poll) if poll.quiet => {
                        owed.host = Some(h);
                        owed.timers_moved |= !poll.timers_unchanged;
                    }
                    Some(_) => self.touch_host(h),
                    None => {}
                }
                let Some(c) = self.conns.get_mut(conn) else {
                    return;
                };
                c.ends[to].read_state = poll.as_ref().map(ReadState::from);
                let more = c.ends[to].has_reads_waiting();
                // The window opened: the sender may put more on the wire (if it has
                // anything to put there).
                if c.ends[1 - to].has_work_for_window() {
                    self.queue_transmit(conn, 1 - to);
                }
                if !more {
                    return;
                }
                continue;
            }
            if e.eof_received && !e.eof_delivered {
                e.eof_delivered = true;
                e.read_state = None;
                let who = c.label(1 - to);
                self.record(who, EventKind::Eof);
                self.call_node(h, |node, now| node.handle_read_closed(now, hc));
            }
            return;
        }
    }

    /// Whether the read just cut is an arrival's last and, if its delivery leaves the
    /// host quiet, servicing the end would be all settling does: nothing else queued
    /// or due, no host waiting to be looked at, and the window the read opens giving
    /// the sender nothing to do.
    fn answer_may_follow(&self, conn: u64, to: usize) -> bool {
        let c = &self.conns[conn];
        !c.ends[to].has_reads_waiting()
            && self.work.is_empty()
            && self.touched.is_empty()
            && self.due_faults.is_empty()
            && !c.ends[1 - to].has_work_for_window()
    }

    /// Delivers `chunk` and, if that leaves the host quiet, takes the program's answer
    /// into the kernel in the same call. `None` if the host has no program.
    fn deliver_and_answer(
        &mut self,
        conn: u64,
        to: usize,
        h: usize,
        hc: ConnId,
        chunk: &[u8],
    ) -> Option<ConnPoll> {
        let send_buffer = self.config.send_buffer;
        let e = self.end_mut(conn, to);
        let room = send_buffer.saturating_sub(e.send_buf.len());
        let mut send_buf = std::mem::take(&mut e.send_buf);
        let poll = self.call_node_untouched(h, |node, now| {
            node.deliver_data_and_poll(now, hc, chunk, room, &mut send_buf)
        });
        self.end_mut(conn, to).send_buf = send_buf;
        poll
    }

    pub(super) fn check_triggers(&mut self, conn: u64, to: usize) {
        if self.triggers.is_empty() {
            return;
        }
        let c = &self.conns[conn];
        let (from_host, to_host) = (
            &self.names[c.ends[1 - to].host],
            &self.names[c.ends[to].host],
        );
        let e = &c.ends[to];
        let mut i = 0;
        while i < self.triggers.len() {
            let (trigger, _) = &self.triggers[i];
            let matches = &trigger.from == from_host && &trigger.to == to_host;
            let fired = matches
                && (trigger.bytes.is_some_and(|n| e.bytes_delivered >= n)
                    || trigger.netstrings.is_some_and(|n| e.frames.frames >= n));
            if fired {
                let (_, action) = self.triggers.remove(i);
                self.due_faults.push_back(action);
                // Already set while a trigger waits; said here so the flag does not
                // rest on that.
                self.unsettled = true;
            } else {
                i += 1;
            }
        }
    }
}

/// What quiet reads of one delivery left for the end of it.
#[derive(Default)]
struct Owed {
    /// The host they did not touch: touched at the end unless its answer was taken.
    host: Option<usize>,
    /// One of them moved a timer: the host's wake-up is looked at again.
    timers_moved: bool,
}
