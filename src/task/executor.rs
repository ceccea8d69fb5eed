//! [`TaskProgram`]: a [`Program`] that runs async tasks on a deterministic,
//! single-threaded executor.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use super::core::{ListenPhase, LocalTask, Net, NetCore, Op, Phase, Socket};
use super::handle::Tasks;
use super::timer::Timers;
use crate::clock::CallId;
use crate::flow::{HIGH_WATER_MARK, ProducerKind};
use crate::host::{ConnId, ConnectError, HostContext, ListenError, ListenerId, Program, Stream};
use crate::time::Instant;
use crate::transport::Disconnect;

/// The one timer a [`TaskProgram`] keeps on its host's clock: the earliest deadline any
/// of its tasks waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TaskTimer;

/// Task ids woken since the executor last looked, in wake order. Wakers must be `Send +
/// Sync`, so this is behind a mutex, though only the host's thread ever drains it.
#[derive(Default)]
struct WakeQueue {
    ready: Mutex<VecDeque<(usize, u64)>>,
}

impl WakeQueue {
    fn pop(&self) -> Option<(usize, u64)> {
        self.ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }
}

struct TaskWaker {
    slot: usize,
    generation: u64,
    queued: AtomicBool,
    queue: Arc<WakeQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue
                .ready
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push_back((self.slot, self.generation));
        }
    }
}

struct Task {
    id: u64,
    generation: u64,
    future: LocalTask,
    flag: Arc<TaskWaker>,
    waker: Waker,
}

type Main = Box<dyn FnOnce(Tasks) -> LocalTask>;

/// A program made of async tasks: the async form of a weft [`Program`].
///
/// `TaskProgram::new(|tasks| async move { ... })` gives the main task a [`Tasks`]
/// handle when the host starts; through it tasks connect, listen, read and write,
/// sleep, spawn more tasks, print and exit. Because it is a `Program`, it runs under
/// every driver — [`MemoryReactor`](crate::testing::MemoryReactor), the pump, SimNet,
/// the tokio driver on real TCP and on turmoil — unchanged.
///
/// The executor is deterministic by construction: tasks are polled in FIFO order of
/// their wake-ups, and only inside host callbacks (bytes, timers, connects, closes);
/// after each callback every ready task runs until all are waiting again, so what a
/// task does in answer to an event happens in the same callback, as it would in a
/// state machine. Nothing is woken by a real clock or another thread.
///
/// ```
/// use weft::host::{HostPort, Stream};
/// use weft::task::TaskProgram;
/// use weft::testing::MemoryReactor;
///
/// // A client that sends a greeting and prints the first reply.
/// let program = TaskProgram::new(|tasks| async move {
///     let Ok(mut conn) = tasks.connect(HostPort::new("server", 8000)).await else {
///         tasks.exit(1);
///         return;
///     };
///     let _ = conn.write(b"hello".to_vec()).await;
///     if let Ok(Some(reply)) = conn.read().await {
///         tasks.print(String::from_utf8_lossy(&reply).into_owned());
///     }
///     tasks.exit(0);
/// });
/// let mut reactor = MemoryReactor::new(program);
/// let conn = reactor.complete_connect(0);
/// assert_eq!(reactor.value(conn), b"hello");
/// reactor.data_received(conn, b"hi there");
/// assert_eq!(reactor.lines(Stream::Stdout), ["hi there"]);
/// assert_eq!(reactor.exit_code(), Some(0));
/// ```
pub struct TaskProgram {
    main: Option<Main>,
    net: Net,
    timers: Timers,
    tasks: Vec<Option<Task>>,
    free: Vec<usize>,
    by_id: BTreeMap<u64, usize>,
    queue: Arc<WakeQueue>,
    armed: Option<(Instant, CallId)>,
    generation: u64,
}

impl std::fmt::Debug for TaskProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskProgram")
            .field("tasks", &self.by_id.len())
            .field("timers", &self.timers)
            .finish()
    }
}

