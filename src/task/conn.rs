//! Connections for tasks: [`Connect`], [`Connection`], [`Listen`] and [`Listener`].
//!
//! A [`Connection`] owns its connection: dropping it closes the connection cleanly
//! (`lose_connection`: what was written is sent first), as Twisted's
//! `connector.disconnect()` does, and dropping a [`Connect`] still in progress withdraws
//! the connect. So cancelling a future — dropping it, by [`Timers::timeout`], by a
//! [`there_can_be_only_one`] that another contender won — closes whatever the future
//! owned. [`Connection::abort_on_drop`] makes the drop an abort (a reset) instead.
//!
//! [`Timers::timeout`]: super::Timers::timeout
//! [`there_can_be_only_one`]: super::there_can_be_only_one

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::core::{ListenId, ListenPhase, Net, Op, Phase, SockId, Socket};
use crate::flow::HIGH_WATER_MARK;
use crate::host::{ConnectError, HostPort, ListenError};
use crate::transport::Disconnect;

/// A connection broke: reads and writes report how.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The connection ended other than cleanly (reset, aborted, timed out).
    #[error("{0}")]
    Lost(Disconnect),
    /// A write after the connection ended or after this side's half-close.
    #[error("connection is closed for writing")]
    Closed,
}

/// A connect in progress; completes with a [`Connection`] or a [`ConnectError`]
/// (refused, timed out — a black hole —, unknown host, ...).
#[must_use = "futures do nothing unless polled"]
pub struct Connect {
    net: Net,
    to: HostPort,
    timeout: Duration,
    abort_on_drop: bool,
    sock: Option<SockId>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect").field("to", &self.to).finish()
    }
}

impl Connect {
    pub(crate) fn new(net: Net, to: HostPort, timeout: Duration) -> Self {
        Self {
            net,
            to,
            timeout,
            abort_on_drop: false,
            sock: None,
        }
    }

    /// Gives up with [`ConnectError::TimedOut`] after `timeout` without an answer.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connection this makes is aborted (reset), not closed, when dropped; see
    /// [`Connection::abort_on_drop`].
    pub fn abort_on_drop(mut self) -> Self {
        self.abort_on_drop = true;
        self
    }
}

impl Future for Connect {
    type Output = Result<Connection, ConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut net = this.net.borrow_mut();
        let sock = match this.sock {
            Some(sock) => sock,
            None => {
                let mut socket = Socket::new(Phase::Connecting);
                socket.abort_on_drop = this.abort_on_drop;
                let sock = net.add_socket(socket);
                net.ops.push_back(Op::Connect {
                    sock,
                    to: this.to.clone(),
                    timeout: this.timeout,
                });
                this.sock = Some(sock);
                sock
            }
        };
        let Some(socket) = net.sockets.get_mut(&sock) else {
            return Poll::Ready(Err(ConnectError::Other("connect was withdrawn".into())));
        };
        match &socket.phase {
            Phase::Connecting => {
                socket.state_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Phase::Failed(error) => {
                let error = error.clone();
                net.forget(sock);
                this.sock = None;
                Poll::Ready(Err(error))
            }
            Phase::Open | Phase::Lost(_) => {
                this.sock = None;
                drop(net);
                Poll::Ready(Ok(Connection {
                    net: this.net.clone(),
                    sock,
                }))
            }
        }
    }
}

impl Drop for Connect {
    fn drop(&mut self) {
        if let Some(sock) = self.sock.take() {
            self.net.borrow_mut().release_socket(sock);
        }
    }
}

/// One connection, owned: read, write, half-close, abort. Dropping it closes the
/// connection cleanly (see the [`task`](crate::task) module docs).
pub struct Connection {
    net: Net,
    sock: SockId,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer())
            .finish()
    }
}

impl Connection {
    fn with<R>(&self, f: impl FnOnce(&mut Socket) -> R) -> Option<R> {
        self.net.borrow_mut().sockets.get_mut(&self.sock).map(f)
    }

