//! The network stack the driver runs on: `tokio::net` or `turmoil::net`, behind three
//! small traits so the driver is one piece of code for both.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

/// A way to bind, accept, connect and resolve names: real sockets ([`Tokio`]) or
/// turmoil's simulated ones ([`Turmoil`]).
pub trait Stack: Clone + Send + Sync + 'static {
    /// A listening socket.
    type Listener: NetListener<Stream = Self::Stream>;
    /// A connected socket.
    type Stream: NetStream;

    /// Binds a listener to `addr` (port 0: any free port).
    fn bind(
        &self,
        addr: SocketAddr,
        backlog: u32,
    ) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// Opens a connection to `addr`.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Resolves `host` (a name or an IP literal) to addresses with `port`.
    fn lookup(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;
}

/// A listening socket of some [`Stack`].
pub trait NetListener: Send + 'static {
    /// The connections it accepts.
    type Stream: NetStream;

    /// Waits for the next connection; returns it with the peer's address.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

    /// The address it is bound to (with the real port, if 0 was asked for).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A connected socket of some [`Stack`]: a byte stream that can be half-closed
/// (`AsyncWrite::poll_shutdown` sends end-of-stream) and reset.
pub trait NetStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Our end's address.
    fn local_addr(&self) -> io::Result<SocketAddr>;
    /// The other end's address.
    fn peer_addr(&self) -> io::Result<SocketAddr>;
    /// Turns off Nagle's algorithm: the seed protocols exchange single bytes and wait
    /// for the answer, which Nagle plus delayed ACKs would hold up for tens of ms.
    fn set_nodelay(&self) -> io::Result<()>;
    /// Closes the connection so that the peer sees a reset, where the stack can.
    fn reset(self);
}

/// Real TCP through `tokio::net`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

impl Stack for Tokio {
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;

    async fn bind(&self, addr: SocketAddr, backlog: u32) -> io::Result<Self::Listener> {
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        // As TcpListener::bind does: a restarted server can rebind at once.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(backlog)
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Stream> {
        tokio::net::TcpStream::connect(addr).await
    }

    async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

impl NetListener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&self) -> io::Result<(Self::Stream, SocketAddr)> {
        Self::accept(self).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Self::local_addr(self)
    }
}

impl NetStream for tokio::net::TcpStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Self::local_addr(self)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Self::peer_addr(self)
    }

    fn set_nodelay(&self) -> io::Result<()> {
        Self::set_nodelay(self, true)
    }

    fn reset(self) {
        // SO_LINGER 0 makes close() send RST. tokio deprecates set_linger because a
        // non-zero linger blocks the thread on drop; a zero one does not.
        #[allow(deprecated)]
        if let Err(error) = self.set_linger(Some(std::time::Duration::ZERO)) {
            tracing::debug!(%error, "cannot set SO_LINGER; closing normally");
        }
    }
}

/// turmoil's simulated TCP through `turmoil::net`; only usable inside a turmoil host
/// or client.
///
/// turmoil 0.7 cannot send a reset on demand: [`NetStream::reset`] closes normally
/// (the peer sees end-of-stream), unless unread data makes turmoil send one anyway.
#[derive(Clone, Copy, Debug, Default)]
pub struct Turmoil;

impl Stack for Turmoil {
    type Listener = turmoil::net::TcpListener;
    type Stream = turmoil::net::TcpStream;

    /// turmoil has no accept backlog to size; it queues every connection.
    async fn bind(&self, addr: SocketAddr, _backlog: u32) -> io::Result<Self::Listener> {
        turmoil::net::TcpListener::bind(addr).await
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Stream> {
        turmoil::net::TcpStream::connect(addr).await
    }

    async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(turmoil::net::lookup_host((host, port)).await?.collect())
    }
}

impl NetListener for turmoil::net::TcpListener {
    type Stream = turmoil::net::TcpStream;

    async fn accept(&self) -> io::Result<(Self::Stream, SocketAddr)> {
        Self::accept(self).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Self::local_addr(self)
    }
}

impl NetStream for turmoil::net::TcpStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Self::local_addr(self)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Self::peer_addr(self)
    }

    fn set_nodelay(&self) -> io::Result<()> {
        Self::set_nodelay(self, true)
    }

    fn reset(self) {}
}
