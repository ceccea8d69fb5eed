//! The poetry servers that serve every client at once: the fast server (Part 11, the
//! whole poem on connect, then close) and the slow server (Part 11 exercise 3: the
//! blocking server's pacing, written the Twisted way, one sender timer per client).
//!
//! Both are per-connection [`Protocol`]s built by a [`Factory`], so they run under
//! [`FactoryProgram`](crate::host::FactoryProgram) on any driver, and under the
//! [`Pump`](crate::testing::Pump) against a [`PoetryClient`](super::PoetryClient).

use crate::programs::STDOUT_TARGET;
use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::CallId;
use crate::protocol::{Context, Factory, NoTimer, Protocol};
use crate::transport::Disconnect;

use super::poems::Poem;
use super::sender::PoemSender;

/// The text's slow-server chunk size: 10 bytes.
pub const DEFAULT_NUM_BYTES: usize = 10;

/// The text's slow-server delay: 0.1 s (upstream later slowed it to 0.7 s).
pub const DEFAULT_DELAY: Duration = Duration::from_millis(100);

/// How a slow server paces a poem: `num_bytes` every `delay`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pace {
    /// Bytes per chunk (the last chunk may be shorter). At least 1.
    pub num_bytes: usize,
    /// Time between chunks.
    pub delay: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            num_bytes: DEFAULT_NUM_BYTES,
            delay: DEFAULT_DELAY,
        }
    }
}

impl Pace {
    /// `num_bytes` every `delay` (a `num_bytes` of 0 is taken as 1).
    pub fn new(num_bytes: usize, delay: Duration) -> Self {
        Self {
            num_bytes: num_bytes.max(1),
            delay,
        }
    }

    /// Chunks for a poem of `len` bytes: `ceil(len / num_bytes)`.
    pub fn chunks(&self, len: usize) -> usize {
        len.div_ceil(self.num_bytes.max(1))
    }

    /// When, after the first chunk, the connection closes: one delay after the last
    /// chunk, as the blocking server sleeps after every chunk before it finds the end
    /// of the file. A 3,003-byte poem at 30 bytes closes at 10.1 s.
    pub fn duration(&self, len: usize) -> Duration {
        self.delay * u32::try_from(self.chunks(len)).unwrap_or(u32::MAX)
    }
}

/// Cuts a poem into a slow server's chunks, one per tick: the pacing shared by the
/// concurrent slow server and the serial one.
#[derive(Clone, Debug)]
pub struct ChunkSender {
    poem: Poem,
    offset: usize,
    num_bytes: usize,
}

impl ChunkSender {
    /// A sender at the start of `poem`.
    pub fn new(poem: Poem, num_bytes: usize) -> Self {
        Self {
            poem,
            offset: 0,
            num_bytes: num_bytes.max(1),
        }
    }

    /// The next chunk, or `None` at the end of the poem (time to close).
    pub fn next_chunk(&mut self) -> Option<&[u8]> {
        let bytes = self.poem.as_bytes();
        if self.offset >= bytes.len() {
            return None;
        }
        let end = (self.offset + self.num_bytes).min(bytes.len());
        let chunk = &bytes[self.offset..end];
        self.offset = end;
        Some(chunk)
    }

    /// Bytes sent so far.
    pub fn sent(&self) -> usize {
        self.offset
    }
}

/// Builds [`FastPoetry`] protocols; holds the poem, read once at start.
#[derive(Clone, Debug)]
pub struct FastPoetryFactory {
    poem: Poem,
}

impl FastPoetryFactory {
    /// A factory serving `poem`.
    pub fn new(poem: Poem) -> Self {
        Self { poem }
    }
}

impl Factory for FastPoetryFactory {
    type Protocol = FastPoetry;

    fn build_protocol(&mut self, _peer: SocketAddr) -> FastPoetry {
        FastPoetry {
            sender: PoemSender::whole(&self.poem),
        }
    }
}

/// Writes the whole poem on connect, then closes once it has been sent. Ignores input.
///
/// The poem is shared, not copied: a [`PoemSender`] writes it a piece at a time as the
/// connection drains, so a client that never reads holds one piece, not the poem.
#[derive(Clone, Debug)]
pub struct FastPoetry {
    sender: PoemSender,
}

impl FastPoetry {
    /// Bytes handed to the transport so far.
    pub fn bytes_sent(&self) -> usize {
        self.sender.written()
    }

    fn pump(&mut self, cx: &mut Context<'_, NoTimer>, resume: bool) {
        let done = if resume {
            self.sender.resume(cx.transport)
        } else {
            self.sender.pump(cx.transport)
        };
        if done {
            cx.lose_connection();
        }
    }
}

