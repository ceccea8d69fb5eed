//! Protocols and factories: the per-connection state machines weft's programs are made of.
//!
//! A [`Protocol`] is Twisted's `Protocol` with the transport and clock passed in on every
//! call, through a [`Context`], instead of stored. It never touches a socket or reads a
//! clock, so the same value runs under the test doubles, the pump, SimNet and tokio.
//!
//! Lifecycle, for every driver: `connection_made` once; `data_received` zero or more
//! times, with the bytes chunked arbitrarily; `read_connection_lost` if the peer
//! half-closes; `connection_lost` exactly once, with a [`Disconnect`] reason. Timers the
//! protocol scheduled come back through `timer_fired`. If the protocol registered itself
//! as its transport's producer it also receives `pause_producing`, `resume_producing` and
//! `stop_producing`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::{CallError, CallId, Clock};
use crate::flow::{Notice, ProducerError, ProducerKind};
use crate::time::Instant;
use crate::transport::{Disconnect, Transport, TransportState};

/// Timer type for protocols that schedule nothing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum NoTimer {}

/// What a protocol callback may use: its connection's transport and the clock.
///
/// The fields are public so a callback can hand them on separately (a producer component
/// takes the transport as its consumer and the clock for its loop); the methods are
/// shorthands for the common calls.
pub struct Context<'a, T> {
    /// The connection.
    pub transport: &'a mut dyn Transport,
    /// Time and timers, in the protocol's own timer type.
    pub clock: &'a mut dyn Clock<T>,
}

impl<'a, T> Context<'a, T> {
    /// A context over a transport and a clock.
    pub fn new(transport: &'a mut dyn Transport, clock: &'a mut dyn Clock<T>) -> Self {
        Self { transport, clock }
    }

    /// Queues bytes for the peer.
    pub fn write(&mut self, data: &[u8]) {
        self.transport.write(data);
    }

    /// Closes once everything written has been sent.
    pub fn lose_connection(&mut self) {
        self.transport.lose_connection();
    }

    /// Closes now, discarding unsent bytes.
    pub fn abort_connection(&mut self) {
        self.transport.abort_connection();
    }

    /// Half-closes after everything written has been sent.
    pub fn lose_write_connection(&mut self) {
        self.transport.lose_write_connection();
    }

    /// Registers this protocol as its transport's producer.
    pub fn register_producer(&mut self, kind: ProducerKind) -> Result<(), ProducerError> {
        self.transport.register_producer(kind)
    }

    /// Unregisters this protocol as its transport's producer.
    pub fn unregister_producer(&mut self) -> Result<(), ProducerError> {
        self.transport.unregister_producer()
    }

    /// The remote address.
    pub fn peer(&self) -> SocketAddr {
        self.transport.peer()
    }

    /// The local address.
    pub fn host(&self) -> SocketAddr {
        self.transport.host()
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Schedules `timer` to fire after `delay`.
    pub fn call_later(&mut self, delay: Duration, timer: T) -> CallId {
        self.clock.call_later(delay, timer)
    }

    /// Cancels a pending call.
    pub fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        self.clock.cancel(call)
    }
}

/// A per-connection protocol state machine (Twisted's `IProtocol`).
pub trait Protocol {
    /// The protocol's named timers; [`NoTimer`] if it has none.
    type Timer: Copy + fmt::Debug;

    /// The connection is up.
    fn connection_made(&mut self, cx: &mut Context<'_, Self::Timer>) {
        let _ = cx;
    }

    /// Bytes arrived. Chunk boundaries carry no meaning.
    fn data_received(&mut self, cx: &mut Context<'_, Self::Timer>, data: &[u8]);

    /// The peer half-closed: no more data will arrive. The default closes our side too,
    /// once our writes are sent, which is what a protocol that does not care about
    /// half-close wants (Twisted closes the whole connection in that case).
    fn read_connection_lost(&mut self, cx: &mut Context<'_, Self::Timer>) {
        cx.lose_connection();
    }

    /// The connection ended; called exactly once. Writes are dropped from here on, but
    /// the clock still works (to stop loops and cancel timeouts).
    fn connection_lost(&mut self, cx: &mut Context<'_, Self::Timer>, reason: Disconnect) {
        let _ = (cx, reason);
    }

    /// A timer this protocol scheduled fell due.
    fn timer_fired(&mut self, cx: &mut Context<'_, Self::Timer>, timer: Self::Timer) {
        let _ = (cx, timer);
    }

    /// As a registered producer: the transport's queue is over the high-water mark.
    fn pause_producing(&mut self, cx: &mut Context<'_, Self::Timer>) {
        let _ = cx;
    }

    /// As a registered producer: the transport's queue drained.
    fn resume_producing(&mut self, cx: &mut Context<'_, Self::Timer>) {
        let _ = cx;
    }

    /// As a registered producer: the connection is gone.
    fn stop_producing(&mut self, cx: &mut Context<'_, Self::Timer>) {
        let _ = cx;
    }
}

/// Builds a protocol per connection and holds what they share (Twisted's `Factory`).
pub trait Factory {
    /// The protocol it builds.
    type Protocol: Protocol;
    /// A protocol for a new connection with `peer`.
    fn build_protocol(&mut self, peer: SocketAddr) -> Self::Protocol;

    /// The program running this factory is accepting on `addr` (the real port, if 0
    /// was asked for): [`FactoryProgram`](crate::host::FactoryProgram) passes
    /// [`Program::listening`](crate::host::Program::listening) on. The default does
    /// nothing.
    fn listening(&mut self, addr: SocketAddr) {
        let _ = addr;
    }
}

/// A transport whose owed calls ([`Notice`]s) a driver can collect.
pub trait NoticeSource: Transport {
    /// The next call owed to the protocol.
    fn take_notice(&mut self) -> Option<Notice>;
}

impl NoticeSource for TransportState {
    fn take_notice(&mut self) -> Option<Notice> {
        Self::take_notice(self)
    }
}

/// Runs one protocol callback, then delivers every notice it left on the transport
/// (each of which may leave more), so that re-entrant Twisted calls such as
/// `pauseProducing` inside `write` happen before anything else.
pub fn dispatch<P, X>(
    protocol: &mut P,
    transport: &mut X,
    clock: &mut dyn Clock<P::Timer>,
    call: impl FnOnce(&mut P, &mut Context<'_, P::Timer>),
) where
    P: Protocol + ?Sized,
    X: NoticeSource,
{
    call(protocol, &mut Context::new(transport, clock));
    while let Some(notice) = transport.take_notice() {
        let cx = &mut Context::new(transport, clock);
        match notice {
            Notice::PauseProducing => protocol.pause_producing(cx),
            Notice::ResumeProducing => protocol.resume_producing(cx),
            Notice::StopProducing => protocol.stop_producing(cx),
        }
    }
}
