//! `weft pingpong`: the ping-pong protocols of "Expert Twisted", chapter 1, on real TCP.
//!
//! With no mode it is the book's script: one process listens on 127.0.0.1, port 0,
//! connects to itself with a client maximum of 100, and ends when both connections
//! have closed. `server` and `client` run the two sides as separate processes.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use clap::{Args, Subcommand};

use super::serve::DEFAULT_IFACE;
use crate::host::{
    ConnId, ConnectError, DEFAULT_CONNECT_TIMEOUT, HostContext, HostPort, ListenerId, Program,
};
use crate::programs::pingpong::{PingPong, PingPongFactory};
use crate::protocol::{Factory, NoTimer, Protocol};
use crate::transport::Disconnect;

/// Arguments of `weft pingpong`.
#[derive(Debug, Args)]
pub(crate) struct PingPongArgs {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Bytes the client receives before it closes (single-process form).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    maximum: u64,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Serve ping-pong until interrupted; prints `listening on HOST:PORT` first.
    Server {
        /// Port to listen on; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Interface to listen on.
        #[arg(long, default_value = DEFAULT_IFACE)]
        iface: String,
    },
    /// Play against a server; exits once the connection has ended.
    Client {
        /// Where the server listens: `PORT` (on 127.0.0.1) or `HOST:PORT`.
        #[arg(value_name = "[HOST:]PORT")]
        addr: HostPort,
        /// Bytes to receive before closing.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        maximum: u64,
    },
}

pub(crate) fn run(args: &PingPongArgs) -> i32 {
    let program = match &args.mode {
        None => PingPongProgram::loopback(args.maximum),
        Some(Mode::Server { port, iface }) => {
            PingPongProgram::server(HostPort::new(iface.clone(), *port))
        }
        Some(Mode::Client { addr, maximum }) => PingPongProgram::client(addr.clone(), *maximum),
    };
    crate::net::init_logging();
    crate::net::run(program).unwrap_or_else(|error| {
        eprintln!("error: {error}");
        1
    })
}

/// Where the client connects.
#[derive(Clone, Debug)]
enum Target {
    /// An address given on the command line.
    Addr(HostPort),
    /// This program's own listener, once it is up.
    OwnListener,
}

/// Ping-pong as one program: a server side, a client side, or both in one process.
struct PingPongProgram {
    listen: Option<HostPort>,
    connect: Option<Target>,
    server: PingPongFactory,
    client: PingPongFactory,
    protocols: BTreeMap<ConnId, PingPong>,
    /// The client's connection, once asked for.
    outgoing: Option<ConnId>,
    /// The client's connection has ended (or never came up).
    client_done: bool,
    all_clean: bool,
}

impl PingPongProgram {
    fn new(listen: Option<HostPort>, connect: Option<Target>, maximum: Option<u64>) -> Self {
        Self {
            listen,
            connect,
            server: PingPongFactory::server(None),
            client: PingPongFactory::client(maximum),
            protocols: BTreeMap::new(),
            outgoing: None,
            client_done: false,
            all_clean: true,
        }
    }

    fn loopback(maximum: u64) -> Self {
        Self::new(
            Some(HostPort::new("127.0.0.1", 0)),
            Some(Target::OwnListener),
            Some(maximum),
        )
    }

    fn server(addr: HostPort) -> Self {
        Self::new(Some(addr), None, None)
    }

    fn client(to: HostPort, maximum: u64) -> Self {
        Self::new(None, Some(Target::Addr(to)), Some(maximum))
    }

    fn connect(&mut self, cx: &mut HostContext<'_, NoTimer>, to: HostPort) {
        self.outgoing = Some(cx.connect(to, DEFAULT_CONNECT_TIMEOUT));
    }

    fn with(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        conn: ConnId,
        f: impl FnOnce(&mut PingPong, &mut crate::protocol::Context<'_, NoTimer>),
    ) {
        if let Some(protocol) = self.protocols.get_mut(&conn) {
            cx.with_protocol(conn, |t: NoTimer| t, |pcx| f(protocol, pcx));
        }
    }

    /// A program with a client side exits once that side is done and every
    /// connection it served has closed too; a plain server runs until interrupted.
    fn exit_if_done(&self, cx: &mut HostContext<'_, NoTimer>) {
        if self.connect.is_some() && self.client_done && self.protocols.is_empty() {
            cx.exit(if self.all_clean { 0 } else { 1 });
        }
    }
}

impl Program for PingPongProgram {
    type Timer = NoTimer;

    fn start(&mut self, cx: &mut HostContext<'_, NoTimer>) {
        if let Some(addr) = self.listen.clone() {
            cx.listen(addr);
        }
        if let Some(Target::Addr(to)) = self.connect.clone() {
            self.connect(cx, to);
        }
    }

