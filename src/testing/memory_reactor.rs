//! [`MemoryReactor`]: runs a program and records what it asks of the network, without
//! doing any of it (Twisted's `MemoryReactorClock`).
//!
//! Listens and connects are recorded as [`ListenCall`]s and [`ConnectCall`]s. A listen
//! succeeds at once (the program hears `listening` at the port it asked for, or a port
//! of its own for 0, as Twisted's `listenTCP` returns its port); nothing else completes
//! on its own: the test accepts
//! connections, completes or fails connects,
//! delivers bytes and advances the clock, and inspects what each connection was sent
//! (like a `StringTransport` per connection: closes take effect at once).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::host::{
    Command, ConnId, ConnectError, DEFAULT_BACKLOG, Host, HostPort, HostRng, ListenerId, Node,
    Program, Stream,
};
use crate::time::Instant;
use crate::transport::{CloseAction, Disconnect, ipv4};

/// A recorded listen (Twisted's `tcpServers` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenCall {
    /// The program's id for it.
    pub listener: ListenerId,
    /// The port asked for.
    pub port: u16,
    /// The interface asked for.
    pub interface: String,
    /// Accept backlog (Twisted's default is 50).
    pub backlog: u32,
    /// Whether the program has paused accepting on it.
    pub paused: bool,
}

/// A recorded connect (Twisted's `tcpClients` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectCall {
    /// The program's id for it.
    pub conn: ConnId,
    /// Destination host.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// Connect timeout (30 s unless the program chose one).
    pub timeout: Duration,
    /// Local address to bind (never set by weft programs).
    pub bind_address: Option<SocketAddr>,
}

/// A program run against a network that only records (see the module docs).
pub struct MemoryReactor<P: Program> {
    host: Host<P>,
    now: Instant,
    tcp_servers: Vec<ListenCall>,
    tcp_clients: Vec<ConnectCall>,
    cancelled: Vec<ConnId>,
    stopped_listening: Vec<ListenerId>,
    output: Vec<(Stream, String)>,
    written: BTreeMap<ConnId, Vec<u8>>,
    open: BTreeSet<ConnId>,
    half_closed: BTreeSet<ConnId>,
    lost: BTreeMap<ConnId, Disconnect>,
    next_port: u16,
}

