//! A tiny in-memory network for tests: several hosts, each running a program, joined by
//! connections with no latency, on one virtual clock. Test-only scaffolding until
//! SimNet exists; it models nothing beyond delivery in order.
//!
//! - Every host listens on the shared loopback: a listener is found by port alone, and
//!   clients see the server as `127.0.0.1:port`.
//! - A connect is answered on a later turn: once every host is quiet, connects are
//!   completed in the order they were made (or refused if nothing listens).
//! - Bytes move whole, at once; a clean close delivers end-of-stream to the peer, an
//!   abort resets it.

use std::any::Any;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use weft::host::{
    Command, ConnId, ConnectError, Host, ListenError, ListenerId, Node, Program, Stream,
};
use weft::time::Instant;
use weft::transport::{CloseAction, Disconnect};

/// A host's node, with a way back to its program's type.
trait AnyNode: Node {
    fn as_any(&self) -> &dyn Any;
}

impl<P: Program + 'static> AnyNode for Host<P> {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct HostEntry {
    name: String,
    ip: Ipv4Addr,
    node: Box<dyn AnyNode>,
    next_port: u16,
}

/// A printed line: when, which host, which stream, the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) at: Instant,
    pub(crate) host: String,
    pub(crate) stream: Stream,
    pub(crate) text: String,
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct MiniNet {
    now: Instant,
    hosts: Vec<HostEntry>,
    listeners: BTreeMap<u16, (usize, ListenerId)>,
    links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
    connects: VecDeque<(usize, ConnId, u16)>,
    output: Vec<Line>,
}

