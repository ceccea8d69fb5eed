//! The transport a protocol writes to, and the one implementation of its semantics
//! that every driver shares.
//!
//! [`Transport`] is Twisted's `ITransport` as the seed programs use it. Protocols see
//! only the trait. Drivers (the test doubles, the pump, SimNet, tokio) all keep a
//! [`TransportState`] per connection, which holds the rules in one place:
//!
//! - `write` never blocks; bytes queue in order until the driver moves them out. Writes
//!   after the write side is closed, or after an abort, are dropped silently.
//! - `lose_connection` stops reading at once and closes once the queue has drained and no
//!   producer is registered. `abort_connection` discards the queue and closes now.
//!   `lose_write_connection` half-closes after the queue drains; reading goes on.
//! - Back-pressure (Twisted's `FileDescriptor`): a registered push producer is paused,
//!   from inside the `write` that takes the queue past the high-water mark (64 KiB), and
//!   resumed only when the queue is empty again. A pull producer is resumed at
//!   registration and whenever the queue drains. One producer per consumer.
//!
//! A transport cannot call back into the protocol that is calling it (the protocol is
//! mutably borrowed), so the calls Twisted makes re-entrantly — `pauseProducing` inside
//! `write`, `connectionLost` inside `loseConnection` — are queued as [`Notice`]s and
//! delivered by the driver as soon as the protocol's callback returns, before anything
//! else happens. The order of effects is the same.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use crate::flow::{Consumer, HIGH_WATER_MARK, Notice, ProducerError, ProducerKind};

/// Why a connection ended: the `reason` of `connection_lost`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, thiserror::Error)]
pub enum Disconnect {
    /// Both sides closed in order (Twisted's `ConnectionDone`).
    #[error("connection was closed cleanly")]
    Clean,
    /// The peer reset the connection, or it broke (Twisted's `ConnectionLost`).
    #[error("connection was reset by the peer")]
    Reset,
    /// This side aborted it (`abort_connection`).
    #[error("connection was aborted")]
    Aborted,
    /// The network stopped answering (a partition outlived the retransmission timeout).
    #[error("connection timed out")]
    TimedOut,
}

impl Disconnect {
    /// Whether this is the orderly end of a connection.
    pub fn is_clean(self) -> bool {
        self == Self::Clean
    }
}

/// A protocol's view of its connection (Twisted's `ITransport` + `ITCPTransport`).
pub trait Transport: Consumer {
    /// Closes the connection once everything written has been sent (and any producer
    /// has unregistered). Reading stops at once.
    fn lose_connection(&mut self);
    /// Closes the connection now, discarding unsent bytes; the peer sees a reset.
    fn abort_connection(&mut self);
    /// Half-closes: sends end-of-stream after everything written; reading goes on.
    fn lose_write_connection(&mut self);
    /// The remote address (`getPeer`).
    fn peer(&self) -> SocketAddr;
    /// The local address (`getHost`).
    fn host(&self) -> SocketAddr;
    /// Stops delivering incoming data (the transport as a push producer: inbound flow
    /// control). Data waits in the network's buffers, which fill and push back.
    fn pause_reading(&mut self);
    /// Resumes delivering incoming data.
    fn resume_reading(&mut self);
    /// Bytes handed to the network so far (written and no longer queued): what an
    /// idle timeout watches to tell a peer that reads from one that does not.
    fn bytes_sent(&self) -> u64;
}

/// What the driver must do to the connection now that the queue allows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CloseAction {
    /// `lose_connection` with the queue drained: close in order.
    Close,
    /// `lose_write_connection` with the queue drained: send end-of-stream.
    ShutdownWrite,
    /// `abort_connection`: reset now.
    Abort,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WriteSide {
    Open,
    ShutdownRequested,
    Shut,
}

#[derive(Clone, Copy, Debug)]
struct Registered {
    kind: ProducerKind,
    paused: bool,
}

