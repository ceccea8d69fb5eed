//! What hosts ask of the network: listen, connect, print, exit.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::conn::{Conn, End, Packet, Phase};
use super::{Event, HostStatus, Listener, SimNet};
use crate::host::{
    Command, ConnId, ConnectError, DEFAULT_BACKLOG, HostPort, ListenError, ListenerId, Stream,
};
use crate::testing::{EventKind, Segmentation, Segmenter};

impl SimNet {
    pub(super) fn command(&mut self, h: usize, command: Command) {
        match command {
            Command::Listen {
                listener,
                addr,
                backlog,
            } => {
                let outcome = self.bind(h, &addr);
                if let Ok(bound) = &outcome {
                    let entry = Listener {
                        id: listener,
                        loopback_only: bound.ip().is_loopback(),
                        backlog: backlog.unwrap_or(DEFAULT_BACKLOG),
                        paused: false,
                        waiting: VecDeque::new(),
                    };
                    self.hosts[h].listeners.insert(bound.port(), entry);
                }
                self.call_node(h, |node, now| match outcome {
                    Ok(bound) => node.handle_listening(now, listener, bound),
                    Err(error) => node.handle_listen_failed(now, listener, error),
                });
            }
            Command::StopListening { listener } => {
                let ports: Vec<u16> = self.listener_ports(h, listener);
                for port in ports {
                    let closed = self.hosts[h].listeners.remove(&port);
                    // Connections still in the backlog are refused with a reset.
                    for conn in closed.into_iter().flat_map(|l| l.waiting) {
                        self.end_mut(conn, 1).phase = Phase::Dead;
                        self.send(conn, 1, Packet::Rst);
                    }
                }
            }
            Command::PauseAccepting { listener } => {
                for port in self.listener_ports(h, listener) {
                    if let Some(l) = self.hosts[h].listeners.get_mut(&port) {
                        l.paused = true;
                    }
                }
            }
            Command::ResumeAccepting { listener } => {
                let incarnation = self.hosts[h].incarnation;
                for port in self.listener_ports(h, listener) {
                    if let Some(l) = self.hosts[h].listeners.get_mut(&port) {
                        l.paused = false;
                        if !l.waiting.is_empty() {
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
                }
            }
            Command::Connect { conn, to, timeout } => self.connect(h, conn, &to, timeout),
            Command::CancelConnect { conn } => {
                let incarnation = self.hosts[h].incarnation;
                if let Some((net, _)) = self.index.remove(&(h, incarnation, conn))
                    && let Some(c) = self.conns.get_mut(net)
                {
                    c.awaiting_answer = false;
                    c.ends[0].phase = Phase::Dead;
                    c.ends[0].stall = None;
                }
            }
            Command::Print { stream, line } => {
                let who = self.labels[h].clone();
                let tag = match stream {
                    Stream::Stdout => "out: ",
                    Stream::Stderr => "err: ",
                };
                // Built by hand: `format!` pads every argument, and programs print a lot.
                let mut text = String::with_capacity(tag.len() + line.len());
                text.push_str(tag);
                text.push_str(&line);
                self.record(who, EventKind::Line(text));
                self.hosts[h].output.push((stream, line));
            }
            Command::Exit { code } => self.exit(h, code),
        }
    }

    fn listener_ports(&self, h: usize, listener: ListenerId) -> Vec<u16> {
        (self.hosts[h].listeners.iter())
            .filter(|(_, l)| l.id == listener)
            .map(|(&port, _)| port)
            .collect()
    }

    pub(super) fn bind(&mut self, h: usize, addr: &HostPort) -> Result<SocketAddr, ListenError> {
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

    pub(super) fn ephemeral_port(&mut self, h: usize) -> u16 {
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

    pub(super) fn resolve(&self, from: usize, name: &str) -> Option<usize> {
        if Self::is_loopback_name(name) {
            return Some(from);
        }
        self.host_index(name).or_else(|| {
            let ip: Ipv4Addr = name.parse().ok()?;
            self.by_ip.get(&ip).copied()
        })
    }

    pub(super) fn connect(&mut self, h: usize, conn: ConnId, to: &HostPort, timeout: Duration) {
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
        let made = Conn::new([client, server], to.port, &self.names);
        self.conns.insert(id, Box::new(made));
        self.index.insert((h, incarnation, conn), (id, 0));
        self.send(id, 0, Packet::Syn);
        self.schedule(self.now + timeout, Event::ConnectDeadline { conn: id });
    }

    pub(super) fn segmenter(&self, conn: u64, end: usize) -> Segmenter {
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

    pub(super) fn exit(&mut self, h: usize, code: i32) {
        // What the program did just before exiting (a last write, an abort) happens
        // first, as it would in a process.
        for (conn, end) in self.index.ends_of(h) {
            self.service(conn, end);
        }
        let who = self.labels[h].clone();
        self.record(who, EventKind::Line(format!("exit {code}")));
        self.hosts[h].status = HostStatus::Exited(code);
        // Connections still in a backlog were never the program's: they are reset.
        let listeners = std::mem::take(&mut self.hosts[h].listeners);
        for conn in listeners.into_values().flat_map(|l| l.waiting) {
            // A connection reset while it waited may be gone already.
            if self.conns.contains_key(conn) {
                self.end_mut(conn, 1).phase = Phase::Dead;
                self.send(conn, 1, Packet::Rst);
            }
        }
        self.hosts[h].wake = None;
        // A process exit closes its sockets: the kernel sends what it holds, then FIN.
        for (conn, end) in self.index.ends_of(h) {
            let e = &mut self.conns.get_mut(conn).expect("indexed").ends[end];
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
                Phase::Queued | Phase::Closed | Phase::Dead => {}
            }
        }
        self.index.clear_host(h);
    }
}
