//! The poetry client protocol: read until the server closes, then hand over the poem
//! together with *how* the connection closed.
//!
//! The poetry protocol has no framing: the close is the only end marker. Every client of
//! the series delivers whatever it has on `connectionLost` and ignores the reason, so a
//! reset mid-poem passes for a whole (shorter) poem. weft keeps the reason with the poem
//! ([`Received`]), and a [`TruncationPolicy`] decides: reject the truncated poem (the
//! default), or accept it as the originals do.

use std::time::Duration;

use crate::host::{ConnectError, HostPort};
use crate::protocol::{Context, NoTimer, Protocol};
use crate::time::format_timedelta;
use crate::transport::Disconnect;

use super::poems::Poem;

/// What a finished download holds: the bytes, and how the connection ended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Received {
    /// Every byte the server sent.
    pub poem: Poem,
    /// How the connection ended: only [`Disconnect::Clean`] means the poem is whole.
    pub reason: Disconnect,
}

impl Received {
    /// Whether the server closed cleanly, the protocol's only sign of a whole poem.
    pub fn is_complete(&self) -> bool {
        self.reason.is_clean()
    }
}

/// What to make of a poem whose connection did not close cleanly.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum TruncationPolicy {
    /// A poem cut short by a reset (or any unclean end) is a failure.
    #[default]
    Reject,
    /// Whatever arrived is the poem, however the connection ended: the behaviour of
    /// every client of the series (`connectionLost` delivers `self.poem`).
    Accept,
}

impl TruncationPolicy {
    /// The poem, or why it is not one.
    pub fn judge(self, received: Received) -> Result<Poem, Failure> {
        if received.is_complete() || self == Self::Accept {
            Ok(received.poem)
        } else {
            Err(Failure::Truncated {
                bytes: received.poem.len(),
                reason: received.reason,
            })
        }
    }
}

/// Why a download produced no poem.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Failure {
    /// The connect failed (refused, unreachable, timed out).
    #[error("{0}")]
    Connect(ConnectError),
    /// The download took longer than its timeout; the connection was closed.
    #[error("timed out after {}", format_timedelta(*.0))]
    TimedOut(Duration),
    /// The server sent more than the largest poem allowed; the download was aborted.
    #[error("poem larger than {max} bytes (max-poem-bytes); download aborted")]
    TooLarge {
        /// The limit it passed.
        max: usize,
    },
    /// The connection ended uncleanly, so the poem is incomplete.
    #[error("poem truncated after {bytes} bytes: {reason}")]
    Truncated {
        /// Bytes that did arrive.
        bytes: usize,
        /// How the connection ended.
        reason: Disconnect,
    },
    /// Clients 5.0 and 5.1's `cummingsify` judged the poem gibberish (their
    /// `GibberishError`), which they report as a failed download.
    #[error("the poem is gibberish (GibberishError from cummingsify)")]
    Gibberish,
}

/// A failed download and the server it was from (Part 8 exercise 2: say which server
/// failed).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{server}: {failure}")]
pub struct DownloadError {
    /// The server, as it was given.
    pub server: HostPort,
    /// What went wrong.
    pub failure: Failure,
}

/// Reads a poem: accumulates every chunk, and on `connection_lost` holds a [`Received`]
/// until its owner takes it. Sends nothing. It never fires twice: the result can be
/// taken once.
#[derive(Clone, Debug, Default)]
pub struct PoetryClient {
    poem: Vec<u8>,
    chunks: u64,
    result: Option<Received>,
    finished: bool,
    max_bytes: Option<usize>,
    over_limit: bool,
}

impl PoetryClient {
    /// A client with nothing received.
    pub fn new() -> Self {
        Self::default()
    }

    /// A client that aborts the download once more than `max` bytes have arrived
    /// (see [`over_limit`](Self::over_limit)).
    pub fn with_max_bytes(max: usize) -> Self {
        Self {
            max_bytes: Some(max),
            ..Self::default()
        }
    }

    /// The limit the poem passed, if it did: the download was aborted and what it
    /// delivers is no poem.
    pub fn over_limit(&self) -> Option<usize> {
        self.max_bytes.filter(|_| self.over_limit)
    }

    /// The outcome once the connection has ended: the poem, judged by `policy`, or
    /// [`Failure::TooLarge`] if it passed the limit. `None` before the end, or after
    /// the outcome was taken.
    pub fn take_outcome(&mut self, policy: TruncationPolicy) -> Option<Result<Poem, Failure>> {
        let received = self.take_received()?;
        Some(match self.over_limit() {
            Some(max) => Err(Failure::TooLarge { max }),
            None => policy.judge(received),
        })
    }

    /// Bytes received so far.
    pub fn bytes(&self) -> usize {
        self.poem.len()
    }

    /// Reads delivered so far (their sizes depend on the network, not the server).
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Whether the connection has ended.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The download's result, once: `Some` the first time after the connection ended,
    /// `None` before and after.
    pub fn take_received(&mut self) -> Option<Received> {
        self.result.take()
    }
}

impl Protocol for PoetryClient {
    type Timer = NoTimer;

    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        if self.over_limit {
            return;
        }
        if let Some(max) = self.max_bytes
            && self.poem.len() + data.len() > max
        {
            // A server that sends forever must not grow us forever.
            tracing::warn!(
                "poem from {} is larger than {max} bytes; aborting",
                cx.peer()
            );
            self.over_limit = true;
            self.poem = Vec::new();
            cx.abort_connection();
            return;
        }
        self.poem.extend_from_slice(data);
        self.chunks += 1;
    }

    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, reason: Disconnect) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        self.result = Some(Received {
            poem: Poem::new(std::mem::take(&mut self.poem)),
            reason,
        });
    }
}

/// Turns the timer of a protocol that has none into any program's timer type.
pub(crate) fn no_timer<T>(never: NoTimer) -> T {
    match never {}
}
