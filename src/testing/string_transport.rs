//! [`StringTransport`] and [`TestConnection`]: a protocol on a transport that only
//! records, driven by hand (Twisted's `StringTransport`, `StringTransportWithDisconnection`
//! and `makeConnection`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::ManualClock;
use crate::flow::{Consumer, Notice, ProducerError, ProducerKind};
use crate::protocol::{NoticeSource, Protocol, dispatch};
use crate::transport::{Disconnect, Transport, ipv4};

/// A transport that records what is written and changes flags on close, and nothing
/// else: no network, no back-pressure (Twisted's `StringTransport`).
///
/// [`value`](Self::value) and [`clear`](Self::clear) are for tests, not for protocols.
/// [`with_disconnection`](Self::with_disconnection) makes `lose_connection` end the
/// connection, so the protocol hears `connection_lost` (Twisted's
/// `StringTransportWithDisconnection`).
///
/// One difference from Twisted, which Rust's ownership imposes: Twisted's transport
/// calls `connectionLost` from inside `loseConnection`, so the rest of the callback
/// that closed runs after it; here the protocol is busy (mutably borrowed) until its
/// callback returns, and [`TestConnection`] delivers `connection_lost` then, before
/// anything else happens. The order of effects differs only for code that runs after
/// `lose_connection` in the same callback.
///
/// ```
/// use weft::protocol::{Context, NoTimer, Protocol};
/// use weft::testing::StringTransport;
/// use weft::transport::Disconnect;
///
/// #[derive(Default)]
/// struct Quitter(Vec<&'static str>);
///
/// impl Protocol for Quitter {
///     type Timer = NoTimer;
///     fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, _data: &[u8]) {
///         cx.lose_connection();
///         self.0.push("after lose_connection");
///     }
///     fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, _why: Disconnect) {
///         self.0.push("connection_lost");
///     }
/// }
///
/// let mut conn = StringTransport::with_disconnection().make_connection(Quitter::default());
/// conn.data_received(b"bye");
/// // Twisted's order would be the other way round.
/// assert_eq!(conn.protocol.0, ["after lose_connection", "connection_lost"]);
/// assert!(!conn.transport.connected);
/// assert!(!conn.transport.disconnecting, "as in Twisted: only `connected` changes");
/// ```
#[derive(Debug)]
pub struct StringTransport {
    written: Vec<u8>,
    /// Every byte ever written (a string transport sends at once).
    sent_total: u64,
    /// True until the connection ends (only ends on its own with disconnection).
    pub connected: bool,
    /// Set by `lose_connection` and `abort_connection`, on a plain string transport
    /// only: with disconnection, Twisted's transport clears `connected` instead.
    pub disconnecting: bool,
    /// Set by `abort_connection`.
    pub disconnected: bool,
    /// Set by `lose_write_connection`.
    pub write_closed: bool,
    /// Set by `pause_reading`, cleared by `resume_reading`.
    pub reading_paused: bool,
    /// The producer registered on this transport, if any.
    pub producer: Option<ProducerKind>,
    host: SocketAddr,
    peer: SocketAddr,
    with_disconnection: bool,
    lost_due: Option<Disconnect>,
}

impl Default for StringTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl StringTransport {
    /// Twisted's defaults: host `10.0.0.1:12345`, peer `192.168.1.1:54321`.
    pub fn new() -> Self {
        Self {
            written: Vec::new(),
            sent_total: 0,
            connected: true,
            disconnecting: false,
            disconnected: false,
            write_closed: false,
            reading_paused: false,
            producer: None,
            host: ipv4(10, 0, 0, 1, 12345),
            peer: ipv4(192, 168, 1, 1, 54321),
            with_disconnection: false,
            lost_due: None,
        }
    }

    /// A transport whose `lose_connection` (and abort) ends the connection, as
    /// Twisted's `StringTransportWithDisconnection`: `connected` becomes false,
    /// `disconnecting` stays false, and the protocol's `connection_lost` follows as
    /// soon as its current callback returns (see the type's docs for the order).
    ///
    /// The reason is [`Disconnect::Clean`] for `lose_connection` and
    /// [`Disconnect::Aborted`] for `abort_connection`. (Twisted's double reports a clean
    /// close for both, because its `abortConnection` calls `loseConnection`; a real
    /// Twisted transport, and every weft driver, reports the abort.)
    pub fn with_disconnection() -> Self {
        Self {
            with_disconnection: true,
            ..Self::new()
        }
    }

    /// Overrides the addresses.
    pub fn with_addresses(mut self, host: SocketAddr, peer: SocketAddr) -> Self {
        self.host = host;
        self.peer = peer;
        self
    }

    /// Every byte written since the last [`clear`](Self::clear). For tests only.
    pub fn value(&self) -> &[u8] {
        &self.written
    }

    /// Forgets what was written. For tests only.
    pub fn clear(&mut self) {
        self.written.clear();
    }