impl MiniNet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a host running `program` and starts it now; what it asked for is carried out
    /// when the network next runs, so hosts added together start together. Returns its
    /// index.
    pub(crate) fn add<P: Program + 'static>(&mut self, name: &str, program: P) -> usize {
        let index = self.hosts.len();
        let ip = Ipv4Addr::new(10, 0, 0, u8::try_from(index + 1).expect("few hosts"));
        let mut node = Box::new(Host::new(program));
        node.start(self.now);
        self.hosts.push(HostEntry {
            name: name.to_owned(),
            ip,
            node,
            next_port: 50000,
        });
        index
    }

    /// The program of host `index`.
    ///
    /// # Panics
    /// If `P` is not its type.
    pub(crate) fn program<P: Program + 'static>(&self, index: usize) -> &P {
        self.hosts[index]
            .node
            .as_any()
            .downcast_ref::<Host<P>>()
            .expect("program type")
            .program()
    }

    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    pub(crate) fn exit_code(&self, index: usize) -> Option<i32> {
        self.hosts[index].node.exit_code()
    }

    pub(crate) fn output(&self) -> &[Line] {
        &self.output
    }

    /// Lines one host printed on one stream.
    pub(crate) fn lines(&self, index: usize, stream: Stream) -> Vec<String> {
        let name = &self.hosts[index].name;
        self.output
            .iter()
            .filter(|l| &l.host == name && l.stream == stream)
            .map(|l| l.text.clone())
            .collect()
    }

    /// Runs until `index` has exited or `limit` of virtual time has passed; returns its
    /// exit status.
    pub(crate) fn run_until_exit(&mut self, index: usize, limit: Duration) -> Option<i32> {
        let end = self.now + limit;
        while self.exit_code(index).is_none() {
            if !self.step(end) {
                break;
            }
        }
        self.exit_code(index)
    }

    /// Runs for `duration` of virtual time.
    pub(crate) fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.step(end) {}
        self.now = end;
    }

    /// Resets every connection of host `index` (a crash of its connections).
    pub(crate) fn reset_connections(&mut self, index: usize) {
        for conn in self.hosts[index].node.connections() {
            self.hosts[index]
                .node
                .handle_closed(self.now, conn, Disconnect::Reset);
            if let Some((peer, peer_conn)) = self.unlink(index, conn) {
                self.hosts[peer]
                    .node
                    .handle_closed(self.now, peer_conn, Disconnect::Reset);
            }
        }
        self.settle();
    }

    /// Jumps to the next timer deadline not after `end` and fires it; false if none.
    fn step(&mut self, end: Instant) -> bool {
        self.settle();
        let next = self
            .hosts
            .iter_mut()
            .filter_map(|h| h.node.poll_timeout())
            .min();
        match next {
            Some(at) if at <= end => {
                self.now = self.now.max(at);
                // One host at a time, each followed by what it caused: a timer that
                // a delivery cancels must not fire.
                for h in 0..self.hosts.len() {
                    if self.hosts[h]
                        .node
                        .poll_timeout()
                        .is_some_and(|t| t <= self.now)
                    {
                        self.hosts[h].node.handle_timeout(self.now);
                        self.settle();
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Carries out commands and moves bytes until every host is quiet; then answers
    /// one pending connect, and repeats.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for h in 0..self.hosts.len() {
                while let Some(command) = self.hosts[h].node.poll_command() {
                    moved = true;
                    self.command(h, command);
                }
                while let Some(conn) = self.hosts[h].node.poll_dirty() {
                    moved = true;
                    self.flush(h, conn);
                }
            }
            if moved {
                continue;
            }
            match self.connects.pop_front() {
                Some((h, conn, port)) => self.answer_connect(h, conn, port),
                None => return,
            }
        }
    }

    fn command(&mut self, h: usize, command: Command) {
        let now = self.now;
        match command {
            Command::Listen { listener, addr } => {
                let port = addr.port;
                let node = &mut self.hosts[h].node;
                match self.listeners.entry(port) {
                    Entry::Occupied(_) => {
                        node.handle_listen_failed(now, listener, ListenError::AddressInUse(addr));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert((h, listener));
                        let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
                        node.handle_listening(now, listener, local);
                    }
                }
            }
            Command::StopListening { listener } => {
                self.listeners.retain(|_, l| *l != (h, listener));
            }
            Command::Connect { conn, to, .. } => self.connects.push_back((h, conn, to.port)),
            Command::CancelConnect { conn } => {
                self.connects.retain(|&(ch, c, _)| (ch, c) != (h, conn));
            }
            Command::Print { stream, line } => self.output.push(Line {
                at: now,
                host: self.hosts[h].name.clone(),
                stream,
                text: line,
            }),
            Command::Exit { .. } => {}
        }
    }

    fn answer_connect(&mut self, h: usize, conn: ConnId, port: u16) {
        let now = self.now;
        let Some(&(s, listener)) = self.listeners.get(&port) else {
            self.hosts[h]
                .node
                .handle_connect_failed(now, conn, ConnectError::Refused);
            return;
        };
        let client = &mut self.hosts[h];
        client.next_port += 1;
        let client_addr = SocketAddr::new(IpAddr::V4(client.ip), client.next_port);
        let server_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let accepted = self.hosts[s]
            .node
            .handle_accepted(now, listener, server_addr, client_addr);
        if self.hosts[h]
            .node
            .handle_connected(now, conn, client_addr, server_addr)
        {
            self.links.insert((h, conn), (s, accepted));
            self.links.insert((s, accepted), (h, conn));
        } else {
            self.hosts[s]
                .node
                .handle_closed(now, accepted, Disconnect::Reset);
        }
    }

    fn unlink(&mut self, h: usize, conn: ConnId) -> Option<(usize, ConnId)> {
        let peer = self.links.remove(&(h, conn))?;
        self.links.remove(&peer);
        Some(peer)
    }

    fn flush(&mut self, h: usize, conn: ConnId) {
        let now = self.now;
        let data = self.hosts[h].node.pending(conn).to_vec();
        if !data.is_empty() {
            self.hosts[h].node.consume(now, conn, data.len());
            if let Some(&(p, pc)) = self.links.get(&(h, conn)) {
                self.hosts[p].node.handle_data(now, pc, &data);
            }
        }
        match self.hosts[h].node.close_action(conn) {
            Some(CloseAction::Close) => {
                self.hosts[h]
                    .node
                    .handle_closed(now, conn, Disconnect::Clean);
                if let Some((p, pc)) = self.unlink(h, conn) {
                    self.hosts[p].node.handle_read_closed(now, pc);
                }
            }
            Some(CloseAction::Abort) => {
                self.hosts[h]
                    .node
                    .handle_closed(now, conn, Disconnect::Aborted);
                if let Some((p, pc)) = self.unlink(h, conn) {
                    self.hosts[p].node.handle_closed(now, pc, Disconnect::Reset);
                }
            }
            Some(CloseAction::ShutdownWrite) => {
                self.hosts[h].node.write_shut_down(conn);
                if let Some(&(p, pc)) = self.links.get(&(h, conn)) {
                    self.hosts[p].node.handle_read_closed(now, pc);
                }
            }
            None => {}
        }
    }
}
