//! SimNet's event handling: packets on the wire, sockets, host commands, faults.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::conn::{Conn, End, Packet, Phase, Stall};
use super::fault::{FaultAction, PartitionMode, describe};
use super::{Event, HostStatus, SimNet};
use crate::host::{Command, ConnId, ConnectError, HostPort, ListenError, Stream};
use crate::testing::{EventKind, Segmentation, Segmenter};
use crate::transport::{CloseAction, Disconnect};

/// Retransmission delays stop doubling here.
const MAX_RTO: Duration = Duration::from_secs(30);

/// What a packet meets on its way from one host to another.
enum Path {
    Open,
    Drop,
    Hold,
}

impl SimNet {
    pub(super) fn handle(&mut self, event: Event) {
        match event {
            Event::Wake { host, incarnation } => self.wake(host, incarnation),
            Event::Arrive { conn, to, packet } => self.arrive(conn, to, packet),
            Event::ConnectFailed {
                host,
                incarnation,
                conn,
                error,
            } => {
                if self.is_current(host, incarnation) {
                    let who = self.names[host].clone();
                    self.record(who, EventKind::ConnectFailed(error.to_string()));
                    self.call_node(host, |node, now| {
                        node.handle_connect_failed(now, conn, error)
                    });
                }
            }
            Event::ConnectDeadline { conn } => self.connect_deadline(conn),
            Event::Retransmit { conn, from } => self.retransmit(conn, from),
            Event::Fault(action) => self.apply(action),
        }
    }

    /// Runs everything the last event set in motion until the hosts are quiet, then
    /// schedules their next wake-ups.
    pub(super) fn settle(&mut self) {
        loop {
            if let Some(action) = self.due_faults.pop_front() {
                self.apply(action);
                continue;
            }
            let mut busy = false;
            for h in 0..self.hosts.len() {
                while self.hosts[h].status == HostStatus::Running {
                    let Some(command) = self.hosts[h].node.as_mut().and_then(|n| n.poll_command())
                    else {
                        break;
                    };
                    self.command(h, command);
                    busy = true;
                }
                let incarnation = self.hosts[h].incarnation;
                while self.hosts[h].status == HostStatus::Running {
                    let Some(conn) = self.hosts[h].node.as_mut().and_then(|n| n.poll_dirty())
                    else {
                        break;
                    };
                    if let Some(&end) = self.index.get(&(h, incarnation, conn)) {
                        self.work.insert(end);
                    }
                }
            }
            if let Some((conn, end)) = self.work.pop_first() {
                self.service(conn, end);
                continue;
            }
            if !busy {
                break;
            }
        }
        for h in 0..self.hosts.len() {
            self.schedule_wake(h);
        }
    }

