//! Programs and protocols for the driver tests, shared by the loopback and turmoil
//! binaries.
#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

pub mod process;
mod watch;

#[allow(unused_imports)] // not every test binary watches a node
pub use watch::{Seen, Watch, Watched};

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use weft::host::FactoryProgram;
use weft::programs::pingpong::PingPong;
use weft::programs::streaming::StreamingClient;
use weft::protocol::{Context, Factory, NoTimer, Protocol};
use weft::time::Instant;
use weft::transport::Disconnect;

/// What a protocol did on its connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Stats {
    pub written: u64,
    pub received: u64,
}

/// Protocols whose counts a [`Probe`] records when their connection ends.
pub trait Counted {
    fn stats(&self) -> Stats;
}

impl Counted for PingPong {
    fn stats(&self) -> Stats {
        Stats {
            written: self.written(),
            received: self.received(),
        }
    }
}

impl Counted for StreamingClient {
    fn stats(&self) -> Stats {
        Stats {
            written: self.producer().written() as u64,
            received: 0,
        }
    }
}

/// How one connection ended, with its protocol's counts.
pub type Ended = weft::testing::Ended<Stats>;

/// A shared, ordered log of what happened across the programs of one test.
pub type Log = weft::testing::SharedLog;

/// weft's [`Probe`](weft::testing::Probe) around a factory program, measuring each
/// connection's protocol as it ends.
pub type Probe<F> = weft::testing::Probe<FactoryProgram<F>, Stats>;

/// Probes `inner`, recording what each connection's protocol counted.
pub fn probe<F: Factory + 'static>(inner: FactoryProgram<F>) -> Probe<F>
where
    F::Protocol: Counted,
{
    weft::testing::Probe::new(inner).measure(|program: &FactoryProgram<F>, conn| {
        program
            .protocol(conn)
            .map(Counted::stats)
            .unwrap_or_default()
    })
}

/// A receiver that does not read for its first `pause`, then counts what arrives.
#[derive(Clone, Debug)]
pub struct SlowReader {
    pause: Duration,
    received: u64,
    log: Log,
}

/// [`SlowReader`]'s timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StartReading;

/// Builds [`SlowReader`]s that log to a shared [`Log`].
pub struct SlowReaderFactory {
    pub pause: Duration,
    pub log: Log,
}

impl Factory for SlowReaderFactory {
    type Protocol = SlowReader;

    fn build_protocol(&mut self, _peer: SocketAddr) -> SlowReader {
        SlowReader {
            pause: self.pause,
            received: 0,
            log: self.log.clone(),
        }
    }
}

impl Protocol for SlowReader {
    type Timer = StartReading;

    fn connection_made(&mut self, cx: &mut Context<'_, StartReading>) {
        cx.transport.pause_reading();
        cx.call_later(self.pause, StartReading);
    }

    fn data_received(&mut self, _cx: &mut Context<'_, StartReading>, data: &[u8]) {
        self.received += data.len() as u64;
    }

    fn timer_fired(&mut self, cx: &mut Context<'_, StartReading>, StartReading: StartReading) {
        self.log.borrow_mut().push("reading resumed".into());
        cx.transport.resume_reading();
    }
}

impl Counted for SlowReader {
    fn stats(&self) -> Stats {
        Stats {
            written: 0,
            received: self.received,
        }
    }
}

/// Writes a greeting, then aborts the connection as soon as anything arrives.
#[derive(Clone, Debug, Default)]
pub struct Aborter {
    received: u64,
}

impl Protocol for Aborter {
    type Timer = NoTimer;

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.received += data.len() as u64;
        cx.abort_connection();
    }
}

impl Counted for Aborter {
    fn stats(&self) -> Stats {
        Stats {
            written: 0,
            received: self.received,
        }
    }
}

/// Builds [`Aborter`]s.
pub struct AborterFactory;

impl Factory for AborterFactory {
    type Protocol = Aborter;

    fn build_protocol(&mut self, _peer: SocketAddr) -> Aborter {
        Aborter::default()
    }
}

/// One side of a half-close exchange. The asker writes its question and half-closes;
/// the answerer collects everything until end-of-stream, then answers with the byte
/// count and closes. The asker keeps reading after its half-close. Each side logs
/// what it received when its connection ends.
#[derive(Clone, Debug)]
pub struct HalfClose {
    asker: bool,
    written: u64,
    received: Vec<u8>,
    saw_eof: bool,
    log: Log,
}

/// The asker's question.
pub const QUESTION: &[u8] = b"how many bytes is this?";

impl Protocol for HalfClose {
    type Timer = NoTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        if self.asker {
            cx.write(QUESTION);
            self.written += QUESTION.len() as u64;
            cx.lose_write_connection();
        }
    }

    fn data_received(&mut self, _cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.received.extend_from_slice(data);
    }

    fn read_connection_lost(&mut self, cx: &mut Context<'_, NoTimer>) {
        self.saw_eof = true;
        if !self.asker {
            let answer = format!("{} bytes", self.received.len());
            cx.write(answer.as_bytes());
            self.written += answer.len() as u64;
        }
        cx.lose_connection();
    }

    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, _reason: Disconnect) {
        let who = if self.asker { "asker" } else { "answerer" };
        let text = String::from_utf8_lossy(&self.received);
        let eof = if self.saw_eof {
            "then end-of-stream"
        } else {
            "no end-of-stream"
        };
        self.log
            .borrow_mut()
            .push(format!("{who} received {text:?}, {eof}"));
    }
}

impl Counted for HalfClose {
    fn stats(&self) -> Stats {
        Stats {
            written: self.written,
            received: self.received.len() as u64,
        }
    }
}

/// Builds one side of [`HalfClose`].
pub struct HalfCloseFactory {
    pub asker: bool,
    pub log: Log,
}

impl Factory for HalfCloseFactory {
    type Protocol = HalfClose;

    fn build_protocol(&mut self, _peer: SocketAddr) -> HalfClose {
        HalfClose {
            asker: self.asker,
            written: 0,
            received: Vec::new(),
            saw_eof: false,
            log: self.log.clone(),
        }
    }
}

/// Records when each byte arrives (the receiving end of the heartbeat).
pub struct BeatCounter {
    arrivals: Rc<RefCell<Vec<Instant>>>,
}

impl Protocol for BeatCounter {
    type Timer = NoTimer;

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        let now = cx.now();
        self.arrivals
            .borrow_mut()
            .extend(std::iter::repeat_n(now, data.len()));
    }
}

impl Counted for BeatCounter {
    fn stats(&self) -> Stats {
        Stats {
            written: 0,
            received: self.arrivals.borrow().len() as u64,
        }
    }
}

/// Builds [`BeatCounter`]s that share one list of arrival times.
pub struct BeatCounterFactory {
    pub arrivals: Rc<RefCell<Vec<Instant>>>,
}

impl Factory for BeatCounterFactory {
    type Protocol = BeatCounter;

    fn build_protocol(&mut self, _peer: SocketAddr) -> BeatCounter {
        BeatCounter {
            arrivals: self.arrivals.clone(),
        }
    }
}

/// Runs `f` on a fresh current-thread runtime, failing the test if it takes longer than
/// `limit` (a hang must fail, not block CI).
pub fn block_on<F: Future>(limit: Duration, f: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        tokio::time::timeout(limit, f)
            .await
            .expect("the test timed out")
    })
}