impl TaskProgram {
    /// A program whose main task is `main(tasks)`, started with the host.
    pub fn new<F, Fut>(main: F) -> Self
    where
        F: FnOnce(Tasks) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        Self {
            main: Some(Box::new(move |tasks| Box::pin(main(tasks)))),
            net: Rc::new(RefCell::new(NetCore::default())),
            timers: Timers::new(),
            tasks: Vec::new(),
            free: Vec::new(),
            by_id: BTreeMap::new(),
            queue: Arc::default(),
            armed: None,
            generation: 0,
        }
    }

    /// Tasks still running (not finished or cancelled).
    pub fn live_tasks(&self) -> usize {
        self.by_id.len()
    }

    /// Timers the tasks are waiting on.
    pub fn pending_timers(&self) -> usize {
        self.timers.pending_count()
    }

    fn tasks_handle(&self) -> Tasks {
        Tasks::new(self.net.clone(), self.timers.clone())
    }

    fn adopt(&mut self, id: u64, future: LocalTask) {
        self.generation += 1;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.tasks.push(None);
            self.tasks.len() - 1
        });
        let flag = Arc::new(TaskWaker {
            slot,
            generation: self.generation,
            queued: AtomicBool::new(false),
            queue: self.queue.clone(),
        });
        let waker = Waker::from(flag.clone());
        flag.wake_by_ref();
        self.tasks[slot] = Some(Task {
            id,
            generation: self.generation,
            future,
            flag,
            waker,
        });
        self.by_id.insert(id, slot);
    }

    fn finish(&mut self, slot: usize) {
        if let Some(task) = self.tasks[slot].take() {
            self.by_id.remove(&task.id);
            self.free.push(slot);
            // Dropped outside any borrow of the shared state: its handles release there.
            drop(task);
        }
    }

    /// Runs every ready task until all wait, carrying out what they asked after each
    /// poll; then keeps the host timer at the earliest deadline.
    fn run(&mut self, cx: &mut HostContext<'_, TaskTimer>) {
        self.timers.set_now_and_wake(cx.now());
        loop {
            self.apply(cx);
            let (spawned, cancelled) = {
                let mut net = self.net.borrow_mut();
                (
                    std::mem::take(&mut net.spawned),
                    std::mem::take(&mut net.cancelled),
                )
            };
            for (id, future) in spawned {
                self.adopt(id, future);
            }
            for id in cancelled {
                if let Some(&slot) = self.by_id.get(&id) {
                    self.finish(slot);
                }
            }
            let Some((slot, generation)) = self.queue.pop() else {
                if self.net.borrow().spawned.is_empty() && self.net.borrow().ops.is_empty() {
                    break;
                }
                continue;
            };
            let Some(task) = self.tasks.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if task.generation != generation {
                continue;
            }
            task.flag.queued.store(false, Ordering::Release);
            let waker = task.waker.clone();
            let done = task
                .future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
            if done {
                self.finish(slot);
            }
        }
        self.arm(cx);
    }

    fn arm(&mut self, cx: &mut HostContext<'_, TaskTimer>) {
        let next = self.timers.next_deadline();
        if next == self.armed.map(|(at, _)| at) {
            return;
        }
        if let Some((_, call)) = self.armed.take() {
            let _ = cx.cancel(call);
        }
        if let Some(at) = next {
            let delay = at.saturating_duration_since(cx.now());
            self.armed = Some((at, cx.call_later(delay, TaskTimer)));
        }
    }

    /// Carries out the queued ops, in order.
    fn apply(&mut self, cx: &mut HostContext<'_, TaskTimer>) {
        loop {
            let mut net = self.net.borrow_mut();
            let Some(op) = net.ops.pop_front() else {
                return;
            };
            apply_op(&mut net, cx, op);
        }
    }

    fn socket_of(&self, conn: ConnId) -> Option<u64> {
        self.net.borrow().by_conn.get(&conn).copied()
    }

    fn with_socket(&self, conn: ConnId, f: impl FnOnce(&mut Socket)) {
        let mut net = self.net.borrow_mut();
        if let Some(sock) = net.by_conn.get(&conn).copied()
            && let Some(socket) = net.sockets.get_mut(&sock)
        {
            f(socket);
        }
    }

    fn accepted(&mut self, cx: &mut HostContext<'_, TaskTimer>, conn: ConnId) {
        let (Some(local), Some(peer)) = (cx.host(conn), cx.peer(conn)) else {
            return;
        };
        let mut net = self.net.borrow_mut();
        // A program is told which connection, not which listener: the local port says
        // (the port asked for, while the driver has not said which it got).
        let live = || net.listeners.iter().filter(|(_, l)| !l.orphaned);
        let port_of = |l: &super::core::ListenerState| match l.phase {
            ListenPhase::Listening(addr) => addr.port(),
            _ => l.port,
        };
        let listener = live()
            .find(|(_, l)| port_of(l) == local.port())
            .map(|(&id, _)| id)
            .or_else(|| {
                let mut all = live();
                match (all.next(), all.next()) {
                    (Some((&id, _)), None) => Some(id),
                    _ => None,
                }
            });
        let Some(listener) = listener else {
            drop(net);
            cx.abort_connection(conn);
            return;
        };
        let mut socket = Socket::new(Phase::Open);
        socket.conn = Some(conn);
        socket.local = Some(local);
        socket.peer = Some(peer);
        let sock = net.add_socket(socket);
        net.by_conn.insert(conn, sock);
        let state = net.listeners.get_mut(&listener).expect("found above");
        state.backlog.push_back(sock);
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }
}

