//! Programs: what runs on a host and owns any number of connections.
//!
//! A [`Program`] is a Twisted factory grown up: it starts, listens and connects, and gets
//! every connection's events keyed by [`ConnId`]. It acts through a [`HostContext`]:
//! write to or close any of its connections, schedule its timers, print a line, exit.
//! Shared state (a cache, a list of waiters, results in input order) lives in the program,
//! as it lives in the factory in Twisted. A program can keep per-connection
//! [`Protocol`](crate::protocol::Protocol) values and drive them with
//! [`HostContext::with_protocol`]; [`FactoryProgram`] does exactly that for a plain
//! factory.
//!
//! Drivers run a program inside a [`Host`], the sans-IO core they all share: they feed it
//! network events and poll it for [`Command`]s, bytes to send and deadlines.
//!
//! A program that draws random numbers (a retry's jitter) draws them from its host's
//! [`HostRng`], seeded by the driver; [`RetryPolicy`] is the back-off a retrying client
//! needs, and [`ReconnectingClient`] (Twisted's `ClientService`) keeps a connection up
//! with it.

mod adapter;
mod context;
mod core;
mod reconnect;
pub mod retry;
mod rng;
mod state;
mod table;

pub use adapter::{FactoryProgram, Role};
pub use context::HostContext;
pub use core::{ConnPoll, Delivered, Host, Node};
pub use reconnect::{ReconnectTimer, ReconnectingClient};
pub use retry::{Jitter, RetryPolicy};
pub use rng::HostRng;
pub use table::ConnMap;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::transport::Disconnect;

/// Twisted's default `listenTCP` backlog.
pub const DEFAULT_BACKLOG: u32 = 50;

/// Twisted's default `connectTCP` timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection of one host, unique for the host's lifetime.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A listening port of one host.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ListenerId(pub u64);

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "l{}", self.0)
    }
}

/// A `host:port` to connect to or listen on; the host is a name or an IP literal that
/// the driver resolves.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct HostPort {
    /// Host name or address.
    pub host: String,
    /// TCP port; 0 to listen on any free port.
    pub port: u16,
}

impl HostPort {
    /// `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl From<SocketAddr> for HostPort {
    fn from(addr: SocketAddr) -> Self {
        Self::new(addr.ip().to_string(), addr.port())
    }
}

/// A malformed `[host:]port` argument.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AddressError {
    /// The port part is not a number from 0 to 65535.
    #[error("ports must be integers from 0 to 65535, got {0:?}")]
    BadPort(String),
    /// Nothing before the `:`.
    #[error("empty host name in {0:?}")]
    EmptyHost(String),
}

/// Parses the poetry programs' address syntax: `[host:]port`, where a bare port means
/// `127.0.0.1` and otherwise the text is split at the first `:`.
impl FromStr for HostPort {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = match s.split_once(':') {
            Some((host, port)) => (host, port),
            None => ("127.0.0.1", s),
        };
        if host.is_empty() {
            return Err(AddressError::EmptyHost(s.to_owned()));
        }
        let all_digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|_| all_digits)
            .ok_or_else(|| AddressError::BadPort(port.to_owned()))?;
        Ok(Self::new(host, port))
    }
}

impl serde::Serialize for HostPort {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HostPort {
    /// Reads the `[host:]port` syntax, or a bare port number.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Text {
            Port(u16),
            Address(String),
        }
        match Text::deserialize(d)? {
            Text::Port(port) => Ok(Self::new("127.0.0.1", port)),
            Text::Address(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Why a connect did not produce a connection. Always reported on a later turn than
/// the `connect` call, never inside it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens there (a reset in answer to the SYN).
    #[error("connection refused")]
    Refused,
    /// No answer within the connect timeout (a black hole or a partition).
    #[error("connection timed out")]
    TimedOut,
    /// The name does not resolve.
    #[error("no such host: {0}")]
    UnknownHost(String),
    /// The address cannot be reached (no route, host down).
    #[error("host unreachable")]
    Unreachable,
    /// Any other error from the operating system.
    #[error("{0}")]
    Other(String),
}

/// Why a listen failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ListenError {
    /// Another listener holds the port.
    #[error("address already in use: {0}")]
    AddressInUse(HostPort),
    /// The interface is not one of this host's.
    #[error("cannot assign requested address: {0}")]
    BadInterface(HostPort),
    /// Any other error from the operating system.
    #[error("{0}")]
    Other(String),
}

/// Which output stream a program line goes to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Stream {
    /// Standard output: the program's results.
    Stdout,
    /// Standard error: its complaints.
    Stderr,
}

