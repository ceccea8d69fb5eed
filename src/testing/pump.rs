//! [`Pump`]: two protocols joined by an in-memory connection (Twisted's `iosim`).
//!
//! [`connected_pair`] makes both connections; each [`Pump::pump`] first runs the clock's
//! zero-delay calls, then takes what both sides have written and delivers it to the
//! other side, client to server first. When nothing moved, it carries out one pending
//! close step instead. [`Pump::flush`] pumps until quiet, and gives up loudly after
//! 1000 rounds with the transcript so far.
//!
//! Beyond `iosim`: deliveries can be cut into reads by a [`Segmentation`] policy; a
//! read size bounds what moves per pump, so producers meet real back-pressure; a side
//! that asked to close stops reading (later bytes are discarded, as Twisted does);
//! half-close and abort are modelled; and everything lands in a [`Transcript`].

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::segmentation::{Segmentation, Segmenter};
use super::transcript::{EventKind, Transcript};
use crate::clock::{CallError, CallId, Clock, ManualClock};
use crate::flow::Notice;
use crate::protocol::{Context, Protocol};
use crate::time::Instant;
use crate::transport::{CloseAction, Disconnect, TransportState, ipv4};

/// Which end of a pumped connection: also the tag on each side's timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side<C, S> {
    /// The connecting side.
    Client(C),
    /// The accepting side.
    Server(S),
}

/// Options for a [`Pump`].
#[derive(Clone, Debug)]
pub struct PumpOptions {
    /// How bytes for the server are cut into reads.
    pub to_server: Segmentation,
    /// How bytes for the client are cut into reads.
    pub to_client: Segmentation,
    /// Most bytes moved per direction per pump (Twisted reads 65536 at a time);
    /// `None` moves everything.
    pub read_size: Option<usize>,
    /// Record a transcript (on by default; benchmarks turn it off).
    pub transcript: bool,
    /// Record timer firings in the transcript.
    pub record_timers: bool,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// The server's address.
    pub server_addr: SocketAddr,
}

impl Default for PumpOptions {
    fn default() -> Self {
        Self {
            to_server: Segmentation::Whole,
            to_client: Segmentation::Whole,
            read_size: None,
            transcript: true,
            record_timers: false,
            client_addr: ipv4(127, 0, 0, 1, 54321),
            server_addr: ipv4(127, 0, 0, 1, 12345),
        }
    }
}

/// One end of the connection as the pump sees it.
struct End {
    name: &'static str,
    /// `"client > server"` for the client end: the label of bytes this end sends.
    sends: &'static str,
    transport: TransportState,
    /// Cuts reads delivered *to* this end.
    reads: Segmenter,
    /// The peer sent end-of-stream; deliver it once nothing else moves.
    eof_due: bool,
    /// The peer reset the connection.
    reset_due: bool,
    lost: Option<Disconnect>,
    /// Bytes taken from the peer's queue this round, to be delivered to this end. Two
    /// buffers per direction trade places with the peer's queue, so no byte is copied.
    inbox: Vec<u8>,
}

impl End {
    fn new(
        name: &'static str,
        sends: &'static str,
        local: SocketAddr,
        peer: SocketAddr,
        reads: Segmentation,
    ) -> Self {
        Self {
            name,
            sends,
            transport: TransportState::new(local, peer),
            reads: Segmenter::new(reads),
            eof_due: false,
            reset_due: false,
            lost: None,
            inbox: Vec::new(),
        }
    }
}

/// Two protocols connected in memory, moved forward by [`pump`](Self::pump).
pub struct Pump<C: Protocol, S: Protocol> {
    /// The client protocol.
    pub client: C,
    /// The server protocol.
    pub server: S,
    client_end: End,
    server_end: End,
    clock: ManualClock<Side<C::Timer, S::Timer>>,
    read_size: usize,
    /// No transcript, no read limit, whole reads both ways: `pump` may deliver each
    /// direction in one call, with nothing to record (the benchmark's path).
    fast: bool,
    transcript: Option<Transcript>,
    record_timers: bool,
}

impl<C: Protocol, S: Protocol> fmt::Debug for Pump<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pump")
            .field("now", &self.clock.now())
            .field("client", &self.client_end.transport)
            .field("server", &self.server_end.transport)
            .finish_non_exhaustive()
    }
}

