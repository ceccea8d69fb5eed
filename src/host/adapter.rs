//! [`FactoryProgram`]: a program made of one factory, for protocols that need nothing
//! from each other (ping-pong, heartbeat, streaming).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::{
    ConnId, ConnMap, ConnectError, DEFAULT_CONNECT_TIMEOUT, HostContext, HostPort, ListenerId,
    Program,
};
use crate::protocol::{Factory, Protocol};
use crate::transport::Disconnect;

/// What a [`FactoryProgram`] does when it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Listen on an address (Twisted's `listenTCP`).
    Listen(HostPort),
    /// Connect to an address (Twisted's `connectTCP`).
    Connect {
        /// Where to.
        to: HostPort,
        /// Connect timeout.
        timeout: Duration,
    },
}

/// Runs a [`Factory`]: listens and connects as its roles say, builds a protocol for every
/// connection and passes each connection's events to its protocol.
///
/// With [`exit_when_done`](Self::exit_when_done), a client program exits once all its
/// outgoing connections have ended: status 0 if every one connected and closed cleanly,
/// 1 otherwise.
// `protocols` first (`repr(C)`), where its host puts it beside the clock: what a
// lookup reads of it then shares one cache line.
#[repr(C)]
pub struct FactoryProgram<F: Factory> {
    protocols: ConnMap<Line<F::Protocol>>,
    factory: F,
    roles: Vec<Role>,
    /// The most recently ended connection's protocol, kept for inspection.
    last_ended: Option<(ConnId, F::Protocol)>,
    /// Connects issued and not yet ended (failed, or made and lost).
    outgoing: BTreeSet<ConnId>,
    outgoing_failed: bool,
    exit_when_done: bool,
    /// Where its listeners accept, in the order they were bound.
    listening: Vec<SocketAddr>,
}

/// A protocol in its own cache line(s): a small one never straddles two, so an event
/// on its connection reads one line of it, not two.
#[repr(align(64))]
struct Line<P>(P);

type TimerOf<F> = <<F as Factory>::Protocol as Protocol>::Timer;

impl<F: Factory> FactoryProgram<F> {
    /// A program for `factory` with no roles yet.
    pub fn new(factory: F) -> Self {
        Self {
            factory,
            roles: Vec::new(),
            protocols: ConnMap::new(),
            last_ended: None,
            outgoing: BTreeSet::new(),
            outgoing_failed: false,
            exit_when_done: false,
            listening: Vec::new(),
        }
    }

    /// Where `protocols` is in the program, for the host's layout test.
    #[cfg(test)]
    pub(crate) const PROTOCOLS_OFFSET: usize = std::mem::offset_of!(Self, protocols);

    /// Adds a listen role.
    pub fn listen(mut self, addr: HostPort) -> Self {
        self.roles.push(Role::Listen(addr));
        self
    }

    /// Adds a connect role with Twisted's 30-second connect timeout.
    pub fn connect(mut self, to: HostPort) -> Self {
        self.roles.push(Role::Connect {
            to,
            timeout: DEFAULT_CONNECT_TIMEOUT,
        });
        self
    }

    /// Exit once every outgoing connection has ended.
    pub fn exit_when_done(mut self) -> Self {
        self.exit_when_done = true;
        self
    }

    /// The factory, with whatever state its protocols share.
    pub fn factory(&self) -> &F {
        &self.factory
    }

    /// The addresses its listeners accept on, in the order they were bound, with the
    /// real port where 0 was asked for. (On real TCP, where the test cannot look inside
    /// a running program, [`Probe::address`](crate::testing::Probe::address) hands the
    /// address out as it is bound.)
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::host::{FactoryProgram, Host, HostPort};
    /// use weft::programs::pingpong::PingPongFactory;
    /// use weft::simnet::{NetConfig, SimNet};
    ///
    /// let mut net = SimNet::new(NetConfig::default(), 1);
    /// net.add_host("server", || {
    ///     let program = FactoryProgram::new(PingPongFactory::server(None))
    ///         .listen(HostPort::new("0.0.0.0", 0));
    ///     Box::new(Host::new(program))
    /// });
    /// net.run_for(Duration::from_secs(1));
    /// let host = net.node("server").unwrap();
    /// let server = host.downcast_ref::<Host<FactoryProgram<PingPongFactory>>>().unwrap();
    /// let bound = server.program().listening_addrs();
    /// assert_eq!(bound.len(), 1);
    /// assert_ne!(bound[0].port(), 0, "the port it got, not the 0 it asked for");
    /// ```
    pub fn listening_addrs(&self) -> &[SocketAddr] {
        &self.listening
    }