/// What a program asks of its driver, beyond bytes on connections.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Command {
    /// Start listening; answer with `handle_listening` or `handle_listen_failed`.
    Listen {
        /// The id the program got back.
        listener: ListenerId,
        /// Interface and port (0: any free port).
        addr: HostPort,
        /// Connections the kernel completes and holds while the program is not
        /// accepting (see [`HostContext::pause_accepting`]); more are not answered.
        /// `None`: the driver's default (SimNet: Twisted's 50; real sockets: 1024, as
        /// tokio's own `bind`, so a busy server is not held up by the kernel).
        backlog: Option<u32>,
    },
    /// Stop taking connections off a listener's backlog; new ones wait there.
    PauseAccepting {
        /// Which listener.
        listener: ListenerId,
    },
    /// Take connections off the backlog again.
    ResumeAccepting {
        /// Which listener.
        listener: ListenerId,
    },
    /// Stop accepting on a listener.
    StopListening {
        /// Which one.
        listener: ListenerId,
    },
    /// Open a connection; answer with `handle_connected` or `handle_connect_failed`.
    Connect {
        /// The id the program got back.
        conn: ConnId,
        /// Where to.
        to: HostPort,
        /// Give up (with [`ConnectError::TimedOut`]) after this long.
        timeout: Duration,
    },
    /// Drop a connect the program has given up on (see
    /// [`HostContext::abort_connection`]); no callback follows.
    CancelConnect {
        /// The abandoned connect.
        conn: ConnId,
    },
    /// A line of program output.
    Print {
        /// Standard output or standard error.
        stream: Stream,
        /// The line, without its newline.
        line: String,
    },
    /// The program is done. Its connections are closed as a process exit would.
    Exit {
        /// Exit status.
        code: i32,
    },
}

/// A program: the unit a host runs (a server, a client, a proxy).
///
/// Every callback gets the [`HostContext`]. Connection callbacks follow the protocol
/// lifecycle per [`ConnId`]; see [`Protocol`](crate::protocol::Protocol).
///
/// A client that asks once, prints the answer and exits, giving up after a second
/// without one; here tested against a [`MemoryReactor`](crate::testing::MemoryReactor),
/// and unchanged on [SimNet](crate::simnet), real TCP or turmoil:
///
/// ```
/// use std::time::Duration;
/// use weft::host::{ConnId, ConnectError, HostContext, HostPort, Program, Stream};
/// use weft::testing::MemoryReactor;
/// use weft::transport::Disconnect;
///
/// struct Ask;
///
/// #[derive(Clone, Copy, Debug)]
/// struct GiveUp;
///
/// impl Program for Ask {
///     type Timer = GiveUp;
///
///     fn start(&mut self, cx: &mut HostContext<'_, GiveUp>) {
///         cx.connect(HostPort::new("server", 7000), Duration::from_secs(5));
///         cx.call_later(Duration::from_secs(1), GiveUp);
///     }
///
///     fn connection_made(&mut self, cx: &mut HostContext<'_, GiveUp>, conn: ConnId) {
///         cx.write(conn, b"GET k\r\n");
///     }
///
///     fn data_received(&mut self, cx: &mut HostContext<'_, GiveUp>, conn: ConnId, data: &[u8]) {
///         cx.print(String::from_utf8_lossy(data).trim_end());
///         cx.lose_connection(conn);
///         cx.exit(0);
///     }
///
///     fn connection_lost(&mut self, _: &mut HostContext<'_, GiveUp>, _: ConnId, _: Disconnect) {}
///
///     fn connect_failed(&mut self, cx: &mut HostContext<'_, GiveUp>, _: ConnId, e: ConnectError) {
///         cx.eprint(format!("connect failed: {e}"));
///         cx.exit(1);
///     }
///
///     fn timer_fired(&mut self, cx: &mut HostContext<'_, GiveUp>, _: GiveUp) {
///         if !cx.has_exited() {
///             cx.eprint("no answer within 1s");
///             cx.exit(1);
///         }
///     }
/// }
///
/// let mut reactor = MemoryReactor::new(Ask);
/// let conn = reactor.complete_connect(0);
/// assert_eq!(reactor.value(conn), b"GET k\r\n");
/// reactor.data_received(conn, b"VALUE 1\r\n");
/// assert_eq!(reactor.lines(Stream::Stdout), ["VALUE 1"]);
/// assert_eq!(reactor.exit_code(), Some(0));
///
/// let mut silent = MemoryReactor::new(Ask);
/// silent.complete_connect(0);
/// silent.advance(Duration::from_secs(1));
/// assert_eq!(silent.lines(Stream::Stderr), ["no answer within 1s"]);
/// assert_eq!(silent.exit_code(), Some(1));
/// ```
pub trait Program {
    /// The program's named timers.
    type Timer: Copy + fmt::Debug;