fn apply_op(net: &mut NetCore, cx: &mut HostContext<'_, TaskTimer>, op: Op) {
    match op {
        Op::Connect { sock, to, timeout } => {
            let conn = cx.connect(to, timeout);
            if let Some(socket) = net.sockets.get_mut(&sock) {
                socket.conn = Some(conn);
                net.by_conn.insert(conn, sock);
            }
        }
        Op::Listen {
            listener,
            addr,
            backlog,
        } => {
            let id = match backlog {
                Some(backlog) => cx.listen_with_backlog(addr, backlog),
                None => cx.listen(addr),
            };
            if let Some(state) = net.listeners.get_mut(&listener) {
                state.id = Some(id);
                net.by_listener.insert(id, listener);
            }
        }
        Op::StopListening { listener } => {
            if let Some(state) = net.listeners.remove(&listener) {
                if let Some(id) = state.id {
                    cx.stop_listening(id);
                    net.by_listener.remove(&id);
                }
                for sock in state.backlog {
                    net.release_socket(sock);
                }
            }
        }
        Op::Write { sock, data } => {
            let Some(socket) = net.sockets.get_mut(&sock) else {
                return;
            };
            let Some(conn) = socket.conn else { return };
            // Registered as producer only while past the mark, so connections that never
            // get there have no producer events in their transcripts.
            if !socket.producer && cx.queued(conn) + data.len() > HIGH_WATER_MARK {
                socket.producer = cx.register_producer(conn, ProducerKind::Push).is_ok();
            }
            cx.write(conn, &data);
            socket.queued_estimate = cx.queued(conn);
            socket.over_mark = socket.producer;
            if !socket.over_mark
                && let Some(waker) = socket.write_waker.take()
            {
                waker.wake();
            }
        }
        Op::Close { sock } | Op::Abort { sock } | Op::HalfClose { sock }
            if !net.sockets.contains_key(&sock) => {}
        Op::Close { sock } => close(net, cx, sock, false),
        Op::Abort { sock } => close(net, cx, sock, true),
        Op::HalfClose { sock } => {
            if let Some(conn) = net.sockets.get(&sock).and_then(|s| s.conn) {
                cx.lose_write_connection(conn);
            }
        }
        Op::Print { stream, line } => match stream {
            Stream::Stdout => cx.print(line),
            Stream::Stderr => cx.eprint(line),
        },
        Op::Exit { code } => cx.exit(code),
    }
}

fn close(net: &mut NetCore, cx: &mut HostContext<'_, TaskTimer>, sock: u64, abort: bool) {
    let socket = net.sockets.get_mut(&sock).expect("checked by the caller");
    let Some(conn) = socket.conn else {
        // The connect was never issued: nothing to withdraw.
        net.forget(sock);
        return;
    };
    match socket.phase {
        Phase::Connecting => {
            // Withdraws the connect; no callback follows.
            cx.abort_connection(conn);
            net.forget(sock);
        }
        Phase::Open => {
            if std::mem::take(&mut socket.producer) {
                let _ = cx.unregister_producer(conn);
            }
            if abort {
                cx.abort_connection(conn);
            } else {
                cx.lose_connection(conn);
            }
        }
        Phase::Failed(_) | Phase::Lost(_) => {}
    }
}

impl Program for TaskProgram {
    type Timer = TaskTimer;

