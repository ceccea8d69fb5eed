//! Streaming with flow control ("Expert Twisted", chapter 1): a push producer that
//! writes `*`s every millisecond, doubling each write (2, 4, 8, ... bytes), and a server
//! that receives them. The transport pauses the producer when more than 64 KiB wait to
//! be sent and resumes it when they have gone; each resume writes at once.
//!
//! The book's client grows until memory runs out ("a successful experiment in flow
//! control"). weft's can stop after a byte budget, so a simulation ends.

use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::{Clock, LoopingCall, Tick};
use crate::flow::{Consumer, ProducerKind, PushProducer};
use crate::protocol::{Context, Factory, Protocol};
use crate::transport::Disconnect;

/// The producer's write interval: as fast as a `LoopingCall` usefully goes.
pub const STREAMING_INTERVAL: Duration = Duration::from_millis(1);

/// A push producer that writes ever larger runs of `*` on a 1 ms loop (the book's
/// `StreamingProducer`). `T` is the timer its loop uses.
#[derive(Debug)]
pub struct StreamingProducer<T> {
    next_write: usize,
    written: usize,
    writes: u64,
    writer: LoopingCall<T>,
}

impl<T: Copy> StreamingProducer<T> {
    /// A paused producer whose loop fires `timer`. Registering does not start it; call
    /// `resume_producing`.
    pub fn new(timer: T) -> Self {
        Self {
            next_write: 2,
            written: 0,
            writes: 0,
            writer: LoopingCall::new(timer),
        }
    }

    /// Total bytes written.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Number of writes.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// Whether the write loop is running.
    pub fn is_producing(&self) -> bool {
        self.writer.running()
    }

    /// Call when the loop's timer fires.
    pub fn timer_fired(&mut self, consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>) {
        if let Some(tick) = self.writer.fired(clock) {
            self.write_data(consumer, clock, tick);
        }
    }

    fn write_data(&mut self, consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>, tick: Tick) {
        tracing::debug!("Client producer writing {} bytes.", self.next_write);
        let data = vec![b'*'; self.next_write];
        self.written += data.len();
        self.writes += 1;
        self.next_write *= 2;
        // The write may pause us; the pause arrives after this beat and stops the loop.
        consumer.write(&data);
        self.writer.finish(clock, tick);
    }
}

impl<T: Copy> PushProducer<T> for StreamingProducer<T> {
    fn pause_producing(&mut self, _consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>) {
        tracing::debug!("Pausing client producer.");
        self.writer.stop(clock);
    }

    fn resume_producing(&mut self, consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>) {
        tracing::debug!("Resuming client producer.");
        if self.writer.running() {
            return;
        }
        if let Some(tick) = self.writer.start(clock, STREAMING_INTERVAL, true) {
            self.write_data(consumer, clock, tick);
        }
    }

    fn stop_producing(&mut self, _consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>) {
        tracing::debug!("Stopping client producer.");
        self.writer.stop(clock);
    }
}

/// The streaming client's timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StreamingTimer {
    /// The producer's next write.
    Write,
}

/// Builds [`StreamingClient`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamingClientFactory {
    /// Stop producing and close once this many bytes have been written.
    pub budget: Option<usize>,
}

impl Factory for StreamingClientFactory {
    type Protocol = StreamingClient;

    fn build_protocol(&mut self, _peer: SocketAddr) -> StreamingClient {
        StreamingClient::new(self.budget)
    }
}

/// Registers a [`StreamingProducer`] on its transport and starts it.
#[derive(Debug)]
pub struct StreamingClient {
    producer: StreamingProducer<StreamingTimer>,
    budget: Option<usize>,
    pauses: u64,
    first_pause_at_write: Option<u64>,
}

impl StreamingClient {
    /// A client that stops after `budget` bytes, or never.
    pub fn new(budget: Option<usize>) -> Self {
        Self {
            producer: StreamingProducer::new(StreamingTimer::Write),
            budget,
            pauses: 0,
            first_pause_at_write: None,
        }
    }

