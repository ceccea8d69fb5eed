//! The simulated TCP connection: two ends, each with a kernel send buffer, a receive
//! buffer, and the state of the direction it sends in.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use std::time::Duration;

use crate::host::{ConnId, ConnPoll};
use crate::testing::Segmenter;
use crate::time::Instant;

mod payload;
pub(crate) use payload::{INLINE, PacketArena, Payload};

/// What crosses the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Packet {
    /// Connection request (to the accepting end).
    Syn,
    /// Connection accepted (to the connecting end).
    SynAck,
    /// Nothing listens: the connect is refused (to the connecting end).
    Refused,
    /// Stream bytes.
    Data(Payload),
    /// End of the sender's stream.
    Fin,
    /// Reset.
    Rst,
}

impl Packet {
    /// Whether a lost copy is sent again (TCP retransmits these, not resets).
    pub(crate) fn is_reliable(&self) -> bool {
        !matches!(self, Self::Rst | Self::Refused)
    }
}

/// Where an end is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// The connecting end before its SYN is answered; the accepting end before its SYN
    /// arrived (it does not exist yet).
    Connecting,
    /// Completed by the kernel, waiting in a listener's backlog for the program to
    /// accept it: data is buffered, nothing is delivered.
    Queued,
    /// Its program has the connection.
    Open,
    /// Its program closed the connection; the kernel still sends what is buffered and
    /// drops what arrives.
    Closed,
    /// Gone: reset, aborted, timed out, crashed. Nothing more happens here.
    Dead,
}

/// Packets that could not be delivered and wait for the next retransmission.
#[derive(Debug)]
pub(crate) struct Stall {
    pub(crate) queue: VecDeque<Packet>,
    pub(crate) since: Instant,
    pub(crate) rto: Duration,
}

/// One end of a connection, and the direction it sends in.
// Laid out by cache line (`repr(C)` keeps the order, `align(64)` starts each end on a
// line), so that with many connections a packet touches few lines of the two ends:
// - line 0, what a packet's sender is looked at for (its state, bytes in flight, and
//   whether a window opening gives it work) and what the receiver's answer uses;
// - line 1, the rest of what a packet's receiver reads: its read state, host,
//   incarnation, ordering, stall, and the delivery counts;
// - line 2, the wire's oldest packet and whether a second follows (what its arrival
//   takes, and what the receiver's answer puts there);
// - line 3, after the rest of the wire, the receiver's host id and read cutting;
// then the address, for setup and reports.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct End {
    pub(crate) phase: Phase,
    /// In the network's work queue.
    pub(crate) queued: bool,
    /// Its program touched it since it was last serviced.
    pub(crate) needs_service: bool,
    /// Its program had more bytes than the send buffer had room for: when the buffer
    /// drains, the program is asked again.
    pub(crate) backlog: bool,
    /// A FIN follows the send buffer.
    pub(crate) fin_queued: bool,
    pub(crate) fin_sent: bool,
    /// The other end's FIN arrived (after everything in `recv_buf`).
    pub(crate) eof_received: bool,
    pub(crate) eof_delivered: bool,
    /// Bytes on the wire toward the other end (count against its receive window).
    pub(crate) in_flight: usize,
    /// Arrived, not yet read by the program.
    pub(crate) recv_buf: RecvBuffer,
    /// Accepted from the program, not yet on the wire.
    pub(crate) send_buf: VecDeque<u8>,
    // Line 1.
    /// What its program last said of its reading, kept until the connection comes out
    /// of the host's `poll_dirty` again (the `Node` contract): a read needs no poll.
    pub(crate) read_state: Option<ReadState>,
    pub(crate) incarnation: u32,
    /// Never changes (the connection's `hosts` holds it again).
    pub(crate) host: usize,
    /// Arrival time of the last packet sent, to keep the direction in order.
    pub(crate) last_arrival: Instant,
    /// Lost packets waiting for a retransmission, and everything sent after them
    /// (boxed: rare, and large).
    pub(crate) stall: Option<Box<Stall>>,
    /// Bytes and netstring frames delivered to this end's program so far (for
    /// frame-triggered faults).
    pub(crate) bytes_delivered: u64,
    pub(crate) frames: FrameCounter,
    // Line 2.
    /// Packets on the wire toward the other end, in the order they arrive.
    pub(crate) wire: PairFifo<Packet>,
    // Line 3 (after the wire's second packet and overflow).
    /// The host's id for this connection, once the host knows it.
    pub(crate) conn: Option<ConnId>,
    /// Cuts reads delivered to this end.
    pub(crate) reads: Segmenter,
    pub(crate) addr: SocketAddr,
}