    fn start(&mut self, cx: &mut HostContext<'_, TaskTimer>) {
        self.net.borrow_mut().rng = cx.rng().clone();
        if let Some(main) = self.main.take() {
            let future = main(self.tasks_handle());
            let id = self.net.borrow_mut().spawn(future);
            let _ = id;
        }
        self.run(cx);
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, TaskTimer>, conn: ConnId) {
        if self.socket_of(conn).is_some() {
            let (local, peer) = (cx.host(conn), cx.peer(conn));
            self.with_socket(conn, |socket| {
                socket.phase = Phase::Open;
                socket.local = local;
                socket.peer = peer;
                if let Some(waker) = socket.state_waker.take() {
                    waker.wake();
                }
            });
        } else {
            self.accepted(cx, conn);
        }
        self.run(cx);
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, TaskTimer>, conn: ConnId, data: &[u8]) {
        self.with_socket(conn, |socket| {
            socket.inbox.push_back(data.to_vec());
            if let Some(waker) = socket.read_waker.take() {
                waker.wake();
            }
        });
        self.run(cx);
    }

    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, TaskTimer>, conn: ConnId) {
        let mut orphaned = true;
        self.with_socket(conn, |socket| {
            socket.eof = true;
            orphaned = socket.orphaned;
            if let Some(waker) = socket.read_waker.take() {
                waker.wake();
            }
        });
        if orphaned {
            cx.lose_connection(conn);
        }
        self.run(cx);
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, TaskTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        let mut orphaned = false;
        self.with_socket(conn, |socket| {
            socket.phase = Phase::Lost(reason);
            socket.over_mark = false;
            socket.producer = false;
            orphaned = socket.orphaned;
            socket.wake_all();
        });
        if let Some(sock) = self.socket_of(conn) {
            let mut net = self.net.borrow_mut();
            net.by_conn.remove(&conn);
            if orphaned {
                net.sockets.remove(&sock);
            }
        }
        self.run(cx);
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, TaskTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        self.with_socket(conn, |socket| {
            socket.phase = Phase::Failed(error);
            socket.wake_all();
        });
        if let Some(sock) = self.socket_of(conn) {
            let mut net = self.net.borrow_mut();
            net.by_conn.remove(&conn);
            if net.sockets.get(&sock).is_some_and(|s| s.orphaned) {
                net.sockets.remove(&sock);
            }
        }
        self.run(cx);
    }

    fn listening(
        &mut self,
        cx: &mut HostContext<'_, TaskTimer>,
        listener: ListenerId,
        addr: SocketAddr,
    ) {
        self.set_listen_phase(listener, ListenPhase::Listening(addr));
        self.run(cx);
    }

    fn listen_failed(
        &mut self,
        cx: &mut HostContext<'_, TaskTimer>,
        listener: ListenerId,
        error: ListenError,
    ) {
        self.set_listen_phase(listener, ListenPhase::Failed(error));
        self.run(cx);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, TaskTimer>, _timer: TaskTimer) {
        self.armed = None;
        self.run(cx);
    }

    fn pause_producing(&mut self, cx: &mut HostContext<'_, TaskTimer>, conn: ConnId) {
        self.with_socket(conn, |socket| socket.over_mark = true);
        self.run(cx);
    }

    fn resume_producing(&mut self, cx: &mut HostContext<'_, TaskTimer>, conn: ConnId) {
        let mut registered = false;
        self.with_socket(conn, |socket| {
            socket.over_mark = false;
            registered = std::mem::take(&mut socket.producer);
            if let Some(waker) = socket.write_waker.take() {
                waker.wake();
            }
        });
        if registered {
            let _ = cx.unregister_producer(conn);
        }
        self.run(cx);
    }

    fn stop_producing(&mut self, cx: &mut HostContext<'_, TaskTimer>, conn: ConnId) {
        self.with_socket(conn, |socket| {
            socket.producer = false;
            socket.over_mark = false;
        });
        self.run(cx);
    }
}

impl TaskProgram {
    fn set_listen_phase(&mut self, listener: ListenerId, phase: ListenPhase) {
        let mut net = self.net.borrow_mut();
        let Some(&id) = net.by_listener.get(&listener) else {
            return;
        };
        if let Some(state) = net.listeners.get_mut(&id) {
            state.phase = phase;
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        }
    }
}
