//! An arrival: the packet first on a wire taken off it, and the common one, data for
//! an end whose program reads, answered in the same pass.

use super::super::calls::record_into;
use std::collections::VecDeque;

use super::super::conn::{Conn, End, INLINE, Packet, PacketArena, Payload, Phase, ReadState};
use super::super::wire::{draw_latency, nothing_in_the_way, onto_end_wire};
use super::super::{HostStatus, SimNet};
use crate::host::{ConnPoll, Delivered};
use crate::testing::{EventKind, logs};

impl SimNet {
    /// A packet reaches an end. The common arrival, data between two open ends of a
    /// running host's current incarnation with no trigger waiting, is taken by
    /// [`answer_in_pass`](Self::answer_in_pass) or handed to the general read loop;
    /// any other packet to `arrive_unusual`.
    pub(in crate::simnet) fn arrive(&mut self, conn: u64, to: usize) {
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
    pub(in crate::simnet) fn deliver_arrival(&mut self, conn: u64, to: usize, bytes: Payload) {
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
        // Out of its box once: the compiler need not read the box's pointer again after
        // each store it cannot tell apart from it (the transcript's, the host call).
        let c: &mut Conn = c;
        // The packet leaves the connection's count where the arrival leaves this
        // path, or where its answer's packet takes its place: no count down and up.
        let hosts = c.hosts;
        let h = hosts[to] as usize;
        // Looked up once for the checks and the call (fields apart from the connection).
        let host = &mut self.hosts[h];
        // Split once, for everything up to the answer's send.
        let (e, peer, label) = c.arrival_parts(to);
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
                c.packets -= 1;
                return Err(Fallback::Unusual(packet));
            }
        };
        peer.in_flight = peer.in_flight.saturating_sub(bytes.len());
        let peer = &*peer;
        #[cfg(test)]
        if probe::OFF.get() {
            e.recv_buf.push(bytes);
            c.packets -= 1;
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
                c.packets -= 1;
                return Err(Fallback::Read(None));
            }
        };
        let hc = e.conn.expect("open ends have a host id");
        let n = e.reads.next_read(data.len());
        if n != data.len() {
            buffer(e, bytes);
            c.packets -= 1;
            return Err(Fallback::Read(Some(n)));
        }
        e.bytes_delivered += n as u64;
        e.frames.feed(data);
        // What `record` does, with the connection still at hand. The commonest read, of
        // one byte with no digest kept, is built where the transcript keeps it; others
        // out of line. One byte is known from the read's size, without another look at
        // the payload's kind: its static byte is what `to_bytes` would give (a shared
        // payload of one byte holds the same byte).
        if n == 1 && state.accepts && self.digest.is_none() {
            if self.record {
                let byte = PacketArena::one_byte(data[0]);
                self.transcript
                    .record(self.now, label.clone(), EventKind::Data(byte));
            }
        } else if self.record || self.digest.is_some() {
            let what = read_event(state.accepts, &bytes, &mut self.arena);
            let transcript = self.record.then_some(&mut self.transcript);
            record_into(
                self.digest.as_mut(),
                transcript,
                self.now,
                label.clone(),
                what,
            );
        }
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
        let delivered = {
            let _logging = logs::enter(h);
            node.deliver_data_and_answer(now, hc, data, room, &mut e.send_buf)
        };
        // Read while the host is at hand: only settling and faults move it, and neither
        // comes before its use below.
        let wake_unsettled = host.wake_unsettled;
        self.calling = None;
        // All `serve` would do with this poll is transmit; its first packet is cut
        // here, while the end is at hand (nothing before the send looks at it). With
        // nothing in its way (no stall, no partition) it goes straight onto the wire,
        // as `send` would put it there: no draw nor schedule comes between.
        // The common answer read from its word, any other poll field by field.
        let only_transmit = match &delivered {
            Delivered::Answered(_) => true,
            Delivered::Polled(poll) => poll.quiet && poll.left == 0 && poll.close.is_none(),
        };
        // The common answer's byte, which the host left for the send buffer: kept out
        // of it while it is all there is to send (a packet of its own, if it is cut).
        let mut lone = match delivered {
            Delivered::Answered(byte) if e.send_buf.is_empty() => Some(byte),
            Delivered::Answered(byte) => {
                e.send_buf.push_back(byte);
                None
            }
            Delivered::Polled(_) => None,
        };
        let mut held = None;
        let mut sent_at = None;
        if only_transmit {
            e.backlog = false;
            let window = (self.config.recv_buffer)
                .saturating_sub(peer.recv_buf.len() + e.in_flight)
                .min(self.config.mss);
            let n = window.min(e.send_buf.len() + usize::from(lone.is_some()));
            if n > 0 {
                e.in_flight += n;
                if nothing_in_the_way(e, hosts, self.partitions.is_empty()) {
                    let (src, dst) = (h, hosts[1 - to] as usize);
                    let (links, default) = (&self.link_latency, &self.default_latency);
                    let latency = draw_latency(links, default, &mut self.rng, src, dst);
                    // The lone byte (the commonest answer) put on the wire in an arm of
                    // its own, so that its packet is written straight into its place,
                    // not through the one a call returns the others in.
                    let now = self.now;
                    sent_at = Some(match lone.take() {
                        Some(byte) => onto_end_wire(e, now, latency, Packet::Data(one_byte(byte))),
                        None => {
                            let data = self.arena.take_front(&mut e.send_buf, n);
                            onto_end_wire(e, now, latency, Packet::Data(data))
                        }
                    });
                } else {
                    held = Some(cut_front(&mut self.arena, &mut e.send_buf, lone.take(), n));
                }
            }
        }
        if let Some(byte) = lone {
            // Not cut (no window): in the send buffer, as any answer.
            e.send_buf.push_back(byte);
        }
        // Everything sent and no FIN to follow: no second look needed.
        let cut = held.is_some() || sent_at.is_some();
        let done = cut && e.send_buf.is_empty() && (e.fin_sent || !e.fin_queued);
        e.read_state = match &delivered {
            Delivered::Answered(_) => Some(ReadState::from(&ConnPoll::ANSWERED)),
            Delivered::Polled(poll) => {
                (only_transmit || !poll.quiet).then(|| ReadState::from(poll))
            }
        };
        // Counted and scheduled once the ends are let go, where the send was before:
        // nothing in between draws or schedules.
        match sent_at {
            Some(at) => self.schedule_arrival(at, conn, to, hosts[1 - to] as usize),
            None => c.packets -= 1,
        }
        if self.capture.is_some() && logs::has_lines() {
            self.record_log_lines();
        }
        if !delivered.quiet() {
            self.touch_host(h);
            return Ok(());
        }
        // As settling would: the end is serviced, and the host's wake-up looked at
        // again if it may have moved.
        self.answered_in_pass += 1;
        if !delivered.timers_unchanged() || wake_unsettled {
            self.note_settled(h);
        }
        if !only_transmit {
            self.serve(conn, to, h, hc, delivered.poll());
            return Ok(());
        }
        if delivered.ran_program() {
            self.touch_host(h);
        }
        if let Some(data) = held {
            self.send(conn, to, Packet::Data(data));
        }
        if !done {
            self.transmit(conn, to);
        }
        Ok(())
    }
}

