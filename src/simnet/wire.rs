//! The wire: latency, partitions, loss and retransmission, and what arrives.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use super::conn::{Conn, End, Packet, Phase, Stall};
use super::draw::LatencyDraw;
use super::fault::PartitionMode;
use super::{Event, HostStatus, SimNet};
use crate::host::{ConnId, ConnectError};
use crate::testing::EventKind;
use crate::time::Instant;
use crate::transport::Disconnect;

/// Retransmission delays stop doubling here.
const MAX_RTO: Duration = Duration::from_secs(30);

/// What a packet meets on its way from one host to another.
enum Path {
    Open,
    Drop,
    Hold,
}

/// One packet's latency from `src` to `dst` (none to itself), drawn from the link's
/// distribution or the network's.
#[inline(always)]
pub(super) fn draw_latency(
    links: &BTreeMap<(usize, usize), LatencyDraw>,
    default: &LatencyDraw,
    rng: &mut ChaCha8Rng,
    src: usize,
    dst: usize,
) -> u64 {
    if src == dst {
        return 0;
    }
    let draw = if links.is_empty() {
        default
    } else {
        links.get(&(src, dst)).unwrap_or(default)
    };
    draw.sample_nanos(rng)
}

/// Queues `packet` on `from`'s wire, to arrive `latency` from `now` but never before
/// the previous packet of its direction; returns when it arrives.
#[inline(always)]
fn onto_wire(c: &mut Conn, from: usize, now: Instant, latency: u64, packet: Packet) -> Instant {
    c.packets += 1;
    onto_end_wire(&mut c.ends[from], now, latency, packet)
}

/// [`onto_wire`] for a caller holding the sending end `e` alone: the caller counts
/// the packet in its connection's `packets`.
#[inline(always)]
pub(super) fn onto_end_wire(e: &mut End, now: Instant, latency: u64, packet: Packet) -> Instant {
    let at = Instant::from_nanos(now.as_nanos().saturating_add(latency));
    let at = at.max(e.last_arrival);
    e.last_arrival = at;
    e.wire.push_back(packet);
    at
}

/// Whether a packet from end `e` of a connection between `hosts` meets nothing on its
/// way: no stall behind a lost packet, and no partition that could apply
/// (`no_partitions`, or both ends on one host). [`SimNet::send`]'s test for its
/// common case, and the short path's.
#[inline(always)]
pub(super) fn nothing_in_the_way(e: &End, hosts: [u32; 2], no_partitions: bool) -> bool {
    e.stall.is_none() && (no_partitions || hosts[0] == hosts[1])
}

/// What [`SimNet::put_on_wire`] does with the connection: draws the latency and
/// queues the packet; returns when and at which host it arrives, to schedule.
#[inline(always)]
fn onto_open_wire(
    c: &mut Conn,
    from: usize,
    now: Instant,
    links: &BTreeMap<(usize, usize), LatencyDraw>,
    default: &LatencyDraw,
    rng: &mut ChaCha8Rng,
    packet: Packet,
) -> (Instant, usize) {
    let (src, dst) = (c.hosts[from] as usize, c.hosts[1 - from] as usize);
    let latency = draw_latency(links, default, rng, src, dst);
    (onto_wire(c, from, now, latency, packet), dst)
}

impl SimNet {
    fn path(&self, from: usize, to: usize) -> Path {
        if from == to || self.partitions.is_empty() {
            return Path::Open;
        }
        match self.partitions.get(&(from, to)) {
            Some(PartitionMode::Drop) => Path::Drop,
            Some(PartitionMode::Hold) => Path::Hold,
            None => Path::Open,
        }
    }

    /// Sends a packet from one end toward the other, through partitions and stalls.
    pub(super) fn send(&mut self, conn: u64, from: usize, packet: Packet) {
        let c = (self.conns.get_mut(conn)).expect("a packet's connection exists");
        let (src, dst) = (c.hosts[from] as usize, c.hosts[1 - from] as usize);
        // The common case in one look: no stall behind a lost packet, no partition.
        if !nothing_in_the_way(&c.ends[from], c.hosts, self.partitions.is_empty()) {
            return self.send_past_faults(conn, from, src, dst, packet);
        }
        self.put_on_wire(conn, from, packet);
    }

    /// Puts a packet on the wire past any partition or stall (a heal, a retransmission,
    /// or a send that met neither): draws the latency, queues the packet and schedules
    /// its arrival.
    #[inline(always)]
    pub(super) fn put_on_wire(&mut self, conn: u64, from: usize, packet: Packet) {
        let c = (self.conns.get_mut(conn)).expect("a packet's connection exists");
        let (at, dst) = onto_open_wire(
            c,
            from,
            self.now,
            &self.link_latency,
            &self.default_latency,
            &mut self.rng,
            packet,
        );
        self.schedule_arrival(at, conn, from, dst);
    }