    /// The protocol of a live connection.
    pub fn protocol(&self, conn: ConnId) -> Option<&F::Protocol> {
        self.protocols.get(conn).map(|p| &p.0)
    }

    /// The protocol of the newest connection, live or (if it has ended) kept from its
    /// end: what a test looks at after a run.
    pub fn last_protocol(&self) -> Option<&F::Protocol> {
        let live = self.protocols.last().map(|(id, p)| (id, &p.0));
        match (live, &self.last_ended) {
            (Some((id, p)), Some((ended, q))) => Some(if id > *ended { p } else { q }),
            (Some((_, p)), None) => Some(p),
            (None, Some((_, q))) => Some(q),
            (None, None) => None,
        }
    }

    #[inline(always)]
    fn with<R>(
        &mut self,
        cx: &mut HostContext<'_, (ConnId, TimerOf<F>)>,
        conn: ConnId,
        f: impl FnOnce(&mut F::Protocol, &mut crate::protocol::Context<'_, TimerOf<F>>) -> R,
    ) -> Option<R> {
        let protocol = &mut self.protocols.get_mut(conn)?.0;
        cx.with_protocol(conn, move |t| (conn, t), |pcx| f(protocol, pcx))
    }

    fn outgoing_ended(
        &mut self,
        cx: &mut HostContext<'_, (ConnId, TimerOf<F>)>,
        conn: ConnId,
        clean: bool,
    ) {
        if !self.outgoing.remove(&conn) {
            return;
        }
        self.outgoing_failed |= !clean;
        if self.exit_when_done && self.outgoing.is_empty() {
            cx.exit(i32::from(self.outgoing_failed));
        }
    }
}

impl<F: Factory> Program for FactoryProgram<F> {
    type Timer = (ConnId, TimerOf<F>);

    fn start(&mut self, cx: &mut HostContext<'_, Self::Timer>) {
        for role in self.roles.clone() {
            match role {
                Role::Listen(addr) => {
                    cx.listen(addr);
                }
                Role::Connect { to, timeout } => {
                    let conn = cx.connect(to, timeout);
                    self.outgoing.insert(conn);
                }
            }
        }
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        let Some(peer) = cx.peer(conn) else { return };
        let protocol = self.factory.build_protocol(peer);
        self.protocols.insert(conn, Line(protocol));
        self.with(cx, conn, |p, pcx| p.connection_made(pcx));
    }

    // Always inlined: the host's read path then sees the protocol's callback whole.
    #[inline(always)]
    fn data_received(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId, data: &[u8]) {
        self.with(cx, conn, |p, pcx| p.data_received(pcx, data));
    }

    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.with(cx, conn, |p, pcx| p.read_connection_lost(pcx));
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        self.with(cx, conn, |p, pcx| p.connection_lost(pcx, reason));
        if let Some(Line(protocol)) = self.protocols.remove(conn) {
            self.last_ended = Some((conn, protocol));
        }
        self.outgoing_ended(cx, conn, reason.is_clean());
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        tracing::warn!(%conn, %error, "connect failed");
        cx.eprint(format!("connection failed: {error}"));
        self.outgoing_ended(cx, conn, false);
    }

    fn listening(&mut self, _: &mut HostContext<'_, Self::Timer>, _: ListenerId, addr: SocketAddr) {
        self.listening.push(addr);
        self.factory.listening(addr);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, Self::Timer>, (conn, timer): Self::Timer) {
        self.with(cx, conn, |p, pcx| p.timer_fired(pcx, timer));
    }

    fn pause_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.with(cx, conn, |p, pcx| p.pause_producing(pcx));
    }

    fn resume_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.with(cx, conn, |p, pcx| p.resume_producing(pcx));
    }

    fn stop_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.with(cx, conn, |p, pcx| p.stop_producing(pcx));
    }
}
