//! [`ReconnectingClient`]: a client that keeps one connection up, reconnecting with
//! back-off (Twisted's `ClientService`, and `ReconnectingClientFactory`'s loop).

use std::time::Duration;

use super::{
    ConnId, ConnectError, DEFAULT_CONNECT_TIMEOUT, HostContext, HostPort, Program, RetryPolicy,
};
use crate::protocol::{Context, Factory, Protocol};
use crate::transport::Disconnect;

/// The timers of a [`ReconnectingClient`]: its own, and its protocol's (tagged with
/// the connection they belong to, so a dead connection's timer is dropped).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReconnectTimer<T> {
    /// The wait before the next connect is over.
    Reconnect,
    /// A timer of the protocol of connection `.0`.
    Protocol(ConnId, T),
}

type TimerOf<F> = <<F as Factory>::Protocol as Protocol>::Timer;

/// Keeps a connection to one address up: connects, hands the connection to a protocol
/// built by `factory`, and whenever a connect fails or the connection is lost, waits as
/// the [`RetryPolicy`] says and connects again (Twisted's `ClientService`).
///
/// A connection that is made resets the count of consecutive failures, so the next
/// loss waits the policy's first delay again (`ClientService` does this when a
/// connection is made; `ReconnectingClientFactory` users call `resetDelay()` in
/// `buildProtocol`). A lost connection counts as a failure, as in both. The jitter is
/// drawn from the host's seeded [`HostRng`](super::HostRng), so a run replays from its
/// seed. When the policy allows no more retries, the client prints
/// `giving up on <address> after <n> retries` on stderr and exits with status 1.
///
/// ```
/// use std::time::Duration;
/// use weft::host::{ConnectError, HostPort, ReconnectingClient, RetryPolicy};
/// use weft::programs::pingpong::PingPongFactory;
/// use weft::testing::MemoryReactor;
///
/// let policy = RetryPolicy::exponential(Duration::from_secs(1), 2.0).with_max_retries(2);
/// let client = ReconnectingClient::new(PingPongFactory::client(None), HostPort::new("server", 8000))
///     .with_policy(policy);
/// let mut reactor = MemoryReactor::new(client);
/// reactor.fail_connect(0, ConnectError::Refused);
/// reactor.advance(Duration::from_secs(1));      // the first wait: 1 s
/// reactor.fail_connect(1, ConnectError::Refused);
/// reactor.advance(Duration::from_secs(2));      // the second: 2 s
/// assert_eq!(reactor.tcp_clients().len(), 3);
/// let conn = reactor.complete_connect(2);
/// assert_eq!(reactor.value(conn), b"*", "the ping-pong client served");
/// assert_eq!(reactor.program().failures(), 0, "a connection resets the count");
/// ```
pub struct ReconnectingClient<F: Factory> {
    factory: F,
    to: HostPort,
    connect_timeout: Duration,
    policy: RetryPolicy,
    /// The connect in flight or the connection that is up, with its protocol once made.
    current: Option<(ConnId, Option<F::Protocol>)>,
    failures: u32,
    connections: u64,
    given_up: bool,
}

impl<F: Factory> ReconnectingClient<F> {
    /// A client of `to` with Twisted's 30-second connect timeout and `ClientService`'s
    /// back-off ([`RetryPolicy::client_service`]: retrying forever).
    pub fn new(factory: F, to: HostPort) -> Self {
        Self {
            factory,
            to,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            policy: RetryPolicy::client_service(),
            current: None,
            failures: 0,
            connections: 0,
            given_up: false,
        }
    }

    /// The same client, waiting as `policy` says between attempts.
    pub fn with_policy(self, policy: RetryPolicy) -> Self {
        Self { policy, ..self }
    }

    /// The same client with another connect timeout.
    pub fn with_connect_timeout(self, connect_timeout: Duration) -> Self {
        Self {
            connect_timeout,
            ..self
        }
    }

    /// The factory, with whatever state its protocols share.
    pub fn factory(&self) -> &F {
        &self.factory
    }

    /// The protocol of the connection that is up, if one is.
    pub fn protocol(&self) -> Option<&F::Protocol> {
        self.current.as_ref()?.1.as_ref()
    }

    /// Consecutive failures (failed connects and lost connections) since the last
    /// connection was made.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Connections made so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Whether the policy ran out of retries.
    pub fn has_given_up(&self) -> bool {
        self.given_up
    }

    fn connect(&mut self, cx: &mut HostContext<'_, ReconnectTimer<TimerOf<F>>>) {
        let conn = cx.connect(self.to.clone(), self.connect_timeout);
        self.current = Some((conn, None));
    }

    /// The current attempt failed or its connection ended: wait, or give up.
    fn failed(&mut self, cx: &mut HostContext<'_, ReconnectTimer<TimerOf<F>>>, why: &str) {
        self.current = None;
        self.failures = self.failures.saturating_add(1);
        match self.policy.delay(self.failures, cx.rng()) {
            Some(delay) => {
                tracing::info!(to = %self.to, ?delay, failures = self.failures, "{why}; reconnecting");
                // Through the trait by name: works whether or not `HostContext` also
                // has the method inherently.
                crate::clock::Clock::call_later(cx, delay, ReconnectTimer::Reconnect);
            }
            None => {
                self.given_up = true;
                let retries = self.failures - 1;
                cx.eprint(format!("giving up on {} after {retries} retries", self.to));
                cx.exit(1);
            }
        }
    }

    fn with<R>(
        &mut self,
        cx: &mut HostContext<'_, ReconnectTimer<TimerOf<F>>>,
        conn: ConnId,
        f: impl FnOnce(&mut F::Protocol, &mut Context<'_, TimerOf<F>>) -> R,
    ) -> Option<R> {
        let (current, Some(protocol)) = self.current.as_mut()? else {
            return None;
        };
        if *current != conn {
            return None;
        }
        cx.with_protocol(
            conn,
            move |t| ReconnectTimer::Protocol(conn, t),
            |pcx| f(protocol, pcx),
        )
    }
}

impl<F: Factory> Program for ReconnectingClient<F> {
    type Timer = ReconnectTimer<TimerOf<F>>;

    fn start(&mut self, cx: &mut HostContext<'_, Self::Timer>) {
        self.connect(cx);
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        let Some(peer) = cx.peer(conn) else { return };
        match &mut self.current {
            Some((current, protocol)) if *current == conn => {
                *protocol = Some(self.factory.build_protocol(peer));
            }
            _ => return,
        }
        self.failures = 0;
        self.connections += 1;
        self.with(cx, conn, |p, pcx| p.connection_made(pcx));
    }

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
        let ours = matches!(&self.current, Some((c, Some(_))) if *c == conn);
        if ours {
            self.with(cx, conn, |p, pcx| p.connection_lost(pcx, reason));
            self.failed(cx, &reason.to_string());
        }
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        if self.current.as_ref().is_some_and(|(c, _)| *c == conn) {
            self.failed(cx, &format!("connect failed: {error}"));
        }
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, Self::Timer>, timer: Self::Timer) {
        match timer {
            ReconnectTimer::Reconnect => self.connect(cx),
            ReconnectTimer::Protocol(conn, t) => {
                self.with(cx, conn, |p, pcx| p.timer_fired(pcx, t));
            }
        }
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
