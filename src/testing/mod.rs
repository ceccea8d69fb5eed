//! Test doubles and the in-memory pump, after Twisted's `twisted.internet.testing` and
//! `twisted.test.iosim`, plus the transcript and re-segmentation machinery every
//! simulated driver shares.
//!
//! | Twisted | weft |
//! |---|---|
//! | `task.Clock` | [`ManualClock`] |
//! | `StringTransport`, `StringTransportWithDisconnection` | [`StringTransport`] |
//! | `protocol.makeConnection(transport)` | [`StringTransport::make_connection`] → [`TestConnection`] |
//! | `MemoryReactor`, `MemoryReactorClock` | [`MemoryReactor`] |
//! | `iosim.connect`, `connectedServerAndClient` | [`connected_pair`] |
//! | `IOPump.pump`, `IOPump.flush` | [`Pump::pump`], [`Pump::flush`] |
//!
//! [`Probe`] wraps a program to record how its connections ended and hand out the
//! address it got for port 0, for tests on real TCP or turmoil. [`LifecycleLedger`]
//! watches every host of a simulated run and says which connect or connection broke the
//! lifecycle contract.

mod lifecycle;
pub mod logs;
mod memory_reactor;
mod probe;
mod pump;
mod segmentation;
#[cfg(feature = "proptest")]
pub mod strategies;
mod string_transport;
mod transcript;

pub use crate::clock::ManualClock;
pub use lifecycle::LifecycleLedger;
pub use memory_reactor::{ConnectCall, ListenCall, MemoryReactor};
pub use probe::{Ended, ListenAddress, Probe, SharedLog};
pub use pump::{Pump, PumpOptions, Side, connected_pair};
pub use segmentation::{Segmentation, Segmenter};
pub use string_transport::{StringTransport, TestConnection};
pub use transcript::{Event, EventDigest, EventKind, Transcript};

use crate::flow::{Consumer, ProducerError, ProducerKind};

/// A consumer that records every write separately, for testing producers on their own
/// (the `FakeConsumer` of the book's producer tests).
#[derive(Debug, Default)]
pub struct RecordingConsumer {
    /// Each `write`, in order.
    pub writes: Vec<Vec<u8>>,
    registered: Option<ProducerKind>,
}

impl Consumer for RecordingConsumer {
    fn write(&mut self, data: &[u8]) {
        self.writes.push(data.to_vec());
    }

    fn register_producer(&mut self, kind: ProducerKind) -> Result<(), ProducerError> {
        if self.registered.is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        self.registered = Some(kind);
        Ok(())
    }

    fn unregister_producer(&mut self) -> Result<(), ProducerError> {
        self.registered
            .take()
            .map(|_| ())
            .ok_or(ProducerError::NotRegistered)
    }
}
