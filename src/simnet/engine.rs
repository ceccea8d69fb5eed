//! SimNet's event loop: dispatching events, settling the hosts, waking them.

use super::conn::Phase;
use std::cmp::Reverse;

use super::{Event, FailedConnect, HostStatus, SimNet};
use crate::testing::EventKind;
use crate::time::Instant;

/// What a step did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stepped {
    /// No event ran: none was due, or a limit stopped the run.
    Nothing,
    /// An event ran, and settled no host.
    Ran,
    /// An event ran and hosts were settled after it (only settling runs a program's
    /// commands, its exit among them).
    Settled,
}

impl SimNet {
    /// [`step_captured`](Self::step_captured) with a limit near (see
    /// [`limits_near`](Self::limits_near)): each one looked at.
    #[inline(never)]
    pub(super) fn step_near_limits(&mut self, until: Instant) -> Stepped {
        if !self.within_limits(until) {
            return Stepped::Nothing;
        }
        let Some(next) = self.queue.pop_due(until) else {
            return Stepped::Nothing;
        };
        if !self.admit_near_limits(next.at, self.event_host(&next.event)) {
            return Stepped::Nothing;
        }
        self.handle(next.event);
        self.finish_step()
    }

    /// Counts and runs an event other than an arrival: out of the step's way, so that
    /// the step's dispatch is one comparison.
    #[inline(never)]
    pub(super) fn count_and_handle(&mut self, at: Instant, event: Event) {
        self.count_event(at, self.event_host(&event));
        self.handle(event);
    }

    /// Runs an event.
    #[inline(never)]
    pub(super) fn handle(&mut self, event: Event) {
        match event {
            Event::Wake { host, incarnation } => self.wake(host, incarnation),
            Event::Arrive { conn, to, .. } => self.arrive(conn, to),
            Event::ConnectFailed(failed) => {
                let FailedConnect {
                    host,
                    incarnation,
                    conn,
                    error,
                } = *failed;
                if self.is_current(host, incarnation) {
                    let who = self.labels[host].clone();
                    self.record(who, EventKind::ConnectFailed(error.to_string()));
                    self.call_node(host, |node, now| {
                        node.handle_connect_failed(now, conn, error)
                    });
                }
            }
            Event::ConnectDeadline { conn } => self.connect_deadline(conn),
            Event::Retransmit { conn, from } => self.retransmit(conn, from),
            Event::Accept {
                host,
                incarnation,
                port,
            } => self.accept_waiting(host, incarnation, port),
            Event::Fault(action) => self.apply(*action),
        }
    }

    /// Ends a step: settles the hosts and drops the connections it finished with, if
    /// it left anything for either.
    #[inline(always)]
    pub(super) fn finish_step(&mut self) -> Stepped {
        // An arrival answered in its own pass leaves nothing (the common step).
        if !self.unsettled {
            return Stepped::Ran;
        }
        self.finish_step_now()
    }

    /// [`finish_step`](Self::finish_step) with something left.
    #[inline(never)]
    fn finish_step_now(&mut self) -> Stepped {
        let settled = self.settle();
        self.drop_finished();
        // Every list is empty now; a trigger may still fire into `due_faults`.
        self.unsettled = !self.triggers.is_empty();
        if settled {
            Stepped::Settled
        } else {
            Stepped::Ran
        }
    }

    /// Runs everything the last event set in motion until the hosts are quiet, then
    /// schedules their next wake-ups; false if there was nothing to run.
    pub(super) fn settle(&mut self) -> bool {
        if self.settled.is_empty()
            && self.touched.is_empty()
            && self.work.is_empty()
            && self.due_faults.is_empty()
        {
            return false;
        }
        self.settle_hosts();
        true
    }

    /// [`settle`](Self::settle) with something to do.
    fn settle_hosts(&mut self) {
        loop {
            if let Some(action) = self.due_faults.pop_front() {
                self.apply(action);
                continue;
            }
            let mut busy = false;
            // Only hosts the network called into can have anything to say.
            while let Some(Reverse(h)) = self.touched.pop() {
                let host = &mut self.hosts[h];
                host.touched = false;
                if !host.settled {
                    host.settled = true;
                    self.settled.push(h);
                    self.unsettled = true;
                }
                busy = true;
                while self.hosts[h].status == HostStatus::Running {
                    let Some(command) = self.hosts[h].node.as_mut().and_then(|n| n.poll_command())
                    else {
                        break;
                    };
                    self.command(h, command);
                }
                let incarnation = self.hosts[h].incarnation;
                while self.hosts[h].status == HostStatus::Running {
                    let Some(conn) = self.hosts[h].node.as_mut().and_then(|n| n.poll_dirty())
                    else {
                        break;
                    };
                    if let Some(&(conn, end)) = self.index.get(&(h, incarnation, conn)) {
                        self.queue_service(conn, end);
                    }
                }
            }
            if let Some(Reverse((conn, end))) = self.work.pop() {
                self.work_on(conn, end);
                continue;
            }
            if !busy {
                break;
            }
        }
        let mut settled = std::mem::take(&mut self.settled);
        // In host order, as the wake-ups' sequence numbers depend on it.
        settled.sort_unstable();
        for &h in &settled {
            self.hosts[h].settled = false;
            self.schedule_wake(h);
        }
        settled.clear();
        self.settled = settled;
    }

