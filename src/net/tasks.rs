//! The tasks the driver spawns: one per listener (bind, then accept), one per connect,
//! one per connection. They own the sockets; the driver owns the program. They talk
//! through channels: [`Event`]s to the driver, [`ToConn`] orders to a connection.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::stack::{NetListener, NetStream, Stack};
use crate::host::{ConnId, ConnectError, HostPort, ListenError, ListenerId};
use crate::transport::Disconnect;

/// Bytes asked of the socket per read.
pub(crate) const READ_SIZE: usize = 64 * 1024;

/// A connection's first read buffer; the first read that fills it grows it to
/// [`READ_SIZE`]. Zeroing 64 KiB up front for every connection costs a server of short
/// connections (a poem, then close) more than the bytes it serves.
const FIRST_READ_SIZE: usize = 4 * 1024;

/// How long a closed connection keeps reading (and discarding) until the peer's
/// end-of-stream. Closing a socket with unread bytes makes the kernel send a reset, so
/// a peer whose last write crossed our close would see its connection reset instead of
/// closed.
const LINGER: Duration = Duration::from_secs(2);

/// What the tasks report to the driver.
pub(crate) enum Event<S> {
    /// A listener is bound, or failed to bind.
    Listening(ListenerId, Result<SocketAddr, ListenError>),
    /// A listener accepted a connection.
    Accepted(ListenerId, S),
    /// A connect finished.
    Connected(ConnId, Result<S, ConnectError>),
    /// Bytes read from a connection. Its task reads nothing more until
    /// [`ToConn::ReadMore`].
    Data(ConnId, Vec<u8>),
    /// The peer sent end-of-stream.
    ReadClosed(ConnId),
    /// The last [`ToConn::Write`] has been taken by the socket.
    Wrote(ConnId),
    /// The connection broke (reset, broken pipe, timeout).
    Broken(ConnId, Disconnect),
}

/// What the driver tells a connection's task.
#[derive(Debug)]
pub(crate) enum ToConn {
    /// Send these bytes. The driver sends the next only after [`Event::Wrote`].
    Write(Vec<u8>),
    /// The program has taken the last read: read again.
    ReadMore,
    /// Send end-of-stream; keep reading.
    ShutdownWrite,
    /// Send end-of-stream and close (everything written has been sent).
    Close,
    /// Close now, with a reset.
    Abort,
}

/// Binds `addr`, reports the outcome, then accepts until the task is aborted, except
/// while `paused` says so (the kernel then holds new connections in the backlog).
pub(crate) async fn listen<S: Stack>(
    stack: S,
    listener: ListenerId,
    addr: HostPort,
    backlog: u32,
    mut paused: watch::Receiver<bool>,
    events: UnboundedSender<Event<S::Stream>>,
) {
    let bound = match bind(&stack, &addr, backlog).await {
        Ok(bound) => bound,
        Err(error) => {
            let _ = events.send(Event::Listening(listener, Err(error)));
            return;
        }
    };
    let local = match bound.local_addr() {
        Ok(local) => local,
        Err(error) => {
            let _ = events.send(Event::Listening(listener, Err(listen_error(&addr, &error))));
            return;
        }
    };
    if events.send(Event::Listening(listener, Ok(local))).is_err() {
        return;
    }
    loop {
        while *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                return;
            }
        }
        match bound.accept().await {
            Ok((stream, _peer)) => {
                if events.send(Event::Accepted(listener, stream)).is_err() {
                    return;
                }
            }
            Err(error) => {
                // Out of file descriptors and the like: the kernel keeps the connection
                // queued, so wait a little rather than spin on the error.
                tracing::warn!(%listener, %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn bind<S: Stack>(
    stack: &S,
    addr: &HostPort,
    backlog: u32,
) -> Result<S::Listener, ListenError> {
    let resolved = stack
        .lookup(&addr.host, addr.port)
        .await
        .map_err(|_| ListenError::BadInterface(addr.clone()))?;
    let first = *resolved
        .first()
        .ok_or_else(|| ListenError::BadInterface(addr.clone()))?;
    stack
        .bind(first, backlog)
        .await
        .map_err(|e| listen_error(addr, &e))
}

fn listen_error(addr: &HostPort, error: &io::Error) -> ListenError {
    match error.kind() {
        io::ErrorKind::AddrInUse => ListenError::AddressInUse(addr.clone()),
        io::ErrorKind::AddrNotAvailable => ListenError::BadInterface(addr.clone()),
        _ => ListenError::Other(error.to_string()),
    }
}

/// Resolves `to` and connects to its addresses in turn, all within `timeout`.
pub(crate) async fn connect<S: Stack>(
    stack: S,
    conn: ConnId,
    to: HostPort,
    timeout: Duration,
    events: UnboundedSender<Event<S::Stream>>,
) {
    let attempt = async {
        let addrs = match stack.lookup(&to.host, to.port).await {
            Ok(addrs) if !addrs.is_empty() => addrs,
            _ => return Err(ConnectError::UnknownHost(to.host.clone())),
        };
        let mut last = ConnectError::Refused;
        for addr in addrs {
            match stack.connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(error) => {
                    tracing::debug!(%conn, %addr, %error, "connect attempt failed");
                    last = connect_error(&error);
                }
            }
        }
        Err(last)
    };
    let outcome = tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ConnectError::TimedOut));
    let _ = events.send(Event::Connected(conn, outcome));
}