/// Whether an end's program reads, as a poll or a delivery reported it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadState {
    pub(crate) paused: bool,
    pub(crate) accepts: bool,
}

impl From<&ConnPoll> for ReadState {
    fn from(poll: &ConnPoll) -> Self {
        Self {
            paused: poll.reading_paused,
            accepts: poll.accepts_data,
        }
    }
}

impl End {
    pub(crate) fn new(host: usize, incarnation: u32, addr: SocketAddr, reads: Segmenter) -> Self {
        Self {
            host,
            incarnation,
            conn: None,
            addr,
            phase: Phase::Connecting,
            send_buf: VecDeque::new(),
            fin_queued: false,
            fin_sent: false,
            in_flight: 0,
            last_arrival: Instant::ZERO,
            wire: PairFifo::default(),
            stall: None,
            recv_buf: RecvBuffer::default(),
            eof_received: false,
            eof_delivered: false,
            reads,
            bytes_delivered: 0,
            frames: FrameCounter::default(),
            queued: false,
            needs_service: false,
            backlog: false,
            read_state: None,
        }
    }
}

impl End {
    /// Whether a window opening toward the peer could make this end do anything: bytes
    /// or a FIN to send, or reads of its own waiting (what
    /// `SimNet::window_opened` looks at).
    pub(crate) fn has_work_for_window(&self) -> bool {
        !self.send_buf.is_empty()
            || self.fin_queued && !self.fin_sent
            || self.backlog
            || self.phase == Phase::Open && self.has_reads_waiting()
    }

    /// Bytes or an end-of-stream that arrived and are not delivered yet.
    pub(crate) fn has_reads_waiting(&self) -> bool {
        !self.recv_buf.is_empty() || self.eof_received && !self.eof_delivered
    }
}

/// The items of a [`Fifo`] or [`PairFifo`] past the inline ones: allocated the first
/// time there are any, and kept, so an end whose queues never overflow holds one word
/// for each.
// Boxed on purpose: the deque's own header is four words, the box one, and every
// connection end holds two of these.
#[allow(clippy::box_collection)]
#[derive(Debug)]
struct Overflow<T>(Option<Box<VecDeque<T>>>);

impl<T> Default for Overflow<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> Overflow<T> {
    #[inline]
    fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|rest| rest.is_empty())
    }

    fn push_back(&mut self, item: T) {
        self.0.get_or_insert_default().push_back(item);
    }

    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        self.0.as_mut()?.pop_front()
    }

    fn clear(&mut self) {
        if let Some(rest) = &mut self.0 {
            rest.clear();
        }
    }
}

/// A [`PairFifo`]'s overflow, made the first time it has any (out of line: rare).
// Boxed as `Overflow` keeps it (see there).
#[allow(clippy::box_collection)]
#[cold]
#[inline(never)]
fn new_overflow<T>() -> Box<VecDeque<T>> {
    Box::default()
}

/// A first-in first-out queue whose oldest item is kept inline: a connection mostly
/// has one packet in flight per direction and one segment waiting, and then the queue
/// touches no memory of its own.
#[derive(Debug)]
pub(crate) struct Fifo<T> {
    /// The oldest item; `None` only if the queue is empty.
    head: Option<T>,
    rest: Overflow<T>,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Self {
            head: None,
            rest: Overflow::default(),
        }
    }
}

impl<T> Fifo<T> {
    #[inline]
    pub(crate) fn push_back(&mut self, item: T) {
        if self.head.is_none() {
            self.head = Some(item);
        } else {
            self.push_rest(item);
        }
    }

    #[inline(never)]
    fn push_rest(&mut self, item: T) {
        self.rest.push_back(item);
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let head = self.head.take()?;
        if !self.rest.is_empty() {
            self.head = self.rest.pop_front();
        }
        Some(head)
    }

    #[inline]
    fn front_mut(&mut self) -> Option<&mut T> {
        self.head.as_mut()
    }

    fn clear(&mut self) {
        self.head = None;
        self.rest.clear();
    }
}