    #[inline(always)]
    pub(super) fn schedule_arrival(&mut self, at: Instant, conn: u64, from: usize, dst: usize) {
        // Host indices fit 32 bits (an address each, and a host's state is far larger).
        let host = dst as u32;
        let to = 1 - from;
        self.schedule(at, Event::Arrive { conn, to, host });
    }

    /// [`send`](Self::send) with a stall on the sending end or a partition somewhere.
    #[cold]
    fn send_past_faults(&mut self, conn: u64, from: usize, src: usize, dst: usize, packet: Packet) {
        if self.conns[conn].ends[from].stall.is_some() && packet.is_reliable() {
            // Behind a lost packet: wait for its retransmission, in order.
            self.end_mut(conn, from)
                .stall
                .as_mut()
                .expect("checked")
                .queue
                .push_back(packet);
            return;
        }
        match self.path(src, dst) {
            Path::Open => self.put_on_wire(conn, from, packet),
            Path::Hold => {
                self.conns.get_mut(conn).expect("checked").packets += 1;
                (self.held.entry((src, dst)).or_default()).push_back((conn, from, packet));
            }
            Path::Drop => self.lose(conn, from, packet),
        }
    }

    /// A packet was lost: reliable ones wait for a retransmission.
    pub(super) fn lose(&mut self, conn: u64, from: usize, packet: Packet) {
        if !packet.is_reliable() {
            return;
        }
        let (now, rto) = (self.now, self.config.initial_rto);
        let e = self.end_mut(conn, from);
        match &mut e.stall {
            Some(stall) => stall.queue.push_back(packet),
            None => {
                e.stall = Some(Box::new(Stall {
                    queue: VecDeque::from([packet]),
                    since: now,
                    rto,
                }));
                self.schedule(now + rto, Event::Retransmit { conn, from });
            }
        }
    }