    /// Hands `protocol` this transport and calls its `connection_made`
    /// (Twisted's `protocol.makeConnection(transport)`).
    pub fn make_connection<P: Protocol>(self, protocol: P) -> TestConnection<P> {
        TestConnection::new(protocol, self)
    }

    /// Ends the connection with disconnection, or flags the close without.
    fn end(&mut self, reason: Disconnect) {
        if !self.with_disconnection {
            self.disconnecting = true;
        } else if self.connected {
            self.connected = false;
            self.lost_due = Some(reason);
        }
    }
}

impl Consumer for StringTransport {
    fn write(&mut self, data: &[u8]) {
        self.sent_total += data.len() as u64;
        self.written.extend_from_slice(data);
    }

    fn register_producer(&mut self, kind: ProducerKind) -> Result<(), ProducerError> {
        if self.producer.is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        self.producer = Some(kind);
        Ok(())
    }

    fn unregister_producer(&mut self) -> Result<(), ProducerError> {
        self.producer
            .take()
            .map(|_| ())
            .ok_or(ProducerError::NotRegistered)
    }
}

impl Transport for StringTransport {
    fn lose_connection(&mut self) {
        self.end(Disconnect::Clean);
    }

    fn abort_connection(&mut self) {
        self.disconnected = true;
        self.end(Disconnect::Aborted);
    }

    fn lose_write_connection(&mut self) {
        self.write_closed = true;
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn host(&self) -> SocketAddr {
        self.host
    }

    fn pause_reading(&mut self) {
        self.reading_paused = true;
    }

    fn resume_reading(&mut self) {
        self.reading_paused = false;
    }

    fn bytes_sent(&self) -> u64 {
        self.sent_total
    }
}

impl NoticeSource for StringTransport {
    /// A string transport has no buffer limit, so it never pauses or resumes a producer.
    fn take_notice(&mut self) -> Option<Notice> {
        None
    }
}

/// A protocol connected to a [`StringTransport`], with a [`ManualClock`] for its
/// timers: the whole fixture of a Twisted protocol unit test in one value.
///
/// Each method makes one call into the protocol, then delivers what the transport owes
/// it (with disconnection: `connection_lost` after a `lose_connection`), so that after
/// `data_received` returns, the test sees the protocol's complete reaction.
#[derive(Debug)]
pub struct TestConnection<P: Protocol> {
    /// The protocol under test.
    pub protocol: P,
    /// Its transport.
    pub transport: StringTransport,
    /// Its clock.
    pub clock: ManualClock<P::Timer>,
    lost: Option<Disconnect>,
}

impl<P: Protocol> TestConnection<P> {
    /// Connects `protocol` to `transport` and calls `connection_made`.
    pub fn new(protocol: P, transport: StringTransport) -> Self {
        let mut conn = Self {
            protocol,
            transport,
            clock: ManualClock::new(),
            lost: None,
        };
        conn.call(|p, cx| p.connection_made(cx));
        conn
    }

    /// Delivers bytes to the protocol.
    pub fn data_received(&mut self, data: &[u8]) {
        if self.lost.is_none() {
            self.call(|p, cx| p.data_received(cx, data));
        }
    }

    /// Tells the protocol the peer half-closed.
    pub fn read_connection_lost(&mut self) {
        if self.lost.is_none() {
            self.call(|p, cx| p.read_connection_lost(cx));
        }
    }

    /// Ends the connection with `reason`; the protocol hears it once, however often
    /// this is called.
    pub fn connection_lost(&mut self, reason: Disconnect) {
        if self.lost.is_none() {
            self.lost = Some(reason);
            self.transport.connected = false;
            self.call(|p, cx| p.connection_lost(cx, reason));
        }
    }

    /// How the connection ended, if it has.
    pub fn lost(&self) -> Option<Disconnect> {
        self.lost
    }

    /// What the protocol has written (the transport's `value()`).
    pub fn value(&self) -> &[u8] {
        self.transport.value()
    }

    /// Moves the clock forward and runs the protocol's due timers (`Clock.advance`).
    pub fn advance(&mut self, amount: Duration) {
        let now = crate::clock::Clock::now(&self.clock) + amount;
        self.clock.set_now(now);
        while let Some((_, timer)) = self.clock.pop_due() {
            self.call(|p, cx| p.timer_fired(cx, timer));
        }
    }

    /// One [`advance`](Self::advance) per step (`Clock.pump`).
    pub fn pump(&mut self, steps: &[Duration]) {
        for &step in steps {
            self.advance(step);
        }
    }

    fn call(&mut self, f: impl FnOnce(&mut P, &mut crate::protocol::Context<'_, P::Timer>)) {
        dispatch(&mut self.protocol, &mut self.transport, &mut self.clock, f);
        if let Some(reason) = self.transport.lost_due.take() {
            self.connection_lost(reason);
        }
    }
}