/// A [`Fifo`] whose two oldest items are kept inline: the wire of a connection whose
/// program answers every read often holds two packets in one direction.
// The oldest item first, then the second's tag (`repr(C)`): a pop reads one line.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct PairFifo<T> {
    /// The oldest item; `None` only if the queue is empty.
    head: Option<T>,
    /// The second oldest; `None` only if the queue holds at most one.
    next: Option<T>,
    rest: Overflow<T>,
}

impl<T> Default for PairFifo<T> {
    fn default() -> Self {
        Self {
            head: None,
            next: None,
            rest: Overflow::default(),
        }
    }
}

impl<T> PairFifo<T> {
    // Always inlined: every send puts its packet on the wire here, written straight
    // into its place.
    #[inline(always)]
    pub(crate) fn push_back(&mut self, item: T) {
        // An empty place is filled by a replace whose old value (`None`) is forgotten:
        // an assignment would drop it, and the compiler, not seeing the place was
        // tested empty, calls the drop.
        if self.head.is_none() {
            std::mem::forget(self.head.replace(item));
        } else if self.next.is_none() {
            std::mem::forget(self.next.replace(item));
        } else {
            self.push_rest(item);
        }
    }

    /// The push past the two inline items, inlined (only the first allocation and
    /// a growth are calls): an item passed to a call would be built aside in memory
    /// on every push, to be copied into whichever place takes it.
    #[inline(always)]
    fn push_rest(&mut self, item: T) {
        self.rest.0.get_or_insert_with(new_overflow).push_back(item);
    }

    // Always inlined: every arrival takes its packet off the wire here.
    #[inline(always)]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        // The common wire holds one packet: with no second item there is nothing
        // behind it to move up (`next` is only empty while `rest` is).
        if self.next.is_none() {
            return self.head.take();
        }
        // The second moves up into the oldest's place (a swap would also write the
        // oldest into the second's, only to take it out again), and the third, if
        // any, into the second's, emptied (its `None` forgotten: nothing to drop).
        let head = std::mem::replace(&mut self.head, self.next.take());
        if let Some(third) = self.rest.pop_front() {
            std::mem::forget(self.next.replace(third));
        }
        head
    }
}

/// Bytes that arrived and wait to be read, kept as the segments they came in, so that
/// a read of a whole segment (the common case) copies nothing.
// Two words: the count, which every packet looks at, and the segments, apart (boxed,
// made by the first push and kept), as an arrival read at once never goes through them.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct RecvBuffer {
    len: usize,
    segments: Option<Box<Fifo<Payload>>>,
}

impl RecvBuffer {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(crate) fn push(&mut self, segment: Payload) {
        let n = segment.len();
        if n > 0 {
            self.len += n;
            self.segments.get_or_insert_default().push_back(segment);
        }
    }

    pub(crate) fn clear(&mut self) {
        if let Some(segments) = &mut self.segments {
            segments.clear();
        }
        self.len = 0;
    }

    /// The first `n` bytes (at most what is buffered): sliced out of the first segment
    /// when it holds them, joined from several otherwise.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Payload {
        let n = n.min(self.len);
        self.len -= n;
        let Some(segments) = &mut self.segments else {
            return Payload::EMPTY;
        };
        let Some(first) = segments.front_mut() else {
            return Payload::EMPTY;
        };
        if n == first.len() {
            // A whole segment: handed over, not sliced.
            return segments.pop_front().expect("checked");
        }
        if n < first.len() {
            return first.split_to(n);
        }
        Self::join(segments, n)
    }

    /// The first `n` bytes, from several segments.
    #[cold]
    fn join(segments: &mut Fifo<Payload>, n: usize) -> Payload {
        let mut joined = Vec::with_capacity(n);
        while joined.len() < n {
            let segment = segments.front_mut().expect("len counts the segments");
            let take = (n - joined.len()).min(segment.len());
            if take == segment.len() {
                joined.extend_from_slice(segment);
                segments.pop_front();
            } else {
                joined.extend_from_slice(&segment.split_to(take));
            }
        }
        if n <= INLINE {
            Payload::copy_of(&joined)
        } else {
            Payload::Shared(Bytes::from(joined))
        }
    }
}

