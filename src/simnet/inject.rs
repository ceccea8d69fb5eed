//! Applying faults: partitions and heals, crashes and restarts, resets, latency
//! changes, clock jumps.

use super::conn::Phase;
use super::fault::{FaultAction, describe};
use super::{Event, HostStatus, SimNet};
use crate::host::ConnectError;
use crate::testing::EventKind;
use crate::transport::Disconnect;

impl SimNet {
    pub(super) fn apply(&mut self, action: FaultAction) {
        self.record("net", EventKind::Fault(describe(&action)));
        match action {
            FaultAction::Partition(p) => {
                let (Some(a), Some(b)) = (self.host_index(&p.a), self.host_index(&p.b)) else {
                    return;
                };
                self.partitions.insert((a, b), p.mode);
                if !p.one_way {
                    self.partitions.insert((b, a), p.mode);
                }
            }
            FaultAction::Heal(between) => {
                let (Some(a), Some(b)) = (self.host_index(&between.a), self.host_index(&between.b))
                else {
                    return;
                };
                let mut pairs = vec![(a, b)];
                if !between.one_way {
                    pairs.push((b, a));
                }
                for pair in pairs {
                    self.partitions.remove(&pair);
                    for (conn, from, packet) in self.held.remove(&pair).unwrap_or_default() {
                        self.conns
                            .get_mut(conn)
                            .expect("held packets keep it")
                            .packets -= 1;
                        self.put_on_wire(conn, from, packet);
                    }
                }
            }
            FaultAction::Crash(name) => {
                if let Some(h) = self.host_index(&name) {
                    self.crash(h);
                }
            }
            FaultAction::Restart(name) => {
                if let Some(h) = self.host_index(&name)
                    && self.hosts[h].status == HostStatus::Crashed
                {
                    self.boot(h);
                }
            }
            FaultAction::Reset(spec) => {
                let Some(h) = self.host_index(&spec.host) else {
                    return;
                };
                let victims: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| {
                        c.ends.iter().any(|e| e.host == h)
                            // Established at one end at least: by its program, or by
                            // the kernel in a listener's backlog.
                            && c.ends.iter().any(|e| {
                                matches!(e.phase, Phase::Open | Phase::Closed | Phase::Queued)
                            })
                            && spec
                                .port
                                .is_none_or(|p| c.ends.iter().any(|e| e.addr.port() == p))
                    })
                    .map(|(id, _)| id)
                    .collect();
                for conn in victims {
                    for end in 0..2 {
                        let e = self.end_mut(conn, end);
                        let phase = e.phase;
                        e.phase = Phase::Dead;
                        e.send_buf.clear();
                        e.recv_buf.clear();
                        e.stall = None;
                        match phase {
                            Phase::Open => self.lost(conn, end, Disconnect::Reset),
                            // Mid-handshake (the SYN-ACK still travelling): the reset
                            // refuses the connect, as TCP reports one in SYN-SENT.
                            Phase::Connecting if end == 0 => {
                                self.fail_connect(conn, ConnectError::Refused);
                            }
                            Phase::Connecting | Phase::Queued | Phase::Closed | Phase::Dead => {}
                        }
                    }
                }
            }
            FaultAction::Latency(spec) => match (spec.a, spec.b) {
                (Some(a), Some(b)) => self.set_latency(&a, &b, spec.latency),
                _ => {
                    self.default_latency = super::draw::LatencyDraw::new(&spec.latency);
                    self.config.latency = spec.latency;
                    self.link_latency.clear();
                }
            },
            FaultAction::ClockJump(jump) => {
                if let Some(h) = self.host_index(&jump.host) {
                    self.hosts[h].clock_offset += jump.by;
                    // Its timers inside the jump are due now.
                    self.hosts[h].wake = None;
                    let incarnation = self.hosts[h].incarnation;
                    self.hosts[h].wake = Some(self.now);
                    self.hosts[h].wake_unsettled = true;
                    self.schedule(
                        self.now,
                        Event::Wake {
                            host: h,
                            incarnation,
                        },
                    );
                }
            }
        }
    }

    pub(super) fn crash(&mut self, h: usize) {
        if self.hosts[h].status != HostStatus::Running {
            return;
        }
        let host = &mut self.hosts[h];
        host.status = HostStatus::Crashed;
        host.node = None;
        host.incarnation += 1;
        host.listeners.clear();
        host.wake = None;
        for c in self.conns.values_mut() {
            for e in c.ends.iter_mut().filter(|e| e.host == h) {
                e.phase = Phase::Dead;
                e.send_buf.clear();
                e.recv_buf.clear();
                e.stall = None;
            }
        }
        self.index.clear_host(h);
    }
}