    /// Queues an end whose program touched it: its bytes, close and reads are looked at.
    pub(super) fn queue_service(&mut self, conn: u64, end: usize) {
        self.queue(conn, end, true);
    }

    /// Queues an end whose peer's window opened: only its kernel buffer can move
    /// (unless its program still has bytes the buffer had no room for).
    pub(super) fn queue_transmit(&mut self, conn: u64, end: usize) {
        self.queue(conn, end, false);
    }

    /// Puts an end on the work queue (once), marked for a full service if `service`.
    fn queue(&mut self, conn: u64, end: usize, service: bool) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let e = &mut c.ends[end];
        if service {
            e.needs_service = true;
            // Its program touched it: what it said of its reading may have changed.
            e.read_state = None;
        }
        if !e.queued {
            e.queued = true;
            self.work.push(Reverse((conn, end)));
            self.unsettled = true;
        }
    }

    /// Takes an end off the work queue and does what it was queued for.
    fn work_on(&mut self, conn: u64, end: usize) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let e = &mut c.ends[end];
        e.queued = false;
        let full = std::mem::take(&mut e.needs_service) || e.backlog;
        if full {
            self.service(conn, end);
        } else {
            self.window_opened(conn, end);
        }
    }

    pub(super) fn schedule_wake(&mut self, h: usize) {
        if self.hosts[h].status != HostStatus::Running {
            return;
        }
        self.hosts[h].wake_unsettled = false;
        let offset = self.hosts[h].clock_offset;
        let Some(deadline) = self.hosts[h].node.as_mut().and_then(|n| n.poll_timeout()) else {
            self.hosts[h].wake = None;
            return;
        };
        let at = Instant::from_nanos(
            deadline
                .as_nanos()
                .saturating_sub(u64::try_from(offset.as_nanos()).unwrap_or(u64::MAX)),
        )
        .max(self.now);
        if self.hosts[h].wake != Some(at) {
            self.hosts[h].wake = Some(at);
            let incarnation = self.hosts[h].incarnation;
            self.schedule(
                at,
                Event::Wake {
                    host: h,
                    incarnation,
                },
            );
        }
    }

    pub(super) fn wake(&mut self, h: usize, incarnation: u32) {
        if !self.is_current(h, incarnation) || self.hosts[h].wake != Some(self.now) {
            return;
        }
        self.hosts[h].wake = None;
        self.call_node(h, |node, now| node.handle_timeout(now));
    }

    pub(super) fn is_current(&self, h: usize, incarnation: u32) -> bool {
        self.hosts[h].status == HostStatus::Running && self.hosts[h].incarnation == incarnation
    }
}

impl SimNet {
    /// Forgets the connections touched in this step on which nothing more can happen:
    /// the connecting end dead and answered, the other dead or never reached, nothing
    /// on the wire, held or waiting to be retransmitted. A run of many short-lived
    /// connections (retries to a refused port) then holds only the live ones.
    #[inline(always)]
    pub(super) fn drop_finished(&mut self) {
        if self.finished.is_empty() {
            return;
        }
        self.drop_finished_now();
    }

    /// [`drop_finished`](Self::drop_finished) with connections to look at.
    #[inline(never)]
    fn drop_finished_now(&mut self) {
        let mut finished = std::mem::take(&mut self.finished);
        for id in finished.drain(..) {
            let Some(c) = self.conns.get_mut(id) else {
                continue;
            };
            c.finishing = false;
            // An end closed by its program with everything sent, FIN included, can do
            // nothing more (a reset or a crash would only mark it dead), so a
            // connection whose ends are both so is dropped as a dead one is.
            let spent = |e: &super::conn::End| {
                e.phase == Phase::Closed && e.send_buf.is_empty() && e.fin_sent
            };
            let quiet = c.packets == 0
                && !c.awaiting_answer
                && (c.ends[0].phase == Phase::Dead || spent(&c.ends[0]))
                && (matches!(c.ends[1].phase, Phase::Dead | Phase::Connecting)
                    || spent(&c.ends[1]))
                && c.ends.iter().all(|e| e.stall.is_none());
            if !quiet {
                continue;
            }
            for (end, e) in c.ends.iter().enumerate() {
                let key = (e.host, e.incarnation, e.conn);
                if let (h, inc, Some(hc)) = key
                    && self.index.get(&(h, inc, hc)) == Some(&(id, end))
                {
                    self.index.remove(&(h, inc, hc));
                }
            }
            // The dialing end's port is free for the next connect.
            let client = &c.ends[0];
            let (host, port) = (client.host, client.addr.port());
            self.hosts[host].ports_in_use.remove(&port);
            self.conns.remove(id);
        }
        self.finished = finished;
    }

    /// Notes a connection an event touched, to drop once nothing more can happen on it.
    pub(super) fn note_finishing(&mut self, conn: u64) {
        if let Some(c) = self.conns.get_mut(conn)
            && !c.finishing
        {
            c.finishing = true;
            self.finished.push(conn);
            self.unsettled = true;
        }
    }
}