/// The state of one end of a connection, shared by every driver.
///
/// The protocol side is the [`Transport`] impl. The driver side reads the queue with
/// [`pending`](Self::pending), reports progress with [`consume`](Self::consume), asks
/// [`close_action`](Self::close_action) when to close, delivers [`Notice`]s from
/// [`take_notice`](Self::take_notice), and finally calls [`close`](Self::close).
// The fields a driver and a writing protocol touch on every event come first and
// fit the 56 bytes a host's connection slot has for them in its first cache line
// (`repr(C)` keeps them there; see `HOT_BYTES`): with thousands of connections,
// each event's connection is a cache miss, and one is better than three. A few bytes written at a time (ping-pong,
// heartbeats) stay in `small`, in that line, rather than in the queue's buffer, which
// would be another miss.
#[repr(C)]
pub struct TransportState {
    /// The pending bytes, unless they are in `small`.
    queue: Vec<u8>,
    /// Bytes at the front of `queue` already handed to the network.
    sent: usize,
    /// Every byte ever handed to the network.
    sent_total: u64,
    producer: Option<Registered>,
    /// Cached `!closed && !aborted && write_side == Open`: checked on every write.
    writable: bool,
    /// Cached `writable && producer.is_none() && queue.is_empty()`: a write that may
    /// skip the producer's high-water check and go to `small` (ping-pong, heartbeats),
    /// in one test. Cleared by the one place the queue fills (`write_queued`) and set
    /// again, by [`note_plain_writes`](Self::note_plain_writes), where it empties.
    plain_writes: bool,
    reading_paused: bool,
    /// Cached `!closed && !aborted && !disconnecting` ([`accepts_data`](Self::accepts_data)):
    /// checked on every read. After `reading_paused`, as in a
    /// [`ConnPoll`](crate::host::ConnPoll), so that a poll copies the two in one load and store.
    accepting: bool,
    /// `!notices.is_empty()`, kept beside the other hot fields.
    owed: bool,
    /// Cached `!closed && (aborted || disconnecting || write_side == ShutdownRequested)`:
    /// whether [`close_action`](Self::close_action) can be anything but `None`, which a
    /// driver asks after every event.
    close_asked: bool,
    /// How many of `small`'s bytes are pending. Only while `queue` is empty: the
    /// pending bytes are in one place or the other, never both.
    small_len: u8,
    small: [u8; SMALL],
    closed: bool,
    aborted: bool,
    disconnecting: bool,
    write_side: WriteSide,
    high_water: usize,
    host: SocketAddr,
    peer: SocketAddr,
    notices: VecDeque<Notice>,
}

/// Most pending bytes kept in [`TransportState`]'s own cache line.
const SMALL: usize = 7;

