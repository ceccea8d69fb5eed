//! [`PoemSender`]: a poem held once and written as the connection drains (Twisted's
//! `FileSender`, as a push producer), so a client that never reads costs its socket
//! buffers and one piece of the poem, not the whole poem.
//!
//! The sender writes at most [`PIECE`] bytes at a time. A piece that size takes an empty
//! queue past the transport's high-water mark, so the transport pauses the sender and
//! resumes it once the piece has gone: each resume writes the next piece. A poem that
//! fits in one piece is written at once, exactly as a plain `write` would. The queue
//! never holds more than the high-water mark plus one piece.
//!
//! The sender can also be *paced*: it writes only what has been released with
//! [`allow`](PoemSender::allow) (the slow server releases `num_bytes` per tick), so the
//! pace is kept while back-pressure decides when released bytes are copied.

use bytes::Bytes;

use crate::flow::{Consumer, HIGH_WATER_MARK, ProducerKind};

use super::poems::Poem;

/// The most bytes written at once: one more than the high-water mark, so a full piece
/// always pauses the sender until the queue drains.
pub const PIECE: usize = HIGH_WATER_MARK + 1;

/// Writes a shared poem piece by piece, as its consumer drains. See the module docs.
#[derive(Clone, Debug)]
pub struct PoemSender {
    bytes: Bytes,
    written: usize,
    allowed: usize,
    paused: bool,
}

impl PoemSender {
    /// A sender that may write the whole poem.
    pub fn whole(poem: &Poem) -> Self {
        let bytes = poem.bytes();
        Self {
            allowed: bytes.len(),
            bytes,
            written: 0,
            paused: false,
        }
    }

    /// A sender that writes only what [`allow`](Self::allow) releases.
    pub fn paced(poem: &Poem) -> Self {
        Self {
            allowed: 0,
            ..Self::whole(poem)
        }
    }

    /// Releases `n` more bytes (up to the end of the poem); returns how many were
    /// released.
    pub fn allow(&mut self, n: usize) -> usize {
        let before = self.allowed;
        self.allowed = self.allowed.saturating_add(n).min(self.bytes.len());
        self.allowed - before
    }

    /// Registers as `consumer`'s push producer (if anything is left to write) and writes
    /// the first released piece. Returns true if that was the whole poem.
    pub fn start(&mut self, consumer: &mut dyn Consumer) -> bool {
        if !self.bytes.is_empty() {
            // Only fails if another producer is registered: then we write unpaced.
            let _ = consumer.register_producer(ProducerKind::Push);
        }
        self.pump(consumer)
    }

    /// Writes the next released piece unless paused. When the whole poem is written,
    /// unregisters and returns true.
    pub fn pump(&mut self, consumer: &mut dyn Consumer) -> bool {
        if !self.paused && self.written < self.allowed {
            let end = self.allowed.min(self.written + PIECE);
            // A slice of the shared poem: the transport copies only this piece.
            consumer.write(&self.bytes[self.written..end]);
            self.written = end;
        }
        let done = self.is_done();
        if done && !self.bytes.is_empty() {
            let _ = consumer.unregister_producer();
        }
        done
    }

    /// The consumer is full: write nothing until [`resume`](Self::resume).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// The consumer drained: write the next piece. Returns true once the poem is
    /// written (and the sender unregistered).
    pub fn resume(&mut self, consumer: &mut dyn Consumer) -> bool {
        self.paused = false;
        self.pump(consumer)
    }

    /// Bytes handed to the consumer so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Bytes released so far (all of them for a whole sender).
    pub fn allowed(&self) -> usize {
        self.allowed
    }

    /// Whether every byte of the poem has been released.
    pub fn all_allowed(&self) -> bool {
        self.allowed == self.bytes.len()
    }

    /// Whether every byte of the poem has been written.
    pub fn is_done(&self) -> bool {
        self.written == self.bytes.len()
    }

    /// Whether the consumer has paused the sender.
    pub fn is_paused(&self) -> bool {
        self.paused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Notice;
    use crate::transport::{TransportState, ipv4};

    fn transport() -> TransportState {
        TransportState::new(ipv4(10, 0, 0, 1, 1), ipv4(10, 0, 0, 2, 2))
    }

    #[test]
    fn a_large_poem_is_queued_one_piece_at_a_time_as_the_queue_drains() {
        let poem = Poem::new(vec![b'x'; 3 * PIECE + 10]);
        let mut t = transport();
        let mut sender = PoemSender::whole(&poem);
        sender.start(&mut t);
        assert_eq!(t.pending().len(), PIECE, "one piece, not the poem");
        assert_eq!(t.take_notice(), Some(Notice::PauseProducing));
        sender.pause();
        assert!(!sender.pump(&mut t), "paused: nothing more is written");
        assert_eq!(t.pending().len(), PIECE);
        let mut sent = 0;
        loop {
            let n = t.pending().len();
            t.consume(n);
            sent += n;
            match t.take_notice() {
                Some(Notice::ResumeProducing) => {
                    if sender.resume(&mut t) {
                        break;
                    }
                    assert_eq!(t.take_notice(), Some(Notice::PauseProducing));
                    sender.pause();
                }
                other => panic!("unexpected notice {other:?}"),
            }
        }
        sent += t.pending().len();
        assert_eq!(sent, poem.len());
        assert!(!t.has_producer(), "unregistered once done");
    }

    #[test]
    fn a_paced_sender_writes_only_what_was_released() {
        let mut t = transport();
        let mut sender = PoemSender::paced(&Poem::from("0123456789"));
        sender.start(&mut t);
        assert!(t.pending().is_empty());
        assert_eq!(sender.allow(4), 4);
        sender.pump(&mut t);
        assert_eq!(t.pending(), b"0123");
        assert_eq!(sender.allow(100), 6, "capped at the end of the poem");
        assert!(sender.pump(&mut t));
        assert_eq!(t.pending(), b"0123456789");
    }

    #[test]
    fn an_empty_poem_is_done_at_once_without_a_producer() {
        let mut t = transport();
        let mut sender = PoemSender::whole(&Poem::default());
        sender.start(&mut t);
        assert!(sender.is_done());
        assert!(!t.has_producer());
    }
}