    pub(super) fn retransmit(&mut self, conn: u64, from: usize) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        let e = &c.ends[from];
        let Some(stall) = &e.stall else { return };
        let (src, dst) = (e.host, c.ends[1 - from].host);
        let dst_down = self.hosts[dst].status == HostStatus::Crashed;
        match self.path(src, dst) {
            Path::Open if !dst_down => {
                let stall = self.end_mut(conn, from).stall.take().expect("checked");
                for packet in stall.queue {
                    self.put_on_wire(conn, from, packet);
                }
            }
            _ if self.now - stall.since >= self.config.retransmit_timeout => {
                let phase = e.phase;
                let e = self.end_mut(conn, from);
                e.stall = None;
                e.send_buf.clear();
                e.phase = Phase::Dead;
                match phase {
                    Phase::Open => self.lost(conn, from, Disconnect::TimedOut),
                    // The SYN's retransmissions gave up: ETIMEDOUT, before the deadline.
                    Phase::Connecting if from == 0 => {
                        self.fail_connect(conn, ConnectError::TimedOut);
                    }
                    _ => {}
                }
            }
            _ => {
                let now = self.now;
                let stall = self.end_mut(conn, from).stall.as_mut().expect("checked");
                stall.rto = (stall.rto * 2).min(MAX_RTO);
                let at = now + stall.rto;
                self.schedule(at, Event::Retransmit { conn, from });
            }
        }
    }

    /// The connect's timeout: whatever happened to the connection meanwhile, a connect
    /// still unanswered fails now.
    pub(super) fn connect_deadline(&mut self, conn: u64) {
        self.fail_connect(conn, ConnectError::TimedOut);
    }

    /// Ends the connecting side of `conn` with `error`, if its program is still owed an
    /// answer (never twice, never after `connection_made`). Every way a connect can
    /// fail comes through here, so none can leave it unanswered.
    pub(super) fn fail_connect(&mut self, conn: u64, error: ConnectError) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if !c.awaiting_answer {
            return;
        }
        c.awaiting_answer = false;
        let e = &mut c.ends[0];
        e.phase = Phase::Dead;
        e.stall = None;
        e.send_buf.clear();
        let (h, incarnation, hc) = (
            e.host,
            e.incarnation,
            e.conn.expect("connecting end has an id"),
        );
        self.index.remove(&(h, incarnation, hc));
        self.connect_failed(h, incarnation, hc, error);
    }

    pub(super) fn connect_failed(
        &mut self,
        h: usize,
        incarnation: u32,
        hc: ConnId,
        error: ConnectError,
    ) {
        if !self.is_current(h, incarnation) {
            return;
        }
        let who = self.labels[h].clone();
        self.record(who, EventKind::ConnectFailed(error.to_string()));
        self.call_node(h, |node, now| node.handle_connect_failed(now, hc, error));
    }

    /// [`arrive`](Self::arrive) of a packet taken off the wire, in general.
    #[inline(never)]
    pub(super) fn arrive_unusual(&mut self, conn: u64, to: usize, packet: Packet) {
        let c = &self.conns[conn];
        // While the sending end stays open the connection cannot be done with by the
        // end of this step (an open end leaves only by sending, or by a fault, which
        // only a trigger can bring into this step).
        if c.ends[1 - to].phase != Phase::Open || !self.triggers.is_empty() {
            self.note_finishing(conn);
        }
        let c = &self.conns[conn];
        let e = &c.ends[to];
        let h = e.host;
        match self.hosts[h].status {
            // A dead machine answers nothing; the sender retransmits into the void.
            HostStatus::Crashed => return self.lose(conn, 1 - to, packet),
            HostStatus::Exited(_) | HostStatus::Running => {}
        }
        if let Packet::Syn = packet {
            return self.syn(conn);
        }
        let stale = e.incarnation != self.hosts[h].incarnation
            || matches!(self.hosts[h].status, HostStatus::Exited(_)) && e.phase != Phase::Closed;
        let phase = if stale { Phase::Dead } else { e.phase };
        match (packet, phase) {
            (Packet::SynAck, Phase::Connecting) if c.awaiting_answer => self.established(conn),
            (Packet::SynAck, _) => self.send(conn, to, Packet::Rst),
            // A reset in answer to a SYN is a refusal, as TCP reports it in SYN-SENT.
            (Packet::Refused | Packet::Rst, Phase::Connecting) if to == 0 => {
                self.fail_connect(conn, ConnectError::Refused);
            }
            (Packet::Data(bytes), Phase::Open | Phase::Queued) => {
                let sender = self.end_mut(conn, 1 - to);
                sender.in_flight = sender.in_flight.saturating_sub(bytes.len());
                self.deliver_arrival(conn, to, bytes);
            }
            (Packet::Data(bytes), _) => {
                // Data for a closed or unknown socket: the kernel answers with a reset.
                let sender = &mut self.end_mut(conn, 1 - to);
                sender.in_flight = sender.in_flight.saturating_sub(bytes.len());
                let who = self.conns[conn].end_label(to);
                self.record(who, EventKind::Discarded(bytes.len()));
                self.send(conn, to, Packet::Rst);
            }
            (Packet::Fin, Phase::Open | Phase::Queued) => {
                self.end_mut(conn, to).eof_received = true;
                self.deliver_reads(conn, to);
            }
            (Packet::Rst, Phase::Open) => {
                let e = self.end_mut(conn, to);
                e.phase = Phase::Dead;
                e.recv_buf.clear();
                e.send_buf.clear();
                e.stall = None;
                self.lost(conn, to, Disconnect::Reset);
            }
            (Packet::Rst, Phase::Closed | Phase::Queued) => {
                let e = self.end_mut(conn, to);
                e.phase = Phase::Dead;
                e.send_buf.clear();
                e.stall = None;
            }
            // Anything else reaching a dead end, or a FIN for a closed one, is ignored.
            _ => {}
        }
    }

    /// A connection request reaches the accepting host.
    pub(super) fn syn(&mut self, conn: u64) {
        let c = &self.conns[conn];
        let h = c.ends[1].host;
        let loopback = c.ends[0].host == h;
        let port = c.port;
        let incarnation = self.hosts[h].incarnation;
        let listener = match self.hosts[h].status {
            HostStatus::Running => self.hosts[h].listeners.get_mut(&port),
            _ => None,
        };
        let Some(listener) = listener.filter(|l| loopback || !l.loopback_only) else {
            return self.send(conn, 1, Packet::Refused);
        };
        if listener.paused || !listener.waiting.is_empty() {
            if listener.waiting.len() >= listener.backlog as usize {
                // A full backlog answers nothing; the client retransmits its SYN.
                return self.lose(conn, 0, Packet::Syn);
            }
            listener.waiting.push_back(conn);
            let e = self.end_mut(conn, 1);
            e.incarnation = incarnation;
            e.phase = Phase::Queued;
            return self.send(conn, 1, Packet::SynAck);
        }
        self.accept(conn);
        self.send(conn, 1, Packet::SynAck);
    }

    /// Hands a connection to the accepting host's program.
    pub(super) fn accept(&mut self, conn: u64) {
        let c = &self.conns[conn];
        let h = c.ends[1].host;
        let Some(listener) = self.hosts[h].listeners.get(&c.port) else {
            return;
        };
        let (listener, loopback_only) = (listener.id, listener.loopback_only);
        let incarnation = self.hosts[h].incarnation;
        let (local, peer) = (c.ends[1].addr, c.ends[0].addr);
        let local = if loopback_only {
            SocketAddr::from((Ipv4Addr::LOCALHOST, local.port()))
        } else {
            local
        };
        let Some(hc) = self.call_node(h, |node, now| {
            node.handle_accepted(now, listener, local, peer)
        }) else {
            return;
        };
        let e = self.end_mut(conn, 1);
        e.incarnation = incarnation;
        e.conn = Some(hc);
        e.phase = Phase::Open;
        self.index.insert((h, incarnation, hc), (conn, 1));
        let who = self.conns[conn].end_label(1);
        self.record(who, EventKind::Open);
    }

    /// Takes the oldest waiting connection off a listener's backlog, and schedules the
    /// next if the program is still accepting after hearing of this one.
    pub(super) fn accept_waiting(&mut self, h: usize, incarnation: u32, port: u16) {
        if !self.is_current(h, incarnation) {
            return;
        }
        let Some(listener) = self.hosts[h].listeners.get_mut(&port) else {
            return;
        };
        if listener.paused {
            return;
        }
        let Some(conn) = listener.waiting.pop_front() else {
            return;
        };
        let more = !listener.waiting.is_empty();
        if self
            .conns
            .get(conn)
            .is_some_and(|c| c.ends[1].phase == Phase::Queued)
        {
            self.accept(conn);
            self.deliver_reads(conn, 1);
        }
        if more {
            self.schedule(
                self.now,
                Event::Accept {
                    host: h,
                    incarnation,
                    port,
                },
            );
        }
    }

    /// The connecting end learns its connection is up.
    pub(super) fn established(&mut self, conn: u64) {
        let c = &self.conns[conn];
        let e = &c.ends[0];
        let (h, hc) = (e.host, e.conn.expect("connecting end has an id"));
        let (local, peer) = (e.addr, c.ends[1].addr);
        let accepted = self
            .call_node(h, |node, now| node.handle_connected(now, hc, local, peer))
            .unwrap_or(false);
        let c = self.conns.get_mut(conn).expect("checked");
        c.awaiting_answer = false;
        if !accepted {
            return self.send(conn, 0, Packet::Rst);
        }
        c.ends[0].phase = Phase::Open;
        let who = self.conns[conn].end_label(0);
        self.record(who, EventKind::Open);
        self.queue_service(conn, 0);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Fault, Latency, NetConfig, SimNet};
    use super::*;
    use crate::host::{FactoryProgram, Host, HostPort, Node};
    use crate::programs::pingpong::PingPongFactory;

    fn ping_pong(exchanges: u64) -> SimNet {
        let config = NetConfig {
            latency: Latency::Fixed(Duration::from_millis(5)),
            ..NetConfig::default()
        };
        let mut net = SimNet::new(config, 3);
        net.add_host("server", || {
            let server = FactoryProgram::new(PingPongFactory::server(None));
            Box::new(Host::new(server.listen(HostPort::new("0.0.0.0", 8000)))) as Box<dyn Node>
        });
        net.add_host("client", move || {
            let client = FactoryProgram::new(PingPongFactory::client(Some(exchanges)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done();
            Box::new(Host::new(client)) as Box<dyn Node>
        });
        net
    }

    #[test]
    fn a_held_link_keeps_packets_off_the_wire_until_it_heals() {
        let mut net = ping_pong(100);
        let ms = Duration::from_millis;
        net.add_fault(Fault::at(ms(100)).partition("client", "server").hold());
        net.add_fault(Fault::at(ms(800)).heal("client", "server"));
        net.run_for(ms(200));
        let held: usize = net.held.values().map(VecDeque::len).sum();
        assert!(held > 0, "what was sent after the cut waits at it");
        let quiet = net.transcript().events().len();
        net.run_for(ms(500));
        assert_eq!(net.transcript().events().len(), quiet, "nothing crosses");
        assert!(net.run_until_exit(&["client"], Duration::from_secs(60)));
        assert_eq!(net.exit_code("client"), Some(0));
        assert!(
            net.held.values().all(VecDeque::is_empty),
            "released at the heal"
        );
    }

    #[test]
    fn a_packet_sent_behind_a_lost_one_waits_for_the_retransmission_not_on_the_wire() {
        let mut net = ping_pong(1_000);
        net.run_for(Duration::from_millis(100));
        let conn = (net.conns.iter().next().map(|(id, _)| id)).expect("the client's connection");
        let from = 0;
        let packets = net.conns[conn].packets;
        let (now, rto) = (net.now, net.config.initial_rto);
        net.end_mut(conn, from).stall = Some(Box::new(Stall {
            queue: VecDeque::new(),
            since: now,
            rto,
        }));
        let seq = net.seq;
        net.send(conn, from, Packet::Fin);
        let e = &net.conns[conn].ends[from];
        assert_eq!(
            e.stall.as_ref().map(|s| s.queue.len()),
            Some(1),
            "queued behind"
        );
        assert_eq!(net.conns[conn].packets, packets, "not on the wire");
        assert_eq!(net.seq, seq, "no arrival scheduled");
    }
}