    fn listening(&mut self, cx: &mut HostContext<'_, NoTimer>, _: ListenerId, addr: SocketAddr) {
        cx.print(format!("listening on {addr}"));
        if matches!(self.connect, Some(Target::OwnListener)) && self.outgoing.is_none() {
            self.connect(cx, addr.into());
        }
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
        let Some(peer) = cx.peer(conn) else { return };
        let factory = if self.outgoing == Some(conn) {
            &mut self.client
        } else {
            &mut self.server
        };
        self.protocols.insert(conn, factory.build_protocol(peer));
        self.with(cx, conn, |p, pcx| p.connection_made(pcx));
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId, data: &[u8]) {
        self.with(cx, conn, |p, pcx| p.data_received(pcx, data));
    }

    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
        self.with(cx, conn, |p, pcx| p.read_connection_lost(pcx));
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        self.with(cx, conn, |p, pcx| p.connection_lost(pcx, reason));
        let Some(protocol) = self.protocols.remove(&conn) else {
            return;
        };
        let side = if self.outgoing == Some(conn) {
            self.client_done = true;
            "client"
        } else {
            "server"
        };
        let peer = cx
            .peer(conn)
            .map_or_else(|| "?".to_owned(), |p| p.to_string());
        cx.print(format!(
            "{side}: wrote {} bytes, received {} bytes; connection with {peer} {}",
            protocol.written(),
            protocol.received(),
            match reason {
                Disconnect::Clean => "closed cleanly",
                Disconnect::Reset => "was reset",
                Disconnect::Aborted => "was aborted",
                Disconnect::TimedOut => "timed out",
            }
        ));
        self.all_clean &= reason.is_clean();
        self.exit_if_done(cx);
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        _conn: ConnId,
        error: ConnectError,
    ) {
        cx.eprint(format!("error: {error}"));
        self.client_done = true;
        self.all_clean = false;
        self.exit_if_done(cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Stream;
    use crate::testing::MemoryReactor;
    use crate::transport::ipv4;

    #[test]
    fn client_reports_its_counts_and_exits_0_after_a_clean_close() {
        let to = HostPort::new("127.0.0.1", 8000);
        let mut reactor = MemoryReactor::new(PingPongProgram::client(to, 3));
        let conn = reactor.complete_connect(0);
        for _ in 0..3 {
            reactor.data_received(conn, b"*");
        }
        assert_eq!(reactor.value(conn), b"***", "greeting and two answers");
        assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
        assert_eq!(
            reactor.lines(Stream::Stdout),
            [
                "client: wrote 3 bytes, received 3 bytes; connection with 127.0.0.1:8000 closed cleanly"
            ]
        );
        assert_eq!(reactor.exit_code(), Some(0));
    }

    #[test]
    fn refused_client_says_so_and_exits_1() {
        let to = HostPort::new("127.0.0.1", 8000);
        let mut reactor = MemoryReactor::new(PingPongProgram::client(to, 100));
        reactor.fail_connect(0, ConnectError::Refused);
        assert_eq!(reactor.lines(Stream::Stderr), ["error: connection refused"]);
        assert_eq!(reactor.exit_code(), Some(1));
    }

    #[test]
    fn server_answers_every_read_and_never_exits() {
        let mut reactor = MemoryReactor::new(PingPongProgram::server(HostPort::new("::", 0)));
        assert_eq!(reactor.tcp_servers()[0].interface, "::");
        let conn = reactor.accept(0, ipv4(127, 0, 0, 1, 50000));
        reactor.data_received(conn, b"**");
        assert_eq!(
            reactor.value(conn),
            b"**",
            "one answer per read, whatever its size"
        );
        reactor.connection_lost(conn, Disconnect::Reset);
        assert_eq!(
            reactor.lines(Stream::Stdout),
            [
                "listening on [::]:40001",
                "server: wrote 2 bytes, received 2 bytes; connection with 127.0.0.1:50000 was reset"
            ]
        );
        assert_eq!(reactor.exit_code(), None);
    }

    #[test]
    fn loopback_form_connects_to_the_port_its_listener_got() {
        let reactor = MemoryReactor::new(PingPongProgram::loopback(100));
        let listen = &reactor.tcp_servers()[0];
        assert_eq!((listen.interface.as_str(), listen.port), ("127.0.0.1", 0));
        assert_eq!(
            reactor.lines(Stream::Stdout),
            ["listening on 127.0.0.1:40001"]
        );
        let connect = &reactor.tcp_clients()[0];
        assert_eq!((connect.host.as_str(), connect.port), ("127.0.0.1", 40001));
    }
}
