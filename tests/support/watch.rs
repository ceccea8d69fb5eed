//! [`Watched`]: a node wrapper that lets a test see a server while the driver runs it.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;

use weft::host::{Command, ConnId, ConnPoll, ConnectError, HostRng, ListenError, ListenerId, Node};
use weft::time::Instant;
use weft::transport::{CloseAction, Disconnect};

/// What a [`Watched`] node has seen so far.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Where it listens, once bound.
    pub listening: Option<SocketAddr>,
    /// Connections accepted.
    pub accepted: usize,
    /// Connections that ended, with how.
    pub closed: Vec<Disconnect>,
    /// The most bytes ever queued (written by the program, not yet taken by the
    /// driver) on any one connection.
    pub max_queued: usize,
    /// Bytes queued now, per live connection.
    pub queued: BTreeMap<ConnId, usize>,
}

/// Shared view of a [`Watched`] node.
pub type Watch = Rc<RefCell<Seen>>;

/// Forwards everything to `inner`, and after every call records the program's queues
/// (the `TransportState` of each connection) into a shared [`Seen`], so a test can look
/// at them mid-run and bound the server's memory.
pub struct Watched<N: Node + ?Sized> {
    pub inner: Box<N>,
    seen: Watch,
    announce: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
}

impl<N: Node> Watched<N> {
    pub fn new(inner: N) -> (Self, Watch) {
        let seen = Watch::default();
        let node = Self::sharing(Box::new(inner), seen.clone());
        (node, seen)
    }
}

impl<N: Node + ?Sized> Watched<N> {
    /// Wraps `inner`, recording into `seen`, which the caller keeps.
    pub fn sharing(inner: Box<N>, seen: Watch) -> Self {
        Self {
            inner,
            seen,
            announce: None,
        }
    }

    /// Sends the listening address on `tx` once bound.
    pub fn announce(mut self, tx: tokio::sync::oneshot::Sender<SocketAddr>) -> Self {
        self.announce = Some(tx);
        self
    }

    fn sample(&self) {
        let mut seen = self.seen.borrow_mut();
        seen.queued.clear();
        for conn in self.inner.connections() {
            let n = self.inner.pending(conn).len();
            seen.max_queued = seen.max_queued.max(n);
            seen.queued.insert(conn, n);
        }
    }
}

impl<N: Node + ?Sized> Node for Watched<N> {
    fn set_rng(&mut self, rng: HostRng) {
        self.inner.set_rng(rng);
    }

    fn start(&mut self, now: Instant) {
        self.inner.start(now);
        self.sample();
    }

    fn exit_code(&self) -> Option<i32> {
        self.inner.exit_code()
    }

    fn poll_command(&mut self) -> Option<Command> {
        self.inner.poll_command()
    }

    fn poll_dirty(&mut self) -> Option<ConnId> {
        self.inner.poll_dirty()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
        self.sample();
    }

    fn pending(&self, conn: ConnId) -> &[u8] {
        self.inner.pending(conn)
    }

    fn consume(&mut self, now: Instant, conn: ConnId, n: usize) {
        self.inner.consume(now, conn, n);
        self.sample();
    }

    fn close_action(&self, conn: ConnId) -> Option<CloseAction> {
        self.inner.close_action(conn)
    }

    fn write_shut_down(&mut self, conn: ConnId) {
        self.inner.write_shut_down(conn);
    }

    fn reading_paused(&self, conn: ConnId) -> bool {
        self.inner.reading_paused(conn)
    }

    fn accepts_data(&self, conn: ConnId) -> bool {
        self.inner.accepts_data(conn)
    }

    fn connections(&self) -> Vec<ConnId> {
        self.inner.connections()
    }

    fn handle_listening(&mut self, now: Instant, listener: ListenerId, addr: SocketAddr) {
        self.seen.borrow_mut().listening = Some(addr);
        if let Some(tx) = self.announce.take() {
            let _ = tx.send(addr);
        }
        self.inner.handle_listening(now, listener, addr);
    }

    fn handle_listen_failed(&mut self, now: Instant, listener: ListenerId, error: ListenError) {
        self.inner.handle_listen_failed(now, listener, error);
    }

    fn handle_accepted(
        &mut self,
        now: Instant,
        listener: ListenerId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> ConnId {
        self.seen.borrow_mut().accepted += 1;
        let conn = self.inner.handle_accepted(now, listener, local, peer);
        self.sample();
        conn
    }

    fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> bool {
        let made = self.inner.handle_connected(now, conn, local, peer);
        self.sample();
        made
    }

    fn handle_connect_failed(&mut self, now: Instant, conn: ConnId, error: ConnectError) {
        self.inner.handle_connect_failed(now, conn, error);
    }

    fn handle_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.inner.handle_data(now, conn, data);
        self.sample();
    }

    fn poll_conn(
        &mut self,
        now: Instant,
        conn: ConnId,
        room: usize,
        out: &mut VecDeque<u8>,
    ) -> ConnPoll {
        let poll = self.inner.poll_conn(now, conn, room, out);
        // As after a `consume`.
        if poll.moved > 0 {
            self.sample();
        }
        poll
    }

    fn deliver_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) -> ConnPoll {
        let poll = self.inner.deliver_data(now, conn, data);
        self.sample();
        poll
    }

    fn handle_read_closed(&mut self, now: Instant, conn: ConnId) {
        self.inner.handle_read_closed(now, conn);
        self.sample();
    }

    fn handle_closed(&mut self, now: Instant, conn: ConnId, reason: Disconnect) {
        self.seen.borrow_mut().closed.push(reason);
        self.inner.handle_closed(now, conn, reason);
        self.sample();
    }
}