    /// The host is up: listen, connect, schedule.
    fn start(&mut self, cx: &mut HostContext<'_, Self::Timer>);

    /// A connection is up: accepted on a listener, or a `connect` that succeeded.
    fn connection_made(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId);

    /// Bytes arrived on a connection.
    fn data_received(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId, data: &[u8]);

    /// The peer half-closed. The default closes our side once our writes are sent.
    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        cx.lose_connection(conn);
    }

    /// A connection ended; called exactly once per connection that was made.
    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        conn: ConnId,
        reason: Disconnect,
    );

    /// A `connect` failed; `conn` never became a connection.
    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        conn: ConnId,
        error: ConnectError,
    );

    /// A listener is accepting on `addr` (the real port, if 0 was asked for).
    fn listening(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        listener: ListenerId,
        addr: SocketAddr,
    ) {
        let _ = (cx, listener, addr);
    }

    /// A listen failed. The default reports it on stderr and exits with status 1, as a
    /// server that cannot bind its port would.
    fn listen_failed(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        listener: ListenerId,
        error: ListenError,
    ) {
        let _ = listener;
        cx.eprint(format!("error: {error}"));
        cx.exit(1);
    }

    /// A timer fell due.
    fn timer_fired(&mut self, cx: &mut HostContext<'_, Self::Timer>, timer: Self::Timer) {
        let _ = (cx, timer);
    }

    /// As producer on `conn`: its queue passed the high-water mark.
    fn pause_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        let _ = (cx, conn);
    }

    /// As producer on `conn`: its queue drained.
    fn resume_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        let _ = (cx, conn);
    }

    /// As producer on `conn`: the connection is gone.
    fn stop_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        let _ = (cx, conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_port_means_loopback() {
        assert_eq!("10000".parse(), Ok(HostPort::new("127.0.0.1", 10000)));
        assert_eq!("poet:10001".parse(), Ok(HostPort::new("poet", 10001)));
    }

    #[test]
    fn bad_ports_are_rejected() {
        assert!(matches!(
            "host:x1".parse::<HostPort>(),
            Err(AddressError::BadPort(_))
        ));
        assert!(matches!(
            "70000".parse::<HostPort>(),
            Err(AddressError::BadPort(_))
        ));
        assert!(matches!(
            "+80".parse::<HostPort>(),
            Err(AddressError::BadPort(_))
        ));
        assert!(matches!(
            ":80".parse::<HostPort>(),
            Err(AddressError::EmptyHost(_))
        ));
    }
}