/// Marks the path that calls it as rarely taken, as `std::hint::cold_path` would
/// (stable only after this crate's MSRV): the compiler lays out and inlines for the
/// other paths.
#[cold]
#[inline(never)]
fn cold_path() {}

/// The first `n` bytes to send: the answer's `lone` byte if there is one (all there
/// is to send, the send buffer being empty; `n` is 1), else the front of `send_buf`.
#[inline(always)]
fn cut_front(
    arena: &mut PacketArena,
    send_buf: &mut VecDeque<u8>,
    lone: Option<u8>,
    n: usize,
) -> Payload {
    let Some(byte) = lone else {
        return arena.take_front(send_buf, n);
    };
    debug_assert!(n == 1 && send_buf.is_empty());
    one_byte(byte)
}

/// The packet of one byte, inline.
#[inline(always)]
fn one_byte(byte: u8) -> Payload {
    let mut bytes = [0; INLINE];
    bytes[0] = byte;
    Payload::Inline { len: 1, bytes }
}

/// An arrival's `bytes` put in the receive buffer, for the general loop: out of the
/// way of the short path, whose function stays small enough for the compiler to inline
/// what it calls.
#[cold]
#[inline(never)]
fn buffer(e: &mut End, bytes: Payload) {
    e.recv_buf.push(bytes);
}

/// The transcript's event for a read of `bytes`: its bytes if the program accepts
/// data, their count as discarded if not.
#[inline(always)]
fn read_event(accepts: bool, bytes: &Payload, arena: &mut PacketArena) -> EventKind {
    if accepts {
        EventKind::Data(bytes.to_bytes(arena))
    } else {
        EventKind::Discarded(bytes.len())
    }
}

/// Where [`SimNet::answer_in_pass`] leaves an arrival it does not take straight
/// through.
enum Fallback {
    /// Not data between open ends: for `arrive_unusual`.
    Unusual(Packet),
    /// The bytes are in the receive buffer, for the general loop; the first read's
    /// size if it was drawn.
    Read(Option<usize>),
}

/// For tests: the short path switched off (every arrival taken by the general loop),
/// and how the arrivals went.
#[cfg(test)]
pub(in crate::simnet) mod probe {
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