impl fmt::Debug for TransportState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportState")
            .field("host", &self.host)
            .field("peer", &self.peer)
            .field("pending", &self.pending().len())
            .field("disconnecting", &self.disconnecting)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl TransportState {
    /// An open connection between `host` (local) and `peer`.
    pub fn new(host: SocketAddr, peer: SocketAddr) -> Self {
        Self {
            host,
            peer,
            queue: Vec::new(),
            sent: 0,
            small_len: 0,
            small: [0; SMALL],
            sent_total: 0,
            high_water: HIGH_WATER_MARK,
            producer: None,
            disconnecting: false,
            write_side: WriteSide::Open,
            aborted: false,
            closed: false,
            writable: true,
            plain_writes: true,
            accepting: true,
            reading_paused: false,
            owed: false,
            close_asked: false,
            notices: VecDeque::new(),
        }
    }

    /// Sets the high-water mark (bytes queued before a push producer is paused).
    /// `usize::MAX` turns back-pressure off, as in Twisted's `StringTransport`.
    pub fn set_high_water(&mut self, bytes: usize) {
        self.high_water = bytes;
    }

    /// The bytes of a `TransportState`, from its start, that a driver and a writing
    /// protocol touch on every event: no more than fit one cache line beside a word
    /// of a host's own.
    #[cfg(test)]
    pub(crate) const HOT_BYTES: usize = std::mem::offset_of!(Self, small) + SMALL;

    /// The close the driver should carry out now, if any.
    #[inline]
    pub fn close_action(&self) -> Option<CloseAction> {
        debug_assert_eq!(
            self.close_asked,
            !self.closed
                && (self.aborted
                    || self.disconnecting
                    || self.write_side == WriteSide::ShutdownRequested)
        );
        if !self.close_asked {
            return None;
        }
        self.asked_close_action()
    }

    /// [`close_action`](Self::close_action) once a close has been asked for.
    fn asked_close_action(&self) -> Option<CloseAction> {
        if self.closed {
            return None;
        }
        if self.aborted {
            return Some(CloseAction::Abort);
        }
        if self.pending_len() > 0 || self.producer.is_some() {
            return None;
        }
        if self.disconnecting {
            Some(CloseAction::Close)
        } else if self.write_side == WriteSide::ShutdownRequested {
            Some(CloseAction::ShutdownWrite)
        } else {
            None
        }
    }

    /// Records that end-of-stream has been sent (after [`CloseAction::ShutdownWrite`]).
    pub fn write_shut_down(&mut self) {
        self.write_side = WriteSide::Shut;
        self.set_writable(false);
        self.note_close_asked();
    }

    /// Whether incoming data should reach the protocol at all. False once it has asked
    /// to close: Twisted stops reading on `loseConnection`, and later bytes are dropped.
    #[inline]
    pub fn accepts_data(&self) -> bool {
        debug_assert_eq!(
            self.accepting,
            !self.closed && !self.aborted && !self.disconnecting
        );
        self.accepting
    }

    /// Whether the protocol has paused inbound data ([`Transport::pause_reading`]).
    #[inline]
    pub fn reading_paused(&self) -> bool {
        self.reading_paused
    }

    /// Whether no close is due and inbound data still reaches an unpaused protocol:
    /// `close_action()` is `None`, `!reading_paused()` and `accepts_data()`, as after
    /// most callbacks. Two tests: data stops being accepted only by an abort or a
    /// `lose_connection`, either of which asks for a close (`close()` is the
    /// driver's, never a callback's), so no close asked implies accepting, for a
    /// connection that accepted data before the callback.
    #[inline(always)]
    pub(crate) fn reads_on_with_no_close(&self) -> bool {
        if self.close_asked || self.reading_paused {
            return false;
        }
        debug_assert!(self.accepting, "only a close stops the reads");
        true
    }

    /// Whether the protocol asked to close (`lose_connection`) or aborted.
    pub fn disconnecting(&self) -> bool {
        self.disconnecting || self.aborted
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a producer is registered.
    pub fn has_producer(&self) -> bool {
        self.producer.is_some()
    }

    /// Whether a push producer is registered and currently paused.
    pub fn producer_paused(&self) -> bool {
        matches!(self.producer, Some(Registered { paused: true, .. }))
    }

    /// Ends the connection: later writes are dropped and a registered producer is told
    /// to stop. Returns false if it had already ended. The driver then delivers the
    /// notices and `connection_lost`.
    pub fn close(&mut self) -> bool {
        if std::mem::replace(&mut self.closed, true) {
            return false;
        }
        self.accepting = false;
        self.close_asked = false;
        self.set_writable(false);
        self.queue.clear();
        self.sent = 0;
        self.small_len = 0;
        if self.producer.take().is_some() {
            self.owe(Notice::StopProducing);
        }
        true
    }

    /// Sets `close_asked` from the fields it caches.
    fn note_close_asked(&mut self) {
        self.close_asked = !self.closed
            && (self.aborted
                || self.disconnecting
                || self.write_side == WriteSide::ShutdownRequested);
    }

    /// Sets `writable` and the caches that follow from it.
    #[inline]
    fn set_writable(&mut self, writable: bool) {
        self.writable = writable;
        self.note_plain_writes();
    }

    /// Sets `plain_writes` from the fields it caches: after they change, and once the
    /// queue has emptied.
    #[inline]
    fn note_plain_writes(&mut self) {
        self.plain_writes = self.writable && self.producer.is_none() && self.queue.is_empty();
    }

    /// The next call owed to the protocol.
    #[inline]
    pub fn take_notice(&mut self) -> Option<Notice> {
        if !self.owed {
            return None;
        }
        let notice = self.notices.pop_front();
        self.owed = !self.notices.is_empty();
        notice
    }

    /// Whether notices are waiting (cheap check for hot loops).
    #[inline]
    pub fn has_notices(&self) -> bool {
        self.owed
    }

    fn owe(&mut self, notice: Notice) {
        self.notices.push_back(notice);
        self.owed = true;
    }

    #[inline(always)]
    fn drained(&mut self) {
        // No producer (the common case) costs one test; the rest is out of line.
        if self.producer.is_some() {
            self.drained_with_producer();
        }
    }

    #[inline(never)]
    fn drained_with_producer(&mut self) {
        if let Some(producer) = &mut self.producer {
            match producer.kind {
                ProducerKind::Pull => self.owe(Notice::ResumeProducing),
                ProducerKind::Push if producer.paused => {
                    producer.paused = false;
                    self.owe(Notice::ResumeProducing);
                }
                ProducerKind::Push => {}
            }
        }
    }
}

impl Consumer for TransportState {
    #[inline]
    fn write(&mut self, data: &[u8]) {
        // One byte, no producer to watch (ping-pong, heartbeats), the queue empty and
        // room for it in `small`: a path with no call on it saves no registers.
        debug_assert_eq!(
            self.plain_writes,
            self.writable && self.producer.is_none() && self.queue.is_empty()
        );
        if let [byte] = data
            && self.plain_writes
        {
            // `plain_writes` says the queue is empty: `small` may take the byte.
            let held = usize::from(self.small_len);
            if held < SMALL {
                self.small[held] = *byte;
                self.small_len += 1;
                return;
            }
        }
        self.write_queued(data);
    }

    fn register_producer(&mut self, kind: ProducerKind) -> Result<(), ProducerError> {
        if self.producer.is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        if self.closed {
            // Twisted: registering on a dead transport stops the producer at once.
            self.owe(Notice::StopProducing);
            return Ok(());
        }
        self.producer = Some(Registered {
            kind,
            paused: false,
        });
        self.plain_writes = false;
        if kind == ProducerKind::Pull {
            self.owe(Notice::ResumeProducing);
        }
        Ok(())
    }

    fn unregister_producer(&mut self) -> Result<(), ProducerError> {
        let unregistered = self
            .producer
            .take()
            .map(|_| ())
            .ok_or(ProducerError::NotRegistered);
        self.set_writable(self.writable);
        unregistered
    }
}

impl TransportState {
    /// [`Consumer::write`] in general: any length, growing the queue, pausing a push
    /// producer past the high-water mark. Kept out of line so that `write` stays small.
    #[inline(never)]
    fn write_queued(&mut self, data: &[u8]) {
        if !self.writable || data.is_empty() {
            return;
        }
        let held = usize::from(self.small_len);
        if self.plain_writes && self.queue.is_empty() && data.len() <= SMALL - held {
            self.small[held..held + data.len()].copy_from_slice(data);
            self.small_len += data.len() as u8;
            return;
        }
        if held > 0 {
            self.spill_small();
        }
        self.queue.extend_from_slice(data);
        // The queue holds bytes: later writes come here too, behind them.
        self.plain_writes = false;
        if let Some(producer) = &mut self.producer
            && producer.kind == ProducerKind::Push
            && !producer.paused
            && self.queue.len() - self.sent > self.high_water
        {
            producer.paused = true;
            self.owe(Notice::PauseProducing);
        }
    }
}

impl Transport for TransportState {
    fn lose_connection(&mut self) {
        if !self.closed {
            self.disconnecting = true;
            self.accepting = false;
            self.note_close_asked();
        }
    }

    fn abort_connection(&mut self) {
        if !self.closed && !self.aborted {
            self.aborted = true;
            self.accepting = false;
            self.note_close_asked();
            self.set_writable(false);
            self.queue.clear();
            self.sent = 0;
            self.small_len = 0;
        }
    }

    fn lose_write_connection(&mut self) {
        if self.write_side == WriteSide::Open {
            self.write_side = WriteSide::ShutdownRequested;
            self.set_writable(false);
            self.note_close_asked();
        }
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

/// `a.b.c.d:port` without the ceremony.
pub const fn ipv4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port))
}

mod pending;
#[cfg(test)]
mod tests;