/// A simulated connection. End 0 connected, end 1 accepted.
// What every packet reads or writes of the connection itself (its count, its ends'
// hosts, the label of what it carries) shares the first cache line (`repr(C)`,
// `align(64)`); the ends' labels, for opens and closes, come after the ends.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Conn {
    /// Packets on the wire or held at a partition, in either direction: while any
    /// is, the connection can still cause something and is kept.
    pub(crate) packets: u32,
    /// Port asked for by the connecting end.
    pub(crate) port: u16,
    /// In the network's list of connections to check for dropping.
    pub(crate) finishing: bool,
    /// The connecting program is still owed the answer to its connect:
    /// `connection_made` or a connect failure, exactly once. Cleared when either is
    /// delivered or the program withdraws the connect; a SYN-ACK arriving after that
    /// is answered with a reset.
    pub(crate) awaiting_answer: bool,
    /// Each end's `host` again, here so that a packet's path need not read it from
    /// the other end (hosts fit 32 bits: an address each).
    pub(crate) hosts: [u32; 2],
    /// Transcript labels, made once: `"client:40001 > server:10000"` for bytes sent by
    /// each end, and `"client:40001"` for each end.
    sent_by: [Arc<str>; 2],
    pub(crate) ends: [End; 2],
    end: [Arc<str>; 2],
}

impl Conn {
    /// A connection between two ends on the hosts `names` lists.
    pub(crate) fn new(ends: [End; 2], port: u16, names: &[String]) -> Self {
        let end =
            |i: usize| -> String { format!("{}:{}", names[ends[i].host], ends[i].addr.port()) };
        let (a, b) = (end(0), end(1));
        let host = |i: usize| u32::try_from(ends[i].host).expect("hosts fit 32 bits");
        Self {
            sent_by: [format!("{a} > {b}").into(), format!("{b} > {a}").into()],
            end: [a.into(), b.into()],
            hosts: [host(0), host(1)],
            ends,
            awaiting_answer: true,
            port,
            packets: 0,
            finishing: false,
        }
    }

    /// The label of bytes sent by end `from`.
    pub(crate) fn label(&self, from: usize) -> Arc<str> {
        self.sent_by[from].clone()
    }

    /// End `to`, the other end, and the label of the bytes the other end sends: what
    /// an arrival at `to` works with, in one borrow.
    #[inline(always)]
    pub(crate) fn arrival_parts(&mut self, to: usize) -> (&mut End, &mut End, &Arc<str>) {
        let [a, b] = &mut self.ends;
        let (e, peer) = if to == 0 { (a, b) } else { (b, a) };
        (e, peer, &self.sent_by[1 - to])
    }

    /// The label of one end.
    pub(crate) fn end_label(&self, end: usize) -> Arc<str> {
        self.end[end].clone()
    }
}

/// Counts complete netstrings (`<len>:<data>,`) in a byte stream as it is delivered,
/// for faults triggered "after the Nth netstring". Malformed input stops the count.
// The state first (`repr(C)`): for a stream that is not netstrings, all a delivery
// reads is that it is broken.
#[derive(Clone, Debug, Default)]
#[repr(C)]
pub(crate) struct FrameCounter {
    state: FrameState,
    pub(crate) frames: u64,
}

#[derive(Clone, Debug, Default)]
enum FrameState {
    #[default]
    Length,
    Digits(u64),
    Payload(u64),
    Comma,
    Broken,
}

impl FrameCounter {
    #[inline]
    pub(crate) fn feed(&mut self, data: &[u8]) {
        if let FrameState::Broken = self.state {
            // Nothing after garbage counts.
            return;
        }
        self.feed_stream(data);
    }

    fn feed_stream(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if let FrameState::Payload(left) = &mut self.state {
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                data = &data[take..];
                *left -= take as u64;
                if *left == 0 {
                    self.state = FrameState::Comma;
                }
                continue;
            }
            let b = data[0];
            data = &data[1..];
            self.state = match std::mem::take(&mut self.state) {
                FrameState::Length if b.is_ascii_digit() => FrameState::Digits(u64::from(b - b'0')),
                FrameState::Digits(n) if b.is_ascii_digit() && n < u64::MAX / 10 => {
                    FrameState::Digits(n * 10 + u64::from(b - b'0'))
                }
                FrameState::Digits(0) if b == b':' => FrameState::Comma,
                FrameState::Digits(n) if b == b':' => FrameState::Payload(n),
                FrameState::Comma if b == b',' => {
                    self.frames += 1;
                    FrameState::Length
                }
                _ => FrameState::Broken,
            };
        }
    }
}

#[cfg(test)]
mod tests;