impl Protocol for FastPoetry {
    type Timer = NoTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        tracing::info!(
            "sending {} bytes of poetry to {}",
            self.sender.allowed(),
            cx.peer()
        );
        if self.sender.start(cx.transport) {
            cx.lose_connection();
        }
    }

    fn data_received(&mut self, _cx: &mut Context<'_, NoTimer>, _data: &[u8]) {}

    fn pause_producing(&mut self, _cx: &mut Context<'_, NoTimer>) {
        self.sender.pause();
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, NoTimer>) {
        self.pump(cx, true);
    }
}

/// The slow server's one timer: send the next chunk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SlowTimer {
    /// Time for the next chunk (or, past the end, the close).
    Send,
}

/// Builds [`SlowPoetry`] protocols.
#[derive(Clone, Debug)]
pub struct SlowPoetryFactory {
    poem: Poem,
    pace: Pace,
}

impl SlowPoetryFactory {
    /// A factory serving `poem` at `pace`.
    pub fn new(poem: Poem, pace: Pace) -> Self {
        Self { poem, pace }
    }
}

impl Factory for SlowPoetryFactory {
    type Protocol = SlowPoetry;

    fn build_protocol(&mut self, _peer: SocketAddr) -> SlowPoetry {
        SlowPoetry::new(self.poem.clone(), self.pace)
    }
}

/// Sends `num_bytes` of the poem every `delay`: the first chunk on connect, then one
/// per tick; the tick after the last chunk closes the connection. Each connection has
/// its own sender timer, so any number of clients are served at once; a client that
/// leaves early cancels its timer, and nothing more is scheduled for it.
///
/// Each tick *releases* a chunk of the shared poem to a paced [`PoemSender`]; the
/// sender copies released bytes into the transport only as it drains. A client that
/// does not read therefore costs one piece of the poem, and the pace is kept.
#[derive(Clone, Debug)]
pub struct SlowPoetry {
    sender: PoemSender,
    num_bytes: usize,
    delay: Duration,
    next: Option<CallId>,
    chunks_sent: usize,
    /// Every chunk is released and the closing tick has come: close once written.
    closing: bool,
}

impl SlowPoetry {
    /// A protocol that will send `poem` at `pace`.
    pub fn new(poem: Poem, pace: Pace) -> Self {
        Self {
            sender: PoemSender::paced(&poem),
            num_bytes: pace.num_bytes.max(1),
            delay: pace.delay,
            next: None,
            chunks_sent: 0,
            closing: false,
        }
    }

    /// Chunks released so far (one per tick).
    pub fn chunks_sent(&self) -> usize {
        self.chunks_sent
    }

    /// Bytes handed to the transport so far.
    pub fn bytes_sent(&self) -> usize {
        self.sender.written()
    }

    /// Whether a send is scheduled.
    pub fn is_sending(&self) -> bool {
        self.next.is_some()
    }

    fn send_next(&mut self, cx: &mut Context<'_, SlowTimer>) {
        self.next = None;
        if self.sender.all_allowed() {
            self.closing = true;
        } else {
            let n = self.sender.allow(self.num_bytes);
            tracing::debug!(target: STDOUT_TARGET, "Sending {n} bytes");
            self.chunks_sent += 1;
            self.next = Some(cx.call_later(self.delay, SlowTimer::Send));
        }
        self.pump(cx, false);
    }

    fn pump(&mut self, cx: &mut Context<'_, SlowTimer>, resume: bool) {
        let done = if resume {
            self.sender.resume(cx.transport)
        } else {
            self.sender.pump(cx.transport)
        };
        if done && self.closing {
            cx.lose_connection();
        }
    }
}

impl Protocol for SlowPoetry {
    type Timer = SlowTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, SlowTimer>) {
        tracing::info!(target: STDOUT_TARGET, "Somebody at {} wants poetry!", cx.peer());
        // Nothing is released yet: this only registers the sender.
        self.sender.start(cx.transport);
        self.send_next(cx);
    }

    fn data_received(&mut self, _cx: &mut Context<'_, SlowTimer>, _data: &[u8]) {}

    fn timer_fired(&mut self, cx: &mut Context<'_, SlowTimer>, SlowTimer::Send: SlowTimer) {
        self.send_next(cx);
    }

    fn pause_producing(&mut self, _cx: &mut Context<'_, SlowTimer>) {
        self.sender.pause();
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, SlowTimer>) {
        self.pump(cx, true);
    }

    fn connection_lost(&mut self, cx: &mut Context<'_, SlowTimer>, reason: Disconnect) {
        if let Some(call) = self.next.take() {
            tracing::info!(
                "client left after {} bytes ({reason}); sender stopped",
                self.sender.written()
            );
            // The call is pending (we only keep ids of pending sends), so this succeeds.
            let _ = cx.cancel(call);
        }
    }
}
