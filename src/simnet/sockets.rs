//! The socket layer: kernel buffers, the receive window, reads, closes, triggers.

use std::collections::VecDeque;

use super::conn::{End, Packet, Payload, Phase, ReadState};
use super::wire::{nothing_in_the_way, onto_open_wire};
use super::{HostStatus, SimNet};
use crate::host::{ConnId, ConnPoll};
use std::sync::Arc;

use crate::testing::{EventDigest, EventKind, Transcript, logs};
use crate::time::Instant;
use crate::transport::{CloseAction, Disconnect};

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

    /// A packet reaches an end. The common arrival, data between two open ends of a
    /// running host's current incarnation with no trigger waiting, is taken by
    /// [`answer_in_pass`](Self::answer_in_pass) or handed to the general read loop;
    /// any other packet to `arrive_unusual`.
    pub(super) fn arrive(&mut self, conn: u64, to: usize) {
        let outcome = self.answer_in_pass(conn, to);
        #[cfg(test)]
        probe::count(&outcome);
        match outcome {
            Ok(()) => {}
            Err(Fallback::Unusual(packet)) => self.arrive_unusual(conn, to, packet),
            Err(Fallback::Read(drawn)) => self.deliver_reads_after(conn, to, None, true, drawn),
        }
    }

    /// [`deliver_reads`](Self::deliver_reads) of an arrival's `bytes` that
    /// [`arrive`](Self::arrive) does not take straight through: what its program
    /// wrote in answer may still go on the wire in the same pass.
    pub(super) fn deliver_arrival(&mut self, conn: u64, to: usize, bytes: Payload) {
        self.end_mut(conn, to).recv_buf.push(bytes);
        self.deliver_reads_after(conn, to, None, true, None);
    }

    /// The arrival of the packet first on the wire toward end `to`, straight through
    /// when it is the common one: data between open ends, an end whose program reads
    /// and that has nothing buffered, one read taking all of the bytes, nothing else
    /// waiting in the step, and its program's answer put on the wire. Exactly what
    /// `arrive_unusual`, the general loop and `serve` would do, in the same order,
    /// with the connection looked up once for everything up to the answer's send, and
    /// the bytes handed to the program without a trip through the receive buffer.
    /// `Err`: a packet for `arrive_unusual`, or the bytes in the receive buffer for
    /// the general loop, before anything else happened (`None`) or after drawing the
    /// read's size (`Some`).
    // Always inlined into `arrive`: the outcome is never built in memory.
    #[inline(always)]
    fn answer_in_pass(&mut self, conn: u64, to: usize) -> Result<(), Fallback> {
        let Some(c) = self.conns.get_mut(conn) else {
            cold_path();
            return Ok(());
        };
        c.packets -= 1;
        let h = c.hosts[to] as usize;
        // Looked up once for the checks and the call (fields apart from the connection).
        let host = &mut self.hosts[h];
        let [a, b] = &mut c.ends;
        let (e, peer) = if to == 0 { (a, b) } else { (b, a) };
        // Arrivals of one direction come in the order the packets went out.
        let packet = (peer.wire.pop_front()).expect("an arrival has its packet");
        // The common case in one look: data between two open ends of a running host's
        // current incarnation, no trigger waiting (what the general case checks first).
        let plain = peer.phase == Phase::Open
            && e.phase == Phase::Open
            && self.triggers.is_empty()
            && host.status == HostStatus::Running
            && host.incarnation == e.incarnation;
        let bytes = match packet {
            Packet::Data(bytes) if plain => bytes,
            packet => {
                // Marked, as every exception here is: the compiler then lays out and
                // inlines (the transcript's `Vec::push`) for the straight path.
                cold_path();
                return Err(Fallback::Unusual(packet));
            }
        };
        peer.in_flight = peer.in_flight.saturating_sub(bytes.len());
        let peer = &*peer;
        #[cfg(test)]
        if probe::OFF.get() {
            e.recv_buf.push(bytes);
            return Err(Fallback::Read(None));
        }
        // The bytes as a slice once (an inline payload or a shared one).
        let data: &[u8] = &bytes;
        // The phase and the triggers are known from `plain`.
        let state = match e.read_state {
            Some(state)
                if !state.paused
                    && e.recv_buf.is_empty()
                    && !data.is_empty()
                    && (e.eof_delivered || !e.eof_received)
                    && !peer.has_work_for_window()
                    && self.work.is_empty()
                    && self.touched.is_empty()
                    && self.due_faults.is_empty()
                    && host.node.is_some() =>
            {
                state
            }
            _ => {
                // The exception, by a cold call: without the hint the compiler, halving
                // the odds at each test of the guard, takes what follows for cold and
                // calls `Vec::push` (the transcript's record) and others out of line.
                buffer(e, bytes);
                return Err(Fallback::Read(None));
            }
        };
        let hc = e.conn.expect("open ends have a host id");
        let n = e.reads.next_read(data.len());
        if n != data.len() {
            buffer(e, bytes);
            return Err(Fallback::Read(Some(n)));
        }
        e.bytes_delivered += n as u64;
        e.frames.feed(data);
        // What `record` does, with the connection still at hand. The commonest read, of
        // one byte with no digest kept, is built where the transcript keeps it; others
        // out of line.
        let one_byte = bytes
            .one_byte()
            .filter(|_| state.accepts && self.digest.is_none());
        if let Some(byte) = one_byte {
            if self.record {
                let who = c.label(1 - to);
                self.transcript.record(self.now, who, EventKind::Data(byte));
            }
        } else if self.record || self.digest.is_some() {
            let what = read_event(state.accepts, &bytes, &mut self.arena);
            let transcript = self.record.then_some(&mut self.transcript);
            record_read(
                self.digest.as_mut(),
                transcript,
                self.now,
                c.label(1 - to),
                what,
            );
        }
        let [a, b] = &mut c.ends;
        let (e, peer) = if to == 0 { (a, &*b) } else { (b, &*a) };
        let room = self.config.send_buffer.saturating_sub(e.send_buf.len());
        // A host's clock is mostly the network's: no saturating add of a zero offset.
        let offset = host.clock_offset;
        let now = if offset.is_zero() {
            self.now
        } else {
            self.now + offset
        };
        let node = host.node.as_mut().expect("checked");
        self.calling = Some(h);
        let poll = {
            let _logging = logs::enter(h);
            node.deliver_data_and_poll(now, hc, data, room, &mut e.send_buf)
        };
        // Read while the host is at hand: only settling and faults move it, and neither
        // comes before its use below.
        let wake_unsettled = host.wake_unsettled;
        self.calling = None;
        // All `serve` would do with this poll is transmit; its first packet is cut
        // here, while the end is at hand (nothing before the send looks at it).
        let only_transmit = poll.quiet && poll.left == 0 && poll.close.is_none();
        let mut packet = None;
        if only_transmit {
            e.backlog = false;
            let window = (self.config.recv_buffer)
                .saturating_sub(peer.recv_buf.len() + e.in_flight)
                .min(self.config.mss);
            let n = window.min(e.send_buf.len());
            if n > 0 {
                packet = Some(self.arena.take_front(&mut e.send_buf, n));
                e.in_flight += n;
            }
        }
        // Everything sent and no FIN to follow: no second look needed.
        let done = packet.is_some() && e.send_buf.is_empty() && (e.fin_sent || !e.fin_queued);
        e.read_state = (only_transmit || !poll.quiet).then(|| ReadState::from(&poll));
        // With nothing in its way (no stall, no partition) the packet goes on the wire
        // now, the connection still at hand: what `send` would do, and nothing `send`
        // would have come before (below) draws or schedules.
        let clear = nothing_in_the_way(c, to, self.partitions.is_empty());
        if clear && let Some(data) = packet.take() {
            let (links, default) = (&self.link_latency, &self.default_latency);
            let (now, rng) = (self.now, &mut self.rng);
            let (at, dst) = onto_open_wire(c, to, now, links, default, rng, Packet::Data(data));
            self.schedule_arrival(at, conn, to, dst);
        }
        if self.capture.is_some() && logs::has_lines() {
            self.record_log_lines();
        }
        if !poll.quiet {
            self.touch_host(h);
            return Ok(());
        }
        // As settling would: the end is serviced, and the host's wake-up looked at
        // again if it may have moved.
        self.answered_in_pass += 1;
        if !poll.timers_unchanged || wake_unsettled {
            self.note_settled(h);
        }
        if !only_transmit {
            self.serve(conn, to, h, hc, poll);
            return Ok(());
        }
        if poll.ran_program {
            self.touch_host(h);
        }
        if let Some(data) = packet {
            self.send(conn, to, Packet::Data(data));
        }
        if !done {
            self.transmit(conn, to);
        }
        Ok(())
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

/// Marks the path that calls it as rarely taken, as `std::hint::cold_path` would
/// (stable only after this crate's MSRV): the compiler lays out and inlines for the
/// other paths.
#[cold]
#[inline(never)]
fn cold_path() {}

/// An arrival's `bytes` put in the receive buffer, for the general loop: out of the
/// way of the short path, whose function stays small enough for the compiler to inline
/// what it calls.
#[cold]
#[inline(never)]
fn buffer(e: &mut End, bytes: Payload) {
    e.recv_buf.push(bytes);
}

/// What `record` does with a read's event, out of the way of the short path's one
/// byte: into the digest if one is kept, and the transcript if it is recorded.
#[inline(never)]
fn record_read(
    digest: Option<&mut EventDigest>,
    transcript: Option<&mut Transcript>,
    now: Instant,
    who: Arc<str>,
    what: EventKind,
) {
    if let Some(digest) = digest {
        digest.add(now, &who, &what);
    }
    if let Some(transcript) = transcript {
        transcript.record(now, who, what);
    }
}

/// The transcript's event for a read of `bytes`: its bytes if the program accepts
/// data, their count as discarded if not.
#[inline(always)]
fn read_event(accepts: bool, bytes: &Payload, arena: &mut super::conn::PacketArena) -> EventKind {
    if accepts {
        EventKind::Data(bytes.to_bytes(arena))
    } else {
        EventKind::Discarded(bytes.len())
    }
}

/// Where [`SimNet::answer_in_pass`] leaves an arrival it does not take straight
/// through.
pub(super) enum Fallback {
    /// Not data between open ends: for `arrive_unusual`.
    Unusual(Packet),
    /// The bytes are in the receive buffer, for the general loop; the first read's
    /// size if it was drawn.
    Read(Option<usize>),
}

/// What quiet reads of one delivery left for the end of it.
#[derive(Default)]
struct Owed {
    /// The host they did not touch: touched at the end unless its answer was taken.
    host: Option<usize>,
    /// One of them moved a timer: the host's wake-up is looked at again.
    timers_moved: bool,
}

/// For tests: the short path switched off (every arrival taken by the general loop),
/// and how the arrivals went.
#[cfg(test)]
pub(super) mod probe {
    use std::cell::Cell;

    thread_local! {
        pub(in crate::simnet) static OFF: Cell<bool> = const { Cell::new(false) };
        /// Arrivals taken straight through, left to the general loop before anything
        /// happened, and left to it after their read's size was drawn.
        pub(in crate::simnet) static TAKEN: Cell<[u64; 3]> = const { Cell::new([0; 3]) };
    }

    /// Counts a data arrival's outcome (not while the short path is off).
    pub(super) fn count(outcome: &Result<(), super::Fallback>) {
        use super::Fallback;
        let i = match outcome {
            _ if OFF.get() => return,
            Ok(()) => 0,
            Err(Fallback::Unusual(_)) => return,
            Err(Fallback::Read(None)) => 1,
            Err(Fallback::Read(Some(_))) => 2,
        };
        TAKEN.with(|taken| {
            let mut counts = taken.get();
            counts[i] += 1;
            taken.set(counts);
        });
    }
}