fn connect_error(error: &io::Error) -> ConnectError {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => ConnectError::Refused,
        io::ErrorKind::TimedOut => ConnectError::TimedOut,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            ConnectError::Unreachable
        }
        _ => ConnectError::Other(error.to_string()),
    }
}

/// How a read or write error ends a connection.
fn broken(error: &io::Error) -> Disconnect {
    match error.kind() {
        io::ErrorKind::TimedOut => Disconnect::TimedOut,
        _ => Disconnect::Reset,
    }
}

/// One step of a connection task: whichever of its three sources was ready first.
enum Step {
    Order(Option<ToConn>),
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
}

/// Spawns the task that owns a connection's socket.
pub(crate) fn spawn_connection<S: NetStream>(
    conn: ConnId,
    stream: S,
    orders: UnboundedReceiver<ToConn>,
    events: UnboundedSender<Event<S>>,
) -> JoinHandle<()> {
    let span = tracing::debug_span!("conn", %conn);
    tokio::spawn(connection(conn, stream, orders, events).instrument(span))
}

/// Reads while the driver has granted a read, writes the chunk it was given, and obeys
/// orders. One `&mut` stream serves all three: the poll below tries orders first (an
/// abort must not wait behind a blocked write), then the read, then the write.
async fn connection<S: NetStream>(
    conn: ConnId,
    mut stream: S,
    mut orders: UnboundedReceiver<ToConn>,
    events: UnboundedSender<Event<S>>,
) {
    let mut buf = vec![0; FIRST_READ_SIZE];
    let mut out: Vec<u8> = Vec::new();
    let mut sent = 0;
    let mut may_read = true;
    let mut write_shut = false;
    loop {
        let step = poll_fn(|cx| {
            if let Poll::Ready(order) = orders.poll_recv(cx) {
                return Poll::Ready(Step::Order(order));
            }
            if may_read {
                let mut read = ReadBuf::new(&mut buf);
                if let Poll::Ready(r) = Pin::new(&mut stream).poll_read(cx, &mut read) {
                    return Poll::Ready(Step::Read(r.map(|()| read.filled().len())));
                }
            }
            if sent < out.len()
                && let Poll::Ready(r) = Pin::new(&mut stream).poll_write(cx, &out[sent..])
            {
                return Poll::Ready(Step::Wrote(r));
            }
            Poll::Pending
        })
        .await;
        let event = match step {
            // The driver is gone (the program exited): close as a process exit would.
            Step::Order(None) => return,
            Step::Order(Some(order)) => match order {
                ToConn::Write(data) => {
                    out = data;
                    sent = 0;
                    continue;
                }
                ToConn::ReadMore => {
                    may_read = true;
                    continue;
                }
                ToConn::ShutdownWrite => {
                    write_shut = true;
                    match stream.shutdown().await {
                        Ok(()) => continue,
                        Err(error) => Event::Broken(conn, broken(&error)),
                    }
                }
                ToConn::Close => {
                    if !write_shut {
                        let _ = stream.shutdown().await;
                    }
                    linger(stream).await;
                    return;
                }
                ToConn::Abort => {
                    stream.reset();
                    return;
                }
            },
            Step::Read(Ok(0)) => {
                may_read = false;
                Event::ReadClosed(conn)
            }
            Step::Read(Ok(n)) => {
                may_read = false;
                let data = buf[..n].to_vec();
                if n == buf.len() && buf.len() < READ_SIZE {
                    buf.resize(READ_SIZE, 0);
                }
                Event::Data(conn, data)
            }
            Step::Read(Err(error)) | Step::Wrote(Err(error)) => {
                tracing::debug!(%error, "connection broke");
                Event::Broken(conn, broken(&error))
            }
            Step::Wrote(Ok(0)) => Event::Broken(conn, Disconnect::Reset),
            Step::Wrote(Ok(n)) => {
                sent += n;
                if sent < out.len() {
                    continue;
                }
                out.clear();
                sent = 0;
                Event::Wrote(conn)
            }
        };
        let ends = matches!(event, Event::Broken(..));
        if events.send(event).is_err() || ends {
            return;
        }
    }
}

/// Reads and discards until the peer's end-of-stream (or [`LINGER`] passes), so the
/// socket closes without a reset.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let drain = async {
        let mut buf = [0; 4096];
        while let Ok(1..) = stream.read(&mut buf).await {}
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
