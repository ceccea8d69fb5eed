//! What hosts ask of the network: listen, connect, print, exit.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::conn::{Conn, End, Packet, Phase};
use super::{Event, FailedConnect, HostStatus, Listener, SimNet};
use crate::host::{
    Command, ConnId, ConnectError, DEFAULT_BACKLOG, HostPort, ListenError, ListenerId, Stream,
};
use crate::testing::{EventKind, Segmentation, Segmenter};

/// How many ports the ephemeral range holds (40000 to 65000).
const EPHEMERAL_PORTS: usize = 25_001;
/// Why a connect or a listen on port 0 fails when the range is used up.
const NO_FREE_PORT: &str = "cannot assign requested address: every ephemeral port is in use";

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
                .ok_or_else(|| ListenError::Other(NO_FREE_PORT.to_owned()))?
        } else {
            addr.port
        };
        if self.hosts[h].listeners.contains_key(&port) {
            return Err(ListenError::AddressInUse(addr.clone()));
        }
        Ok(SocketAddr::new(ip, port))
    }

    /// The next free port of the ephemeral range (40001 to 65000, then from 40000 again):
    /// none a listener or a kept outgoing connection of the host holds. `None` when
    /// every one is taken, as a kernel's "cannot assign requested address".
    pub(super) fn ephemeral_port(&mut self, h: usize) -> Option<u16> {
        let host = &mut self.hosts[h];
        for _ in 0..EPHEMERAL_PORTS {
            host.next_port = if host.next_port >= 65000 {
                40000
            } else {
                host.next_port + 1
            };
            let port = host.next_port;
            if !host.listeners.contains_key(&port) && !host.ports_in_use.contains(&port) {
                return Some(port);
            }
        }
        None
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
                Event::ConnectFailed(Box::new(FailedConnect {
                    host: h,
                    incarnation,
                    conn,
                    error,
                })),
            );
            return;
        };
        let loopback = target == h;
        let (src_ip, dst_ip) = if loopback {
            (Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST)
        } else {
            (self.hosts[h].ip, self.hosts[target].ip)
        };
        let Some(port) = self.ephemeral_port(h) else {
            let error = ConnectError::Other(NO_FREE_PORT.to_owned());
            self.schedule(
                self.now,
                Event::ConnectFailed(Box::new(FailedConnect {
                    host: h,
                    incarnation,
                    conn,
                    error,
                })),
            );
            return;
        };
        self.hosts[h].ports_in_use.insert(port);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{FactoryProgram, Host, Node};
    use crate::programs::heartbeat::HeartbeatFactory;
    use crate::simnet::NetConfig;
    use crate::time::Instant;

    #[test]
    fn the_ephemeral_range_skips_ports_kept_connections_hold_after_wrapping() {
        let mut net = SimNet::new(NetConfig::default(), 1);
        net.add_host("h", || -> Box<dyn Node> {
            Box::new(Host::new(FactoryProgram::new(HeartbeatFactory)))
        });
        assert_eq!(net.ephemeral_port(0), Some(40001));
        // Every port but 40003 held: the range wraps past 65000 and still finds it.
        let held = (40000..=65000).filter(|&p| p != 40003);
        net.hosts[0].ports_in_use.extend(held);
        assert_eq!(net.ephemeral_port(0), Some(40003));
        net.hosts[0].ports_in_use.insert(40003);
        assert_eq!(net.ephemeral_port(0), None, "every port is taken");
        net.hosts[0].ports_in_use.remove(&50000);
        assert_eq!(net.ephemeral_port(0), Some(50000));
    }

    #[test]
    fn connections_closed_at_both_ends_are_dropped_and_give_their_ports_back() {
        let catalogue = crate::programs::catalogue();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sim/proxy-three-clients.toml");
        let scenario = crate::scenario::Scenario::load(path.as_ref(), &catalogue).unwrap();
        let mut net = scenario.network(&catalogue, scenario.seed).unwrap();
        net.run_until(Instant::ZERO + Duration::from_secs(1));
        let held = |net: &SimNet| {
            net.hosts
                .iter()
                .map(|h| h.ports_in_use.len())
                .sum::<usize>()
        };
        assert!(held(&net) > 0, "the clients' connections are open at 1 s");
        net.run_until(Instant::ZERO + scenario.duration);
        let who: Vec<_> = (net.hosts.iter())
            .map(|h| (h.name.clone(), h.ports_in_use.len()))
            .collect();
        assert_eq!(held(&net), 0, "every connection has ended: {who:?}");
        assert_eq!(net.connections_kept(), 0, "and none is kept");
    }
}
