//! The driver loop: owns the [`Node`], carries out its commands, and feeds it what the
//! socket tasks report and the timers it asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::future::pending;
use std::io;
use std::net::SocketAddr;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

use super::Output;
use super::stack::{NetStream, Stack};
use super::tasks::{self, Event, ToConn};
use crate::host::{Command, ConnId, ConnectError, ListenerId, Node};
use crate::time::Instant;
use crate::transport::{CloseAction, Disconnect};

/// The most bytes handed to a connection's task at once. With one chunk in flight per
/// connection, this bounds what sits between the program's queue and the socket.
const WRITE_CHUNK: usize = 64 * 1024;

/// Inbound data the program has not taken yet (it paused reading meanwhile).
enum Held {
    Data(Vec<u8>),
    Eof,
}

/// The driver's side of one connection.
struct Conn {
    orders: UnboundedSender<ToConn>,
    task: JoinHandle<()>,
    /// A chunk is with the task and not yet taken by the socket.
    writing: bool,
    /// The task may read (it has a grant it has not used yet).
    reading: bool,
    held: Option<Held>,
    eof: bool,
}

impl Conn {
    fn order(&self, order: ToConn) {
        // A send fails only if the task has ended; its `Broken` event is on its way.
        let _ = self.orders.send(order);
    }
}

pub(crate) struct Driver<'a, S: Stack> {
    stack: S,
    node: &'a mut dyn Node,
    output: &'a mut dyn Output,
    start: tokio::time::Instant,
    events_tx: UnboundedSender<Event<S::Stream>>,
    events: UnboundedReceiver<Event<S::Stream>>,
    /// Accept tasks, with the switch that pauses each.
    listeners: BTreeMap<ListenerId, (AbortHandle, watch::Sender<bool>)>,
    connecting: BTreeMap<ConnId, AbortHandle>,
    conns: BTreeMap<ConnId, Conn>,
    /// Connections to look at again that the node has not marked dirty.
    todo: BTreeSet<ConnId>,
    /// Tasks of connections closed in order that may still be lingering.
    closing: Vec<JoinHandle<()>>,
    exit: Option<i32>,
}