impl<P: Program + 'static> MemoryReactor<P> {
    /// Starts `program` at time zero and records its first requests. Its random
    /// source is [`HostRng::default`].
    pub fn new(program: P) -> Self {
        Self::with_rng(program, HostRng::default())
    }

    /// [`new`](Self::new), with the program drawing from `rng` (to show that what it
    /// draws, a retry's jitter, follows the seed).
    pub fn with_rng(program: P, rng: HostRng) -> Self {
        let mut reactor = Self {
            host: Host::with_rng(program, rng),
            now: Instant::ZERO,
            tcp_servers: Vec::new(),
            tcp_clients: Vec::new(),
            cancelled: Vec::new(),
            stopped_listening: Vec::new(),
            output: Vec::new(),
            written: BTreeMap::new(),
            open: BTreeSet::new(),
            half_closed: BTreeSet::new(),
            lost: BTreeMap::new(),
            next_port: 40000,
        };
        reactor.host.start(reactor.now);
        reactor.settle();
        reactor
    }

    /// The program.
    pub fn program(&self) -> &P {
        self.host.program()
    }

    /// Every listen so far, in order.
    pub fn tcp_servers(&self) -> &[ListenCall] {
        &self.tcp_servers
    }

    /// Every connect so far, in order.
    pub fn tcp_clients(&self) -> &[ConnectCall] {
        &self.tcp_clients
    }

    /// Connects the program withdrew while they were pending.
    pub fn cancelled_connects(&self) -> &[ConnId] {
        &self.cancelled
    }

    /// Listeners the program stopped.
    pub fn stopped_listening(&self) -> &[ListenerId] {
        &self.stopped_listening
    }

    /// Lines printed so far.
    pub fn output(&self) -> &[(Stream, String)] {
        &self.output
    }

    /// Lines printed on one stream.
    pub fn lines(&self, stream: Stream) -> Vec<&str> {
        self.output
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.as_str())
            .collect()
    }

    /// The exit status, once the program has exited.
    pub fn exit_code(&self) -> Option<i32> {
        self.host.exit_code()
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Completes the `index`th recorded connect: the program's connection is made.
    ///
    /// # Panics
    /// If there is no such connect (a bug in the test).
    pub fn complete_connect(&mut self, index: usize) -> ConnId {
        let call = self.tcp_clients[index].clone();
        let peer_ip = call
            .host
            .parse::<IpAddr>()
            .unwrap_or(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)));
        let local = ipv4(10, 0, 0, 1, self.take_port());
        if self.host.handle_connected(
            self.now,
            call.conn,
            local,
            SocketAddr::new(peer_ip, call.port),
        ) {
            self.open.insert(call.conn);
        }
        self.settle();
        call.conn
    }

    /// Fails the `index`th recorded connect with `error`.
    pub fn fail_connect(&mut self, index: usize, error: ConnectError) {
        let conn = self.tcp_clients[index].conn;
        self.host.handle_connect_failed(self.now, conn, error);
        self.settle();
    }

    /// A client connects to the `index`th listener from `peer`.
    pub fn accept(&mut self, index: usize, peer: SocketAddr) -> ConnId {
        let call = self.tcp_servers[index].clone();
        let local = ipv4(10, 0, 0, 1, call.port);
        let conn = self
            .host
            .handle_accepted(self.now, call.listener, local, peer);
        self.open.insert(conn);
        self.settle();
        conn
    }

    /// The peer sends bytes on `conn`.
    pub fn data_received(&mut self, conn: ConnId, data: &[u8]) {
        self.host.handle_data(self.now, conn, data);
        self.settle();
    }

    /// The peer half-closes `conn`.
    pub fn read_connection_lost(&mut self, conn: ConnId) {
        self.host.handle_read_closed(self.now, conn);
        self.settle();
    }

    /// `conn` ends from the network's side (a reset, say).
    pub fn connection_lost(&mut self, conn: ConnId, reason: Disconnect) {
        self.end(conn, reason);
        self.settle();
    }

    /// Everything the program sent on `conn` since the last [`clear`](Self::clear).
    pub fn value(&self, conn: ConnId) -> &[u8] {
        self.written.get(&conn).map_or(&[], Vec::as_slice)
    }

    /// Forgets what was sent on `conn`.
    pub fn clear(&mut self, conn: ConnId) {
        self.written.remove(&conn);
    }

    /// Whether `conn` is up.
    pub fn is_connected(&self, conn: ConnId) -> bool {
        self.open.contains(&conn)
    }

    /// Whether the program half-closed `conn`.
    pub fn is_write_closed(&self, conn: ConnId) -> bool {
        self.half_closed.contains(&conn)
    }

    /// How `conn` ended, if it has.
    pub fn lost(&self, conn: ConnId) -> Option<Disconnect> {
        self.lost.get(&conn).copied()
    }

    /// Moves time forward and runs the program's due timers (`Clock.advance`).
    pub fn advance(&mut self, amount: Duration) {
        self.now += amount;
        self.host.handle_timeout(self.now);
        self.settle();
    }

    /// The earliest pending timer of the program.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.host.poll_timeout()
    }

    fn take_port(&mut self) -> u16 {
        self.next_port = self.next_port.wrapping_add(1).max(40001);
        self.next_port
    }

    fn end(&mut self, conn: ConnId, reason: Disconnect) {
        if self.open.remove(&conn) {
            self.lost.insert(conn, reason);
            self.host.handle_closed(self.now, conn, reason);
        }
    }

    /// Records commands and collects written bytes until the program is quiet.
    fn settle(&mut self) {
        loop {
            if let Some(command) = self.host.poll_command() {
                self.record(command);
            } else if let Some(conn) = self.host.poll_dirty() {
                let n = self.host.pending(conn).len();
                if n > 0 {
                    let bytes = self.host.pending(conn).to_vec();
                    self.written.entry(conn).or_default().extend(bytes);
                    self.host.consume(self.now, conn, n);
                }
                match self.host.close_action(conn) {
                    Some(CloseAction::Close) => self.end(conn, Disconnect::Clean),
                    Some(CloseAction::Abort) => self.end(conn, Disconnect::Aborted),
                    Some(CloseAction::ShutdownWrite) => {
                        self.host.write_shut_down(conn);
                        self.half_closed.insert(conn);
                    }
                    None => {}
                }
            } else {
                return;
            }
        }
    }

    fn record(&mut self, command: Command) {
        match command {
            Command::Listen {
                listener,
                addr,
                backlog,
            } => {
                let HostPort { host, port } = addr;
                // As Twisted's `listenTCP` returns its fake port at once, the listen
                // succeeds now, at the port asked for (a port of its own where 0 was
                // asked for, as a kernel would pick one), on 0.0.0.0 unless an address
                // was named.
                let ip = host.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                let bound = if port == 0 { self.take_port() } else { port };
                self.tcp_servers.push(ListenCall {
                    listener,
                    port,
                    interface: host,
                    backlog: backlog.unwrap_or(DEFAULT_BACKLOG),
                    paused: false,
                });
                (self.host).handle_listening(self.now, listener, SocketAddr::new(ip, bound));
            }
            Command::PauseAccepting { listener } | Command::ResumeAccepting { listener } => {
                let paused = matches!(command, Command::PauseAccepting { .. });
                if let Some(call) = self.tcp_servers.iter_mut().find(|c| c.listener == listener) {
                    call.paused = paused;
                }
            }
            Command::StopListening { listener } => self.stopped_listening.push(listener),
            Command::Connect { conn, to, timeout } => self.tcp_clients.push(ConnectCall {
                conn,
                host: to.host,
                port: to.port,
                timeout,
                bind_address: None,
            }),
            Command::CancelConnect { conn } => self.cancelled.push(conn),
            Command::Print { stream, line } => self.output.push((stream, line)),
            Command::Exit { .. } => {}
        }
    }
}
