//! Flow control: producers, consumers and back-pressure (Twisted's `IProducer`,
//! `IPushProducer`, `IConsumer`).
//!
//! A consumer has at most one producer. A push producer writes on its own until the
//! consumer pauses it; a pull producer writes only when asked. Transports are consumers:
//! the rules for when they pause and resume their producer live in
//! [`TransportState`](crate::transport::TransportState).

use crate::clock::Clock;

/// Twisted's `FileDescriptor.bufferSize`: a push producer is paused once more than this
/// many bytes wait in a transport's queue.
pub const HIGH_WATER_MARK: usize = 64 * 1024;

/// How a producer feeds its consumer (Twisted's `streaming` flag).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProducerKind {
    /// Writes on its own until paused (`IPushProducer`, `streaming=True`).
    Push,
    /// Writes only when asked, each time the consumer drains (`IPullProducer`).
    Pull,
}

/// Misuse of producer registration.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ProducerError {
    /// A consumer has at most one producer at a time.
    #[error("cannot register two producers")]
    AlreadyRegistered,
    /// `unregister_producer` with nothing registered.
    #[error("no producer is registered")]
    NotRegistered,
}

/// Something that accepts bytes and may have one producer (Twisted's `IConsumer`).
pub trait Consumer {
    /// Queues `data` for sending. Never blocks; may pause a registered push producer.
    fn write(&mut self, data: &[u8]);
    /// Registers the calling protocol as this consumer's producer; it will receive
    /// `pause_producing`, `resume_producing` and `stop_producing`.
    fn register_producer(&mut self, kind: ProducerKind) -> Result<(), ProducerError>;
    /// Stops consuming from the producer without disconnecting.
    fn unregister_producer(&mut self) -> Result<(), ProducerError>;
}

/// A call the transport owes its protocol, delivered by the driver right after the
/// protocol's current callback returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Notice {
    /// The queue passed the high-water mark: stop writing.
    PauseProducing,
    /// The queue drained: write again.
    ResumeProducing,
    /// The connection is gone: stop for good.
    StopProducing,
}

/// A standalone push producer (Twisted's `IPushProducer`) that writes to a consumer on
/// its own clock. Protocols that produce for their own transport get the same three
/// calls through [`Protocol`](crate::protocol::Protocol) instead.
pub trait PushProducer<T> {
    /// The consumer is overwhelmed: stop writing until resumed.
    fn pause_producing(&mut self, consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>);
    /// The consumer has room: write again (or for the first time).
    fn resume_producing(&mut self, consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>);
    /// The consumer is gone: stop for good.
    fn stop_producing(&mut self, consumer: &mut dyn Consumer, clock: &mut dyn Clock<T>);
}