/// Connects `client` and `server` in memory with default options and makes both
/// connections (server first, as `iosim` does). Nothing moves until pumped.
pub fn connected_pair<C: Protocol, S: Protocol>(client: C, server: S) -> Pump<C, S> {
    Pump::new(PumpOptions::default(), client, server)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Which {
    Client,
    Server,
}

impl<C: Protocol, S: Protocol> Pump<C, S> {
    /// Connects `client` and `server` with `options` and makes both connections.
    pub fn new(options: PumpOptions, client: C, server: S) -> Self {
        let fast = !options.transcript
            && options.read_size.is_none()
            && options.to_server == Segmentation::Whole
            && options.to_client == Segmentation::Whole;
        let mut pump = Self {
            client,
            server,
            client_end: End::new(
                "client",
                "client > server",
                options.client_addr,
                options.server_addr,
                options.to_client,
            ),
            server_end: End::new(
                "server",
                "server > client",
                options.server_addr,
                options.client_addr,
                options.to_server,
            ),
            clock: ManualClock::new(),
            read_size: options.read_size.unwrap_or(usize::MAX).max(1),
            fast,
            transcript: options.transcript.then(Transcript::new),
            record_timers: options.record_timers,
        };
        for side in [Which::Server, Which::Client] {
            let who = pump.end(side).name;
            pump.record(who, EventKind::Open);
            pump.call(
                side,
                |p, cx| p.connection_made(cx),
                |p, cx| p.connection_made(cx),
            );
        }
        pump
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The shared clock (both sides' timers, tagged by [`Side`]).
    pub fn clock(&self) -> &ManualClock<Side<C::Timer, S::Timer>> {
        &self.clock
    }

    /// The client's transport (what it has queued, whether it is closing).
    pub fn client_transport(&self) -> &TransportState {
        &self.client_end.transport
    }

    /// The server's transport.
    pub fn server_transport(&self) -> &TransportState {
        &self.server_end.transport
    }

    /// How the client's connection ended, once it has.
    pub fn client_lost(&self) -> Option<Disconnect> {
        self.client_end.lost
    }

    /// How the server's connection ended, once it has.
    pub fn server_lost(&self) -> Option<Disconnect> {
        self.server_end.lost
    }

    /// The transcript so far (empty if recording is off).
    pub fn transcript(&self) -> &Transcript {
        static EMPTY: Transcript = Transcript::new();
        self.transcript.as_ref().unwrap_or(&EMPTY)
    }

    /// One round: runs zero-delay calls, takes what both sides have written (client
    /// first), then delivers it (to the server first); if nothing moved, carries out
    /// one close step. Returns whether anything happened.
    ///
    /// Both queues are taken before either side reads, so what a side writes while
    /// reading goes out next round, and a sender's producer hears that its queue
    /// drained (`resume_producing`) before the peer reads what was in it.
    pub fn pump(&mut self) -> bool {
        if self.clock.pending_count() > 0 {
            self.fire_due_timers();
        }
        if self.fast {
            self.round(usize::MAX, Self::deliver_whole)
        } else {
            self.round(self.read_size, Self::deliver)
        }
    }

    /// The steps of every round, whichever way it delivers: one order for both.
    #[inline(always)]
    fn round(&mut self, read_size: usize, deliver: fn(&mut Self, Which)) -> bool {
        let to_server = self.take_output(Which::Client, read_size);
        let to_client = self.take_output(Which::Server, read_size);
        if !(to_server || to_client) {
            return self.close_step(Which::Client) || self.close_step(Which::Server);
        }
        // An inbox holds bytes exactly when its take moved some.
        if to_server {
            deliver(self, Which::Server);
        }
        if to_client {
            deliver(self, Which::Client);
        }
        true
    }

    /// [`deliver`](Self::deliver) without the options: one read of everything taken
    /// (the caller knows there is some), nothing recorded, straight from the inbox.
    #[inline(always)]
    fn deliver_whole(&mut self, to: Which) {
        let end = match to {
            Which::Client => &mut self.client_end,
            Which::Server => &mut self.server_end,
        };
        debug_assert!(!end.inbox.is_empty());
        if end.transport.accepts_data() {
            match to {
                Which::Client => {
                    let clock = &mut SideClock::new(&mut self.clock, Side::Client);
                    read_inbox(&mut self.client, end, clock);
                }
                Which::Server => {
                    let clock = &mut SideClock::new(&mut self.clock, Side::Server);
                    read_inbox(&mut self.server, end, clock);
                }
            }
        }
        end.inbox.clear();
        if end.transport.has_notices() {
            self.deliver_notices(to);
        }
    }

    /// Pumps until nothing moves.
    ///
    /// # Panics
    /// After 1000 rounds that all moved something ("too long"), with the transcript so
    /// far: the two sides are talking forever.
    pub fn flush(&mut self) {
        for _ in 0..1000 {
            if !self.pump() {
                return;
            }
        }
        panic!(
            "too long: the pump was still moving after 1000 rounds\n{}",
            self.transcript().render()
        );
    }

    /// Moves time forward by `amount` and runs the calls that fall due
    /// (Twisted's `Clock.advance`), without pumping.
    pub fn advance(&mut self, amount: Duration) {
        self.clock.set_now(self.clock.now() + amount);
        self.fire_due_timers();
    }

    /// Runs the connection for `duration` of virtual time: flushes, then jumps to the
    /// next timer and flushes again, until the time is up. Idle time costs nothing.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.clock.now() + duration;
        loop {
            self.flush();
            match self.clock.next_deadline() {
                Some(next) if next <= end => {
                    self.clock.set_now(next);
                    self.fire_due_timers();
                }
                _ => break,
            }
        }
        self.clock.set_now(end);
    }

    #[inline]
    fn end(&mut self, side: Which) -> &mut End {
        match side {
            Which::Client => &mut self.client_end,
            Which::Server => &mut self.server_end,
        }
    }

    fn record(&mut self, who: &str, what: EventKind) {
        if let Some(t) = &mut self.transcript {
            t.record(self.clock.now(), who, what);
        }
    }

    /// Runs a callback on one side, then delivers the producer notices it caused.
    #[inline]
    fn call(
        &mut self,
        side: Which,
        on_client: impl FnOnce(&mut C, &mut Context<'_, C::Timer>),
        on_server: impl FnOnce(&mut S, &mut Context<'_, S::Timer>),
    ) {
        match side {
            Which::Client => {
                let clock = &mut SideClock::new(&mut self.clock, Side::Client);
                let cx = &mut Context::new(&mut self.client_end.transport, clock);
                on_client(&mut self.client, cx);
            }
            Which::Server => {
                let clock = &mut SideClock::new(&mut self.clock, Side::Server);
                let cx = &mut Context::new(&mut self.server_end.transport, clock);
                on_server(&mut self.server, cx);
            }
        }
        if self.end(side).transport.has_notices() {
            self.deliver_notices(side);
        }
    }

    /// Delivers the producer calls `side`'s transport owes its protocol, recording each.
    fn deliver_notices(&mut self, side: Which) {
        while let Some(notice) = self.end(side).transport.take_notice() {
            let who = self.end(side).name;
            let what = match notice {
                Notice::PauseProducing => EventKind::Paused,
                Notice::ResumeProducing => EventKind::Resumed,
                Notice::StopProducing => EventKind::Stopped,
            };
            self.record(who, what);
            self.call(
                side,
                |p, cx| producer_call(p, cx, notice),
                |p, cx| producer_call(p, cx, notice),
            );
        }
    }

    fn fire_due_timers(&mut self) {
        while let Some((_, timer)) = self.clock.pop_due() {
            if self.record_timers {
                self.record("clock", EventKind::Timer(format!("{timer:?}")));
            }
            match timer {
                Side::Client(t) => {
                    self.call(Which::Client, |p, cx| p.timer_fired(cx, t), |_, _| {})
                }
                Side::Server(t) => {
                    self.call(Which::Server, |_, _| {}, |p, cx| p.timer_fired(cx, t))
                }
            }
        }
    }

    /// Takes up to `read_size` (at least 1) of `from`'s queued bytes into its peer's
    /// inbox, unless the peer has paused reading (then they stay queued and push back
    /// on `from`'s producer), and delivers the producer notices the drain caused.
    /// Returns whether anything was taken.
    #[inline(always)]
    fn take_output(&mut self, from: Which, read_size: usize) -> bool {
        let (end, peer) = match from {
            Which::Client => (&mut self.client_end, &mut self.server_end),
            Which::Server => (&mut self.server_end, &mut self.client_end),
        };
        if peer.transport.reading_paused() {
            return false;
        }
        // Without a read limit there is nothing to measure first.
        let taken = if read_size == usize::MAX || end.transport.pending().len() <= read_size {
            end.transport.take_pending(&mut peer.inbox)
        } else {
            peer.inbox
                .extend_from_slice(&end.transport.pending()[..read_size]);
            end.transport.consume(read_size);
            true
        };
        if end.transport.has_notices() {
            self.deliver_notices(from);
        }
        taken
    }

    /// Delivers the bytes in `to`'s inbox, cut into reads; drops them if `to` stopped
    /// reading.
    fn deliver(&mut self, to: Which) {
        let data = std::mem::take(&mut self.end(to).inbox);
        if !data.is_empty() {
            self.deliver_reads(to, &data);
        }
        let mut data = data;
        data.clear();
        self.end(to).inbox = data;
    }

    fn deliver_reads(&mut self, to: Which, data: &[u8]) {
        let sender = match to {
            Which::Client => self.server_end.sends,
            Which::Server => self.client_end.sends,
        };
        let mut rest = data;
        while !rest.is_empty() {
            if !self.end(to).transport.accepts_data() {
                let name = self.end(to).name;
                self.record(name, EventKind::Discarded(rest.len()));
                return;
            }
            let n = self.end(to).reads.next_read(rest.len());
            let (read, tail) = rest.split_at(n);
            rest = tail;
            if self.transcript.is_some() {
                self.record(sender, EventKind::Data(Bytes::copy_from_slice(read)));
            }
            self.call(
                to,
                |p, cx| p.data_received(cx, read),
                |p, cx| p.data_received(cx, read),
            );
        }
    }

    /// Carries out `side`'s next close step, if it has one.
    fn close_step(&mut self, side: Which) -> bool {
        if self.end(side).lost.is_some() {
            return false;
        }
        if let Some(action) = self.end(side).transport.close_action() {
            match action {
                CloseAction::Close => {
                    self.peer(side).eof_due = true;
                    self.lose(side, Disconnect::Clean);
                }
                CloseAction::Abort => {
                    self.peer(side).reset_due = true;
                    self.lose(side, Disconnect::Aborted);
                }
                CloseAction::ShutdownWrite => {
                    self.end(side).transport.write_shut_down();
                    self.peer(side).eof_due = true;
                }
            }
            return true;
        }
        if self.end(side).reset_due {
            self.lose(side, Disconnect::Reset);
            return true;
        }
        if std::mem::take(&mut self.end(side).eof_due) {
            let who = self.end(side).name;
            self.record(who, EventKind::Eof);
            if self.end(side).transport.accepts_data() {
                self.call(
                    side,
                    |p, cx| p.read_connection_lost(cx),
                    |p, cx| p.read_connection_lost(cx),
                );
            }
            return true;
        }
        false
    }

    fn peer(&mut self, side: Which) -> &mut End {
        match side {
            Which::Client => &mut self.server_end,
            Which::Server => &mut self.client_end,
        }
    }

    fn lose(&mut self, side: Which, reason: Disconnect) {
        let end = self.end(side);
        end.lost = Some(reason);
        end.transport.close();
        let who = end.name;
        self.record(who, EventKind::Lost(reason));
        self.deliver_notices(side);
        self.call(
            side,
            |p, cx| p.connection_lost(cx, reason),
            |p, cx| p.connection_lost(cx, reason),
        );
    }
}

/// One `data_received` of everything in `end`'s inbox.
#[inline(always)]
fn read_inbox<P: Protocol>(protocol: &mut P, end: &mut End, clock: &mut dyn Clock<P::Timer>) {
    let cx = &mut Context::new(&mut end.transport, clock);
    protocol.data_received(cx, &end.inbox);
}

fn producer_call<P: Protocol>(protocol: &mut P, cx: &mut Context<'_, P::Timer>, notice: Notice) {
    match notice {
        Notice::PauseProducing => protocol.pause_producing(cx),
        Notice::ResumeProducing => protocol.resume_producing(cx),
        Notice::StopProducing => protocol.stop_producing(cx),
    }
}

/// One side's view of the pump's clock: its own timers, tagged with its [`Side`] on the
/// way in (a [`MapClock`](crate::clock::MapClock) over the concrete clock, so each
/// callback's context costs one pointer less and each clock call one indirection less).
struct SideClock<'a, U, F> {
    clock: &'a mut ManualClock<U>,
    wrap: F,
}

impl<'a, U, F> SideClock<'a, U, F> {
    #[inline(always)]
    fn new(clock: &'a mut ManualClock<U>, wrap: F) -> Self {
        Self { clock, wrap }
    }
}

impl<T, U, F: Fn(T) -> U> Clock<T> for SideClock<'_, U, F> {
    fn now(&self) -> Instant {
        self.clock.now()
    }
    fn call_later(&mut self, delay: Duration, timer: T) -> CallId {
        self.clock.call_later(delay, (self.wrap)(timer))
    }
    fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        self.clock.cancel(call)
    }
    fn reset(&mut self, call: CallId, delay: Duration) -> Result<(), CallError> {
        self.clock.reset(call, delay)
    }
    fn delay(&mut self, call: CallId, by: Duration) -> Result<(), CallError> {
        self.clock.delay(call, by)
    }
    fn deadline(&self, call: CallId) -> Option<Instant> {
        self.clock.deadline(call)
    }
}