    /// The producer.
    pub fn producer(&self) -> &StreamingProducer<StreamingTimer> {
        &self.producer
    }

    /// How often the transport paused the producer.
    pub fn pauses(&self) -> u64 {
        self.pauses
    }

    /// Which write (counting from 1) the transport first paused the producer after.
    pub fn first_pause_at_write(&self) -> Option<u64> {
        self.first_pause_at_write
    }

    fn check_budget(&mut self, cx: &mut Context<'_, StreamingTimer>) {
        if self.budget.is_some_and(|b| self.producer.written() >= b) {
            self.producer.stop_producing(cx.transport, cx.clock);
            // Unregistering lets the close go through once the queue drains.
            let _ = cx.unregister_producer();
            cx.lose_connection();
        }
    }
}

impl Protocol for StreamingClient {
    type Timer = StreamingTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, StreamingTimer>) {
        cx.register_producer(ProducerKind::Push)
            .expect("a fresh transport has no producer");
        // Registering a push producer does not start it.
        self.producer.resume_producing(cx.transport, cx.clock);
        self.check_budget(cx);
    }

    fn data_received(&mut self, _cx: &mut Context<'_, StreamingTimer>, _data: &[u8]) {}

    fn timer_fired(&mut self, cx: &mut Context<'_, StreamingTimer>, _timer: StreamingTimer) {
        self.producer.timer_fired(cx.transport, cx.clock);
        self.check_budget(cx);
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, StreamingTimer>) {
        self.pauses += 1;
        self.first_pause_at_write
            .get_or_insert(self.producer.writes());
        self.producer.pause_producing(cx.transport, cx.clock);
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, StreamingTimer>) {
        if self.budget.is_some_and(|b| self.producer.written() >= b) {
            return;
        }
        self.producer.resume_producing(cx.transport, cx.clock);
        self.check_budget(cx);
    }

    fn stop_producing(&mut self, cx: &mut Context<'_, StreamingTimer>) {
        self.producer.stop_producing(cx.transport, cx.clock);
    }

    fn connection_lost(&mut self, cx: &mut Context<'_, StreamingTimer>, _reason: Disconnect) {
        self.producer.stop_producing(cx.transport, cx.clock);
    }
}

/// Builds [`ReceivingServer`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReceivingServerFactory {
    /// After each read, stop reading for this long: a slow consumer.
    pub read_pause: Option<Duration>,
}

impl Factory for ReceivingServerFactory {
    type Protocol = ReceivingServer;

    fn build_protocol(&mut self, _peer: SocketAddr) -> ReceivingServer {
        ReceivingServer {
            read_pause: self.read_pause,
            ..ReceivingServer::default()
        }
    }
}

/// The receiving server's timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReceivingTimer {
    /// Read again after a pause.
    ResumeReading,
}

/// Counts what arrives (the book prints `Server received N bytes.`). With a read
/// pause it is a slow consumer: after each read it stops reading for a while, so the
/// network's buffers fill and push back on the sender.
#[derive(Clone, Debug, Default)]
pub struct ReceivingServer {
    received: usize,
    reads: u64,
    read_pause: Option<Duration>,
}

impl ReceivingServer {
    /// Bytes received.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Number of reads.
    pub fn reads(&self) -> u64 {
        self.reads
    }
}

impl Protocol for ReceivingServer {
    type Timer = ReceivingTimer;

    fn data_received(&mut self, cx: &mut Context<'_, ReceivingTimer>, data: &[u8]) {
        tracing::debug!("Server received {} bytes.", data.len());
        self.received += data.len();
        self.reads += 1;
        if let Some(pause) = self.read_pause {
            cx.transport.pause_reading();
            cx.call_later(pause, ReceivingTimer::ResumeReading);
        }
    }

    fn timer_fired(&mut self, cx: &mut Context<'_, ReceivingTimer>, _timer: ReceivingTimer) {
        cx.transport.resume_reading();
    }
}