impl<'a, S: Stack> Driver<'a, S> {
    pub(crate) fn new(stack: S, node: &'a mut dyn Node, output: &'a mut dyn Output) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        Self {
            stack,
            node,
            output,
            start: tokio::time::Instant::now(),
            events_tx,
            events,
            listeners: BTreeMap::new(),
            connecting: BTreeMap::new(),
            conns: BTreeMap::new(),
            todo: BTreeSet::new(),
            closing: Vec::new(),
            exit: None,
        }
    }

    /// Virtual time: tokio's clock (the one turmoil drives) since the run started.
    fn now(&self) -> Instant {
        let elapsed = tokio::time::Instant::now() - self.start;
        Instant::from_nanos(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
    }

    pub(crate) async fn run(mut self) -> i32 {
        self.node.start(Instant::ZERO);
        loop {
            self.flush();
            if let Some(code) = self.exit {
                tracing::debug!(code, "program exited");
                self.shut_down().await;
                return code;
            }
            let deadline = self.node.poll_timeout();
            if deadline.is_none()
                && self.listeners.is_empty()
                && self.connecting.is_empty()
                && self.conns.is_empty()
            {
                tracing::debug!("nothing left to wait for");
                self.shut_down().await;
                return 0;
            }
            // Due timers go first: a steady stream of socket events must not starve
            // them (the select below prefers events).
            if deadline.is_some_and(|d| d <= self.now()) {
                let now = self.now();
                self.node.handle_timeout(now);
                continue;
            }
            let wake = deadline.and_then(|d| self.start.checked_add(d.since_epoch()));
            let timer = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => pending().await,
                }
            };
            // Biased, so that under turmoil the order of events is a function of the
            // seed alone (tokio's random branch choice is not seeded without
            // tokio_unstable).
            tokio::select! {
                biased;
                Some(event) = self.events.recv() => self.handle(event),
                () = timer => {
                    let now = self.now();
                    self.node.handle_timeout(now);
                }
            }
        }
    }

    /// Carries out every command and looks at every touched connection until the node
    /// has nothing more to say.
    fn flush(&mut self) {
        loop {
            if let Some(command) = self.node.poll_command() {
                self.command(command);
            } else if let Some(conn) = self.node.poll_dirty() {
                // Even after an exit: what the program did just before (a last write,
                // an abort) happens, as it would in a process.
                self.service(conn);
            } else if let Some(conn) = self.todo.pop_first().filter(|_| self.exit.is_none()) {
                self.service(conn);
            } else {
                return;
            }
        }
    }

    fn command(&mut self, command: Command) {
        if self.exit.is_some() && !matches!(command, Command::Print { .. }) {
            tracing::debug!(?command, "ignored after exit");
            return;
        }
        match command {
            Command::Listen {
                listener,
                addr,
                backlog,
            } => {
                let (paused, paused_rx) = watch::channel(false);
                let task = tokio::spawn(tasks::listen(
                    self.stack.clone(),
                    listener,
                    addr,
                    // tokio's `bind` asks for 1024; a program's own choice is honoured.
                    backlog.unwrap_or(1024),
                    paused_rx,
                    self.events_tx.clone(),
                ));
                self.listeners
                    .insert(listener, (task.abort_handle(), paused));
            }
            Command::PauseAccepting { listener } | Command::ResumeAccepting { listener } => {
                let pause = matches!(command, Command::PauseAccepting { .. });
                if let Some((_, paused)) = self.listeners.get(&listener) {
                    paused.send_replace(pause);
                }
            }
            Command::StopListening { listener } => {
                if let Some((task, _)) = self.listeners.remove(&listener) {
                    // Dropping the socket closes the port.
                    task.abort();
                }
            }
            Command::Connect { conn, to, timeout } => {
                tracing::debug!(%conn, %to, "connecting");
                let task = tokio::spawn(tasks::connect(
                    self.stack.clone(),
                    conn,
                    to,
                    timeout,
                    self.events_tx.clone(),
                ));
                self.connecting.insert(conn, task.abort_handle());
            }
            Command::CancelConnect { conn } => {
                if let Some(task) = self.connecting.remove(&conn) {
                    task.abort();
                }
            }
            Command::Print { stream, line } => self.output.line(stream, &line),
            Command::Exit { code } => self.exit = Some(code),
        }
    }

    fn handle(&mut self, event: Event<S::Stream>) {
        let now = self.now();
        match event {
            Event::Listening(listener, Ok(addr)) => {
                if self.listeners.contains_key(&listener) {
                    tracing::info!(%listener, "listening on {addr}");
                    self.node.handle_listening(now, listener, addr);
                }
            }
            Event::Listening(listener, Err(error)) => {
                if self.listeners.remove(&listener).is_some() {
                    tracing::warn!(%listener, %error, "listen failed");
                    self.node.handle_listen_failed(now, listener, error);
                }
            }
            Event::Accepted(listener, stream) => {
                if !self.listeners.contains_key(&listener) {
                    return;
                }
                let Ok((local, peer)) = addresses(&stream) else {
                    return;
                };
                let conn = self.node.handle_accepted(now, listener, local, peer);
                tracing::debug!(%conn, %peer, "accepted");
                self.open(conn, stream);
            }
            Event::Connected(conn, Ok(stream)) => {
                let _span = tracing::debug_span!("conn", %conn).entered();
                if self.connecting.remove(&conn).is_none() {
                    stream.reset();
                    return;
                }
                let (local, peer) = match addresses(&stream) {
                    Ok(addrs) => addrs,
                    Err(error) => {
                        let error = ConnectError::Other(error.to_string());
                        self.node.handle_connect_failed(now, conn, error);
                        return;
                    }
                };
                if self.node.handle_connected(now, conn, local, peer) {
                    self.open(conn, stream);
                } else {
                    stream.reset();
                }
            }
            Event::Connected(conn, Err(error)) => {
                if self.connecting.remove(&conn).is_some() {
                    self.node.handle_connect_failed(now, conn, error);
                }
            }
            Event::Data(conn, data) => self.hold(conn, Held::Data(data)),
            Event::ReadClosed(conn) => self.hold(conn, Held::Eof),
            Event::Wrote(conn) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.writing = false;
                    self.todo.insert(conn);
                }
            }
            Event::Broken(conn, reason) => {
                let _span = tracing::debug_span!("conn", %conn).entered();
                if self.conns.remove(&conn).is_some() {
                    tracing::debug!(%conn, %reason, "connection lost");
                    self.node.handle_closed(now, conn, reason);
                }
            }
        }
    }

    fn open(&mut self, conn: ConnId, stream: S::Stream) {
        if let Err(error) = stream.set_nodelay() {
            tracing::debug!(%conn, %error, "cannot set TCP_NODELAY");
        }
        let (orders, orders_rx) = mpsc::unbounded_channel();
        let task = tasks::spawn_connection(conn, stream, orders_rx, self.events_tx.clone());
        self.conns.insert(
            conn,
            Conn {
                orders,
                task,
                writing: false,
                reading: true,
                held: None,
                eof: false,
            },
        );
        self.todo.insert(conn);
    }

    fn hold(&mut self, conn: ConnId, held: Held) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.reading = false;
            c.held = Some(held);
            self.todo.insert(conn);
        }
    }

    /// Moves `conn`'s bytes out (one chunk at a time), carries out its close, and hands
    /// it what was read unless it has paused reading.
    fn service(&mut self, conn: ConnId) {
        let _span = tracing::debug_span!("conn", %conn).entered();
        let now = self.now();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.writing {
            let pending = self.node.pending(conn);
            if !pending.is_empty() {
                let n = pending.len().min(WRITE_CHUNK);
                c.order(ToConn::Write(pending[..n].to_vec()));
                c.writing = true;
                self.node.consume(now, conn, n);
            }
        }
        match self.node.close_action(conn) {
            Some(CloseAction::Abort) => {
                c.order(ToConn::Abort);
                if let Some(c) = self.conns.remove(&conn) {
                    // Awaited at shut-down, so a reset is sent even if we exit now.
                    self.closing.retain(|task| !task.is_finished());
                    self.closing.push(c.task);
                }
                self.node.handle_closed(now, conn, Disconnect::Aborted);
                return;
            }
            Some(CloseAction::Close) if !c.writing => {
                c.order(ToConn::Close);
                if let Some(c) = self.conns.remove(&conn) {
                    self.closing.retain(|task| !task.is_finished());
                    self.closing.push(c.task);
                }
                self.node.handle_closed(now, conn, Disconnect::Clean);
                return;
            }
            Some(CloseAction::ShutdownWrite) if !c.writing => {
                c.order(ToConn::ShutdownWrite);
                self.node.write_shut_down(conn);
            }
            _ => {}
        }
        if self.node.reading_paused(conn) || self.exit.is_some() {
            return;
        }
        match c.held.take() {
            Some(Held::Data(data)) => {
                self.node.handle_data(now, conn, &data);
                // Come back to grant the next read once the program has had its say.
                self.todo.insert(conn);
            }
            Some(Held::Eof) => {
                c.eof = true;
                self.node.handle_read_closed(now, conn);
            }
            None if !c.reading && !c.eof => {
                c.order(ToConn::ReadMore);
                c.reading = true;
            }
            None => {}
        }
    }

    /// Ends the run as a process exit would: ports and open connections close, unsent
    /// bytes are lost, and the program hears nothing more. Closes the program began
    /// are let finish (each within the linger time), so a peer whose last bytes
    /// crossed our close sees a clean end rather than a reset from a dead process.
    async fn shut_down(&mut self) {
        let listeners = self.listeners.values().map(|(task, _)| task);
        for task in listeners.chain(self.connecting.values()) {
            task.abort();
        }
        // Dropping the order channels ends the connection tasks, which drop the sockets.
        self.conns.clear();
        for task in self.closing.drain(..) {
            let _ = task.await;
        }
    }
}

/// A driver dropped mid-run (its future cancelled by a stop, or unwound by a panic in
/// its program) closes its ports at once: each listener's task holds its socket, and
/// would keep the port bound until the runtime ends. Connections need nothing: their
/// tasks end when their order channels close with the driver.
impl<S: Stack> Drop for Driver<'_, S> {
    fn drop(&mut self) {
        let listeners = self.listeners.values().map(|(task, _)| task);
        for task in listeners.chain(self.connecting.values()) {
            task.abort();
        }
    }
}

/// Both ends' addresses; an error means the connection died before we got to it.
fn addresses<T: NetStream>(stream: &T) -> io::Result<(SocketAddr, SocketAddr)> {
    let addrs = (stream.local_addr()?, stream.peer_addr()?);
    Ok(addrs)
}