    fn schedule_wake(&mut self, h: usize) {
        if self.hosts[h].status != HostStatus::Running {
            return;
        }
        let offset = self.hosts[h].clock_offset;
        let Some(deadline) = self.hosts[h].node.as_mut().and_then(|n| n.poll_timeout()) else {
            self.hosts[h].wake = None;
            return;
        };
        let at = crate::time::Instant::from_nanos(
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

    fn wake(&mut self, h: usize, incarnation: u32) {
        if !self.is_current(h, incarnation) || self.hosts[h].wake != Some(self.now) {
            return;
        }
        self.hosts[h].wake = None;
        self.call_node(h, |node, now| node.handle_timeout(now));
    }

    fn is_current(&self, h: usize, incarnation: u32) -> bool {
        self.hosts[h].status == HostStatus::Running && self.hosts[h].incarnation == incarnation
    }

    // ---- host commands ------------------------------------------------------------

    fn command(&mut self, h: usize, command: Command) {
        match command {
            Command::Listen { listener, addr } => {
                let outcome = self.bind(h, &addr);
                if let Ok(bound) = &outcome {
                    let loopback_only = bound.ip().is_loopback();
                    self.hosts[h]
                        .listeners
                        .insert(bound.port(), (listener, loopback_only));
                }
                self.call_node(h, |node, now| match outcome {
                    Ok(bound) => node.handle_listening(now, listener, bound),
                    Err(error) => node.handle_listen_failed(now, listener, error),
                });
            }
            Command::StopListening { listener } => {
                self.hosts[h].listeners.retain(|_, (l, _)| *l != listener);
            }
            Command::Connect { conn, to, timeout } => self.connect(h, conn, &to, timeout),
            Command::CancelConnect { conn } => {
                let incarnation = self.hosts[h].incarnation;
                if let Some((net, _)) = self.index.remove(&(h, incarnation, conn))
                    && let Some(c) = self.conns.get_mut(&net)
                {
                    c.abandoned = true;
                    c.ends[0].phase = Phase::Dead;
                    c.ends[0].stall = None;
                }
            }
            Command::Print { stream, line } => {
                let who = self.names[h].clone();
                let tag = match stream {
                    Stream::Stdout => "out",
                    Stream::Stderr => "err",
                };
                self.record(who, EventKind::Line(format!("{tag}: {line}")));
                self.hosts[h].output.push((stream, line));
            }
            Command::Exit { code } => self.exit(h, code),
        }
    }

    fn bind(&mut self, h: usize, addr: &HostPort) -> Result<SocketAddr, ListenError> {
        let host = &self.hosts[h];
        let ip = match addr.host.as_str() {
            "" | "0.0.0.0" | "::" => IpAddr::V4(host.ip),
            name if Self::is_loopback_name(name) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            name if name == host.name || name.parse::<IpAddr>() == Ok(IpAddr::V4(host.ip)) => {
                IpAddr::V4(host.ip)
            }
            _ => return Err(ListenError::BadInterface(addr.clone())),
        };
        let port = if addr.port == 0 {
            self.ephemeral_port(h)
        } else {
            addr.port
        };
        if self.hosts[h].listeners.contains_key(&port) {
            return Err(ListenError::AddressInUse(addr.clone()));
        }
        Ok(SocketAddr::new(ip, port))
    }

    fn ephemeral_port(&mut self, h: usize) -> u16 {
        let host = &mut self.hosts[h];
        loop {
            host.next_port = if host.next_port >= 65000 {
                40000
            } else {
                host.next_port + 1
            };
            if !host.listeners.contains_key(&host.next_port) {
                return host.next_port;
            }
        }
    }

    fn resolve(&self, from: usize, name: &str) -> Option<usize> {
        if Self::is_loopback_name(name) {
            return Some(from);
        }
        self.names.iter().position(|n| n == name).or_else(|| {
            let ip: IpAddr = name.parse().ok()?;
            self.hosts.iter().position(|host| IpAddr::V4(host.ip) == ip)
        })
    }

    fn connect(&mut self, h: usize, conn: ConnId, to: &HostPort, timeout: Duration) {
        let incarnation = self.hosts[h].incarnation;
        let Some(target) = self.resolve(h, &to.host) else {
            let error = ConnectError::UnknownHost(to.host.clone());
            // Reported on a later turn, never inside `connect`.
            self.schedule(
                self.now,
                Event::ConnectFailed {
                    host: h,
                    incarnation,
                    conn,
                    error,
                },
            );
            return;
        };
        let loopback = target == h;
        let (src_ip, dst_ip) = if loopback {
            (Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST)
        } else {
            (self.hosts[h].ip, self.hosts[target].ip)
        };
        let port = self.ephemeral_port(h);
        let id = self.next_conn;
        self.next_conn += 1;
        let mut client = End::new(
            h,
            incarnation,
            SocketAddr::from((src_ip, port)),
            self.segmenter(id, 0),
        );
        client.conn = Some(conn);
        let server_incarnation = self.hosts[target].incarnation;
        let server = End::new(
            target,
            server_incarnation,
            SocketAddr::from((dst_ip, to.port)),
            self.segmenter(id, 1),
        );
        self.conns.insert(
            id,
            Conn {
                ends: [client, server],
                abandoned: false,
                port: to.port,
            },
        );
        self.index.insert((h, incarnation, conn), (id, 0));
        self.send(id, 0, Packet::Syn);
        self.schedule(self.now + timeout, Event::ConnectDeadline { conn: id });
    }

    fn segmenter(&self, conn: u64, end: usize) -> Segmenter {
        let policy = match &self.config.segmentation {
            Segmentation::Seeded { seed, max } => Segmentation::Seeded {
                // Every connection end cuts differently, all from the run's seed.
                seed: seed
                    ^ self.seed.rotate_left(17)
                    ^ (conn << 1 | end as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                max: *max,
            },
            other => other.clone(),
        };
        Segmenter::new(policy)
    }

    fn exit(&mut self, h: usize, code: i32) {
        // What the program did just before exiting (a last write, an abort) happens
        // first, as it would in a process.
        let incarnation = self.hosts[h].incarnation;
        let mine: Vec<(u64, usize)> = self
            .index
            .iter()
            .filter(|((host, inc, _), _)| *host == h && *inc == incarnation)
            .map(|(_, &end)| end)
            .collect();
        for (conn, end) in mine {
            self.service(conn, end);
        }
        let who = self.names[h].clone();
        self.record(who, EventKind::Line(format!("exit {code}")));
        self.hosts[h].status = HostStatus::Exited(code);
        self.hosts[h].listeners.clear();
        self.hosts[h].wake = None;
        // A process exit closes its sockets: the kernel sends what it holds, then FIN.
        let ends: Vec<(u64, usize)> = self
            .index
            .iter()
            .filter(|((host, ..), _)| *host == h)
            .map(|(_, &end)| end)
            .collect();
        for (conn, end) in ends {
            let e = &mut self.conns.get_mut(&conn).expect("indexed").ends[end];
            match e.phase {
                Phase::Open => {
                    e.phase = Phase::Closed;
                    e.fin_queued = true;
                    self.transmit(conn, end);
                }
                Phase::Connecting => {
                    e.phase = Phase::Dead;
                    e.stall = None;
                }
                Phase::Closed | Phase::Dead => {}
            }
        }
        self.index.retain(|(host, ..), _| *host != h);
    }

    // ---- sockets ------------------------------------------------------------------

    /// Moves a host's queued bytes into the kernel, puts what the window allows on the
    /// wire, carries out the program's close, and delivers reads if it is reading.
    fn service(&mut self, conn: u64, end: usize) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let e = &c.ends[end];
        if e.phase != Phase::Open {
            self.transmit(conn, end);
            return;
        }
        let (h, hc) = (e.host, e.conn.expect("open ends have a host id"));
        loop {
            let send_buffer = self.config.send_buffer;
            let Some(node) = self.hosts[h].node.as_ref() else {
                return;
            };
            let e = &mut self.conns.get_mut(&conn).expect("checked").ends[end];
            let space = send_buffer.saturating_sub(e.send_buf.len());
            let pending = node.pending(hc);
            let n = space.min(pending.len());
            if n == 0 {
                break;
            }
            e.send_buf.extend(&pending[..n]);
            // Draining may resume the program's producer, which writes more.
            self.call_node(h, |node, now| node.consume(now, hc, n));
            self.transmit(conn, end);
        }
        self.transmit(conn, end);
        let action = self.hosts[h].node.as_ref().and_then(|n| n.close_action(hc));
        match action {
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
        self.deliver_reads(conn, end);
    }

    fn end_mut(&mut self, conn: u64, end: usize) -> &mut End {
        &mut self.conns.get_mut(&conn).expect("connection exists").ends[end]
    }

    /// Tells an end's program its connection is gone, once.
    fn lost(&mut self, conn: u64, end: usize, reason: Disconnect) {
        let c = &self.conns[&conn];
        let e = &c.ends[end];
        let who = c.end_label(&self.names, end);
        let (h, incarnation, hc) = (e.host, e.incarnation, e.conn);
        self.record(who, EventKind::Lost(reason));
        let Some(hc) = hc else { return };
        self.index.remove(&(h, incarnation, hc));
        if self.is_current(h, incarnation) {
            self.call_node(h, |node, now| node.handle_closed(now, hc, reason));
        }
    }

    /// Puts bytes (and then a pending FIN) on the wire as the receiver's window allows.
    fn transmit(&mut self, conn: u64, from: usize) {
        loop {
            let (recv_buffer, mss) = (self.config.recv_buffer, self.config.mss);
            let Some(c) = self.conns.get_mut(&conn) else {
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
                let data: Vec<u8> = e.send_buf.drain(..n).collect();
                e.in_flight += n;
                self.send(conn, from, Packet::Data(data));
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
    fn deliver_reads(&mut self, conn: u64, to: usize) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let e = &mut c.ends[to];
            if e.phase != Phase::Open {
                return;
            }
            let (h, hc) = (e.host, e.conn.expect("open ends have a host id"));
            let Some(node) = self.hosts[h].node.as_ref() else {
                return;
            };
            if node.reading_paused(hc) {
                return;
            }
            let accepts = node.accepts_data(hc);
            if !e.recv_buf.is_empty() {
                let n = e.reads.next_read(e.recv_buf.len());
                let chunk: Vec<u8> = e.recv_buf.drain(..n).collect();
                e.bytes_delivered += n as u64;
                e.frames.feed(&chunk);
                let who = c.label(&self.names, 1 - to);
                self.check_triggers(conn, to);
                let what = if accepts {
                    EventKind::Data(chunk.clone())
                } else {
                    EventKind::Discarded(chunk.len())
                };
                self.record(who, what);
                self.call_node(h, |node, now| node.handle_data(now, hc, &chunk));
                // The window opened: the sender may put more on the wire.
                self.work.insert((conn, 1 - to));
                continue;
            }
            if e.eof_received && !e.eof_delivered {
                e.eof_delivered = true;
                let who = c.label(&self.names, 1 - to);
                self.record(who, EventKind::Eof);
                self.call_node(h, |node, now| node.handle_read_closed(now, hc));
            }
            return;
        }
    }

    fn check_triggers(&mut self, conn: u64, to: usize) {
        let c = &self.conns[&conn];
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
            } else {
                i += 1;
            }
        }
    }

    // ---- the wire -----------------------------------------------------------------

    fn path(&self, from: usize, to: usize) -> Path {
        if from == to {
            return Path::Open;
        }
        match self.partitions.get(&(from, to)) {
            Some(PartitionMode::Drop) => Path::Drop,
            Some(PartitionMode::Hold) => Path::Hold,
            None => Path::Open,
        }
    }

    /// Sends a packet from one end toward the other, through partitions and stalls.
    fn send(&mut self, conn: u64, from: usize, packet: Packet) {
        let c = &self.conns[&conn];
        let (src, dst) = (c.ends[from].host, c.ends[1 - from].host);
        if packet.is_reliable() && c.ends[from].stall.is_some() {
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
            Path::Hold => self
                .held
                .entry((src, dst))
                .or_default()
                .push_back((conn, from, packet)),
            Path::Drop => self.lose(conn, from, packet),
        }
    }

    /// A packet was lost: reliable ones wait for a retransmission.
    fn lose(&mut self, conn: u64, from: usize, packet: Packet) {
        if !packet.is_reliable() {
            return;
        }
        let (now, rto) = (self.now, self.config.initial_rto);
        let e = self.end_mut(conn, from);
        match &mut e.stall {
            Some(stall) => stall.queue.push_back(packet),
            None => {
                e.stall = Some(Stall {
                    queue: VecDeque::from([packet]),
                    since: now,
                    rto,
                });
                self.schedule(now + rto, Event::Retransmit { conn, from });
            }
        }
    }

    fn put_on_wire(&mut self, conn: u64, from: usize, packet: Packet) {
        let c = &self.conns[&conn];
        let (src, dst) = (c.ends[from].host, c.ends[1 - from].host);
        let latency = if src == dst {
            Duration::ZERO
        } else {
            let latency = self
                .link_latency
                .get(&(src, dst))
                .unwrap_or(&self.config.latency)
                .clone();
            latency.sample(&mut self.rng)
        };
        let now = self.now;
        let e = self.end_mut(conn, from);
        // In order per direction: never overtake the previous packet.
        let at = (now + latency).max(e.last_arrival);
        e.last_arrival = at;
        self.schedule(
            at,
            Event::Arrive {
                conn,
                to: 1 - from,
                packet,
            },
        );
    }

    fn retransmit(&mut self, conn: u64, from: usize) {
        let Some(c) = self.conns.get(&conn) else {
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
                let was_open = e.phase == Phase::Open;
                let e = self.end_mut(conn, from);
                e.stall = None;
                e.send_buf.clear();
                e.phase = Phase::Dead;
                if was_open {
                    self.lost(conn, from, Disconnect::TimedOut);
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

    fn connect_deadline(&mut self, conn: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.abandoned || c.ends[0].phase != Phase::Connecting {
            return;
        }
        c.abandoned = true;
        let e = &mut c.ends[0];
        e.phase = Phase::Dead;
        e.stall = None;
        let (h, incarnation, hc) = (
            e.host,
            e.incarnation,
            e.conn.expect("connecting end has an id"),
        );
        self.index.remove(&(h, incarnation, hc));
        self.connect_failed(h, incarnation, hc, ConnectError::TimedOut);
    }

    fn connect_failed(&mut self, h: usize, incarnation: u32, hc: ConnId, error: ConnectError) {
        if !self.is_current(h, incarnation) {
            return;
        }
        let who = self.names[h].clone();
        self.record(who, EventKind::ConnectFailed(error.to_string()));
        self.call_node(h, |node, now| node.handle_connect_failed(now, hc, error));
    }

    /// A packet reaches an end.
    fn arrive(&mut self, conn: u64, to: usize, packet: Packet) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
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
            (Packet::SynAck, Phase::Connecting) if !c.abandoned => self.established(conn),
            (Packet::SynAck, _) => self.send(conn, to, Packet::Rst),
            (Packet::Refused, Phase::Connecting) => {
                let (incarnation, hc) = (e.incarnation, e.conn.expect("connecting end has an id"));
                self.end_mut(conn, to).phase = Phase::Dead;
                self.index.remove(&(h, incarnation, hc));
                self.connect_failed(h, incarnation, hc, ConnectError::Refused);
            }
            (Packet::Data(bytes), Phase::Open) => {
                let [a, b] = &mut self.conns.get_mut(&conn).expect("checked").ends;
                let (e, sender) = if to == 0 { (a, b) } else { (b, a) };
                sender.in_flight = sender.in_flight.saturating_sub(bytes.len());
                e.recv_buf.extend(bytes);
                self.deliver_reads(conn, to);
            }
            (Packet::Data(bytes), _) => {
                // Data for a closed or unknown socket: the kernel answers with a reset.
                let sender = &mut self.end_mut(conn, 1 - to);
                sender.in_flight = sender.in_flight.saturating_sub(bytes.len());
                let who = self.conns[&conn].end_label(&self.names, to);
                self.record(who, EventKind::Discarded(bytes.len()));
                self.send(conn, to, Packet::Rst);
            }
            (Packet::Fin, Phase::Open) => {
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
            (Packet::Rst, Phase::Closed) => {
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
    fn syn(&mut self, conn: u64) {
        let c = &self.conns[&conn];
        let h = c.ends[1].host;
        let loopback = c.ends[0].host == h;
        let listener = match self.hosts[h].status {
            HostStatus::Running => self.hosts[h].listeners.get(&c.port).copied(),
            _ => None,
        };
        let Some((listener, loopback_only)) = listener.filter(|(_, lo)| loopback || !lo) else {
            return self.send(conn, 1, Packet::Refused);
        };
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
        let who = self.conns[&conn].end_label(&self.names, 1);
        self.record(who, EventKind::Open);
        self.send(conn, 1, Packet::SynAck);
    }

    /// The connecting end learns its connection is up.
    fn established(&mut self, conn: u64) {
        let c = &self.conns[&conn];
        let e = &c.ends[0];
        let (h, hc) = (e.host, e.conn.expect("connecting end has an id"));
        let (local, peer) = (e.addr, c.ends[1].addr);
        let accepted = self
            .call_node(h, |node, now| node.handle_connected(now, hc, local, peer))
            .unwrap_or(false);
        if !accepted {
            return self.send(conn, 0, Packet::Rst);
        }
        self.end_mut(conn, 0).phase = Phase::Open;
        let who = self.conns[&conn].end_label(&self.names, 0);
        self.record(who, EventKind::Open);
        self.work.insert((conn, 0));
    }

    // ---- faults -------------------------------------------------------------------

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
                            && c.ends
                                .iter()
                                .any(|e| matches!(e.phase, Phase::Open | Phase::Closed))
                            && spec
                                .port
                                .is_none_or(|p| c.ends.iter().any(|e| e.addr.port() == p))
                    })
                    .map(|(&id, _)| id)
                    .collect();
                for conn in victims {
                    for end in 0..2 {
                        let e = self.end_mut(conn, end);
                        let was_open = e.phase == Phase::Open;
                        e.phase = Phase::Dead;
                        e.send_buf.clear();
                        e.recv_buf.clear();
                        e.stall = None;
                        if was_open {
                            self.lost(conn, end, Disconnect::Reset);
                        }
                    }
                }
            }
            FaultAction::Latency(spec) => match (spec.a, spec.b) {
                (Some(a), Some(b)) => self.set_latency(&a, &b, spec.latency),
                _ => {
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

    fn crash(&mut self, h: usize) {
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
        self.index.retain(|(host, ..), _| *host != h);
    }
}