    /// The remote address (Twisted's `getPeer`).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.with(|s| s.peer).flatten()
    }

    /// This side's address (Twisted's `getHost`).
    pub fn local(&self) -> Option<SocketAddr> {
        self.with(|s| s.local).flatten()
    }

    /// How the connection ended, once it has.
    pub fn lost(&self) -> Option<Disconnect> {
        self.with(|s| match s.phase {
            Phase::Lost(reason) => Some(reason),
            _ => None,
        })
        .flatten()
    }

    /// Makes dropping this connection abort it (the peer sees a reset) instead of
    /// closing it cleanly: for a client that gives up on a slow server, whose close
    /// would otherwise wait on the server.
    pub fn abort_on_drop(&mut self) {
        self.with(|s| s.abort_on_drop = true);
    }

    /// The next bytes: exactly what one `data_received` delivered (the network's
    /// chunking is kept), or the oldest such chunk not read yet. `Ok(None)` at the end
    /// of the stream (the peer half-closed or closed cleanly); an error if the
    /// connection broke. Buffered bytes are always read before the end or the error.
    pub fn read(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>, ConnectionError>> + '_ {
        std::future::poll_fn(move |cx| {
            let mut net = self.net.borrow_mut();
            let Some(socket) = net.sockets.get_mut(&self.sock) else {
                return Poll::Ready(Ok(None));
            };
            if let Some(chunk) = socket.inbox.pop_front() {
                return Poll::Ready(Ok(Some(chunk)));
            }
            match socket.phase {
                Phase::Lost(Disconnect::Clean) => Poll::Ready(Ok(None)),
                Phase::Lost(reason) => Poll::Ready(Err(ConnectionError::Lost(reason))),
                _ if socket.eof => Poll::Ready(Ok(None)),
                _ => {
                    socket.read_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }

    /// Queues `data`, waiting first while the connection is past its 64 KiB high-water
    /// mark (back-pressure: the write that crosses the mark returns at once, the next
    /// waits until the queue drains, as a paused push producer would).
    pub fn write(
        &mut self,
        data: impl Into<Vec<u8>>,
    ) -> impl Future<Output = Result<(), ConnectionError>> + '_ {
        let mut data = Some(data.into());
        std::future::poll_fn(move |cx| {
            let mut net = self.net.borrow_mut();
            let sock = self.sock;
            let Some(socket) = net.sockets.get_mut(&sock) else {
                return Poll::Ready(Err(ConnectionError::Closed));
            };
            match socket.phase {
                Phase::Lost(Disconnect::Clean) | Phase::Failed(_) => {
                    return Poll::Ready(Err(ConnectionError::Closed));
                }
                Phase::Lost(reason) => return Poll::Ready(Err(ConnectionError::Lost(reason))),
                Phase::Open | Phase::Connecting => {}
            }
            if socket.write_shut {
                return Poll::Ready(Err(ConnectionError::Closed));
            }
            if socket.over_mark {
                socket.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let data = data.take().unwrap_or_default();
            socket.queued_estimate += data.len();
            if socket.queued_estimate > HIGH_WATER_MARK {
                // Until the program has carried the write out and knows for sure.
                socket.over_mark = true;
            }
            net.ops.push_back(Op::Write { sock, data });
            Poll::Ready(Ok(()))
        })
    }

    /// Half-closes: end-of-stream goes out after what was written; reading goes on.
    pub fn half_close(&mut self) {
        if self.with(|s| !std::mem::replace(&mut s.write_shut, true)) == Some(true) {
            self.net
                .borrow_mut()
                .ops
                .push_back(Op::HalfClose { sock: self.sock });
        }
    }

    /// Closes cleanly once what was written is sent (Twisted's `loseConnection`), without
    /// waiting for the end, whatever [`abort_on_drop`](Self::abort_on_drop) says.
    pub fn lose_connection(self) {
        self.with(|s| s.abort_on_drop = false);
    }

    /// Closes now, discarding what is unsent; the peer sees a reset.
    pub fn abort(mut self) {
        self.abort_on_drop();
    }

    /// Closes cleanly once what was written is sent, and waits for the end: how the
    /// connection ended (clean, or a reset that came first). Resolves at once on a
    /// connection that has already ended.
    pub fn close(self) -> Closing {
        Closing {
            conn: self,
            requested: false,
        }
    }
}

/// A clean close in progress; see [`Connection::close`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Closing {
    conn: Connection,
    requested: bool,
}

impl Future for Closing {
    type Output = Disconnect;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Disconnect> {
        let this = &mut *self;
        let sock = this.conn.sock;
        let mut net = this.conn.net.borrow_mut();
        let Some(socket) = net.sockets.get_mut(&sock) else {
            return Poll::Ready(Disconnect::Clean);
        };
        match socket.phase {
            Phase::Lost(reason) => Poll::Ready(reason),
            Phase::Failed(_) => Poll::Ready(Disconnect::Aborted),
            Phase::Open | Phase::Connecting => {
                socket.state_waker = Some(cx.waker().clone());
                if !std::mem::replace(&mut this.requested, true) {
                    net.ops.push_back(Op::Close { sock });
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.net.borrow_mut().release_socket(self.sock);
    }
}

/// A listening port, as Twisted's `listenTCP` returns it: made at once, confirmed (or
/// refused) by the driver later. Dropping it stops listening and closes connections not
/// yet accepted.
pub struct Listener {
    net: Net,
    id: ListenId,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.local_addr())
            .finish()
    }
}

impl Listener {
    pub(crate) fn new(net: Net, addr: HostPort, backlog: Option<u32>) -> Self {
        let id = {
            let mut core = net.borrow_mut();
            let id = core.add_listener(addr.port);
            core.ops.push_back(Op::Listen {
                listener: id,
                addr,
                backlog,
            });
            id
        };
        Self { net, id }
    }

    /// Where it listens (the real port, if 0 was asked for), once the driver has said.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.net.borrow().listeners.get(&self.id)?.phase {
            ListenPhase::Listening(addr) => Some(addr),
            _ => None,
        }
    }

    /// Waits for the driver's answer: the address it listens on, or why it cannot.
    pub fn listening(&mut self) -> impl Future<Output = Result<SocketAddr, ListenError>> + '_ {
        std::future::poll_fn(move |cx| {
            let mut net = self.net.borrow_mut();
            let Some(state) = net.listeners.get_mut(&self.id) else {
                return Poll::Ready(Err(ListenError::Other("not listening".into())));
            };
            match &state.phase {
                ListenPhase::Pending => {
                    state.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                ListenPhase::Failed(error) => Poll::Ready(Err(error.clone())),
                &ListenPhase::Listening(addr) => Poll::Ready(Ok(addr)),
            }
        })
    }

    /// The next connection, oldest first; an error if the listen failed.
    pub fn accept(&mut self) -> impl Future<Output = Result<Connection, ListenError>> + '_ {
        std::future::poll_fn(move |cx| {
            let mut net = self.net.borrow_mut();
            let Some(state) = net.listeners.get_mut(&self.id) else {
                return Poll::Ready(Err(ListenError::Other("not listening".into())));
            };
            if let Some(sock) = state.backlog.pop_front() {
                return Poll::Ready(Ok(Connection {
                    net: self.net.clone(),
                    sock,
                }));
            }
            if let ListenPhase::Failed(error) = &state.phase {
                return Poll::Ready(Err(error.clone()));
            }
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut net = self.net.borrow_mut();
        if let Some(state) = net.listeners.get_mut(&self.id) {
            state.orphaned = true;
        }
        net.ops.push_back(Op::StopListening { listener: self.id });
    }
}
