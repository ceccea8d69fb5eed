//! The state tasks share with their [`TaskProgram`](super::TaskProgram): sockets,
//! listeners, and the operations tasks have asked for.
//!
//! A task never holds the [`HostContext`](crate::host::HostContext) (it exists only
//! during a program callback). What a task does is queued here as an [`Op`], in order,
//! and the program carries the ops out through the context right after each poll.
//! What the host reports (bytes, closes, connects) is recorded here and wakes the task
//! waiting on it.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use crate::host::{ConnId, ConnectError, HostPort, ListenError, ListenerId, Stream};
use crate::transport::Disconnect;

pub(crate) type SockId = u64;
pub(crate) type ListenId = u64;
pub(crate) type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// Something a task asked for, carried out by the program in order.
#[derive(Debug)]
pub(crate) enum Op {
    Connect {
        sock: SockId,
        to: HostPort,
        timeout: Duration,
    },
    Listen {
        listener: ListenId,
        addr: HostPort,
        backlog: Option<u32>,
    },
    StopListening {
        listener: ListenId,
    },
    Write {
        sock: SockId,
        data: Vec<u8>,
    },
    /// `lose_connection`; on a pending connect, withdraws it.
    Close {
        sock: SockId,
    },
    Abort {
        sock: SockId,
    },
    HalfClose {
        sock: SockId,
    },
    Print {
        stream: Stream,
        line: String,
    },
    Exit {
        code: i32,
    },
}

/// Where a socket is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Connecting,
    Open,
    Failed(ConnectError),
    Lost(Disconnect),
}

#[derive(Debug)]
pub(crate) struct Socket {
    pub(crate) conn: Option<ConnId>,
    pub(crate) phase: Phase,
    /// One entry per `data_received`, so reads keep the network's chunking.
    pub(crate) inbox: VecDeque<Vec<u8>>,
    pub(crate) eof: bool,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) local: Option<SocketAddr>,
    /// Writes wait while this is set: the queue is past the high-water mark.
    pub(crate) over_mark: bool,
    /// Bytes queued by write ops not yet carried out, plus the queue when last seen.
    pub(crate) queued_estimate: usize,
    /// Registered as the connection's push producer (only while over the mark).
    pub(crate) producer: bool,
    pub(crate) write_shut: bool,
    /// No handle owns it any more; it is removed once the host is done with it.
    pub(crate) orphaned: bool,
    pub(crate) abort_on_drop: bool,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
    pub(crate) state_waker: Option<Waker>,
}

impl Socket {
    pub(crate) fn new(phase: Phase) -> Self {
        Self {
            conn: None,
            phase,
            inbox: VecDeque::new(),
            eof: false,
            peer: None,
            local: None,
            over_mark: false,
            queued_estimate: 0,
            producer: false,
            write_shut: false,
            orphaned: false,
            abort_on_drop: false,
            read_waker: None,
            write_waker: None,
            state_waker: None,
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for waker in [
            self.read_waker.take(),
            self.write_waker.take(),
            self.state_waker.take(),
        ]
        .into_iter()
        .flatten()
        {
            waker.wake();
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListenPhase {
    Pending,
    Listening(SocketAddr),
    Failed(ListenError),
}

#[derive(Debug)]
pub(crate) struct ListenerState {
    pub(crate) id: Option<ListenerId>,
    /// The port asked for (0: any), until the driver says which.
    pub(crate) port: u16,
    pub(crate) phase: ListenPhase,
    pub(crate) backlog: VecDeque<SockId>,
    pub(crate) waker: Option<Waker>,
    pub(crate) orphaned: bool,
}

/// Everything tasks and their program share, behind one `Rc<RefCell<..>>`.
#[derive(Default)]
pub(crate) struct NetCore {
    pub(crate) ops: VecDeque<Op>,
    pub(crate) sockets: BTreeMap<SockId, Socket>,
    pub(crate) by_conn: BTreeMap<ConnId, SockId>,
    pub(crate) listeners: BTreeMap<ListenId, ListenerState>,
    pub(crate) by_listener: BTreeMap<ListenerId, ListenId>,
    next_sock: SockId,
    next_listener: ListenId,
    /// Tasks spawned since the program last looked, in spawn order.
    pub(crate) spawned: VecDeque<(u64, LocalTask)>,
    pub(crate) next_task: u64,
    /// Tasks asked to be cancelled.
    pub(crate) cancelled: Vec<u64>,
    pub(crate) exited: bool,
    /// The host's random source, taken over when the program starts: the program is
    /// the only one drawing from it, so draws replay from the run's seed.
    pub(crate) rng: crate::host::HostRng,
}

pub(crate) type Net = Rc<RefCell<NetCore>>;

impl NetCore {
    pub(crate) fn add_socket(&mut self, socket: Socket) -> SockId {
        let sock = self.next_sock;
        self.next_sock += 1;
        self.sockets.insert(sock, socket);
        sock
    }

    pub(crate) fn add_listener(&mut self, port: u16) -> ListenId {
        let id = self.next_listener;
        self.next_listener += 1;
        self.listeners.insert(
            id,
            ListenerState {
                id: None,
                port,
                phase: ListenPhase::Pending,
                backlog: VecDeque::new(),
                waker: None,
                orphaned: false,
            },
        );
        id
    }

    /// The handle of `sock` is gone: close it (cleanly, unless it was set to abort) and
    /// forget it once the host has no more to say about it.
    pub(crate) fn release_socket(&mut self, sock: SockId) {
        let Some(socket) = self.sockets.get_mut(&sock) else {
            return;
        };
        match socket.phase {
            Phase::Failed(_) | Phase::Lost(_) => {
                self.forget(sock);
            }
            Phase::Connecting | Phase::Open => {
                socket.orphaned = true;
                socket.read_waker = None;
                socket.write_waker = None;
                socket.state_waker = None;
                self.ops.push_back(if socket.abort_on_drop {
                    Op::Abort { sock }
                } else {
                    Op::Close { sock }
                });
            }
        }
    }

    pub(crate) fn forget(&mut self, sock: SockId) {
        if let Some(socket) = self.sockets.remove(&sock)
            && let Some(conn) = socket.conn
        {
            self.by_conn.remove(&conn);
        }
    }

    pub(crate) fn spawn(&mut self, task: LocalTask) -> u64 {
        let id = self.next_task;
        self.next_task += 1;
        self.spawned.push_back((id, task));
        id
    }
}
