//! Ping-pong ("Expert Twisted", chapter 1): both sides write `*` when the connection is
//! made; each `data_received` is answered with exactly one `*`, however many bytes it
//! carried; a side closes (and writes nothing more) once the total it has received
//! reaches its maximum.

use crate::programs::STDOUT_TARGET;
use std::net::SocketAddr;

use crate::protocol::{Context, Factory, NoTimer, Protocol};
use crate::transport::Disconnect;

/// Builds ping-pong protocols and holds what they share: which side this is and when to
/// stop (the book keeps both on the factory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingPongFactory {
    /// `"Client"` or `"Server"`, for log lines.
    pub identity: &'static str,
    /// Close once this many bytes have been received; `None` never closes.
    pub maximum: Option<u64>,
}

impl PingPongFactory {
    /// The accepting side.
    pub fn server(maximum: Option<u64>) -> Self {
        Self {
            identity: "Server",
            maximum,
        }
    }

    /// The connecting side.
    pub fn client(maximum: Option<u64>) -> Self {
        Self {
            identity: "Client",
            maximum,
        }
    }
}

impl Factory for PingPongFactory {
    type Protocol = PingPong;

    fn build_protocol(&mut self, _peer: SocketAddr) -> PingPong {
        PingPong {
            identity: self.identity,
            maximum: self.maximum,
            received: 0,
            written: 0,
        }
    }
}

/// One side of a ping-pong connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingPong {
    identity: &'static str,
    maximum: Option<u64>,
    received: u64,
    written: u64,
}

impl PingPong {
    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn write_byte(&mut self, cx: &mut Context<'_, NoTimer>) {
        cx.write(b"*");
        self.written += 1;
    }
}

// The two log lines of `data_received` live out of line: they are rare (once per
// connection, or only with trace on), and keeping them apart leaves the callback small
// enough to be inlined into a driver's loop, where its write becomes a direct call and
// its context never needs to be built in memory.

#[cold]
#[inline(never)]
fn log_closing(identity: &'static str) {
    tracing::info!("{} is closing the connection", identity);
}

/// The original's `wrote a byte` line; the caller checks the level first, so with
/// trace off a callback pays one comparison.
#[cold]
#[inline(never)]
fn trace_wrote_a_byte(identity: &'static str) {
    tracing::trace!(target: STDOUT_TARGET, "{} wrote a byte", identity);
}

impl Protocol for PingPong {
    type Timer = NoTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, NoTimer>) {
        self.write_byte(cx);
    }

    #[inline]
    fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
        self.received += data.len() as u64;
        if self.maximum.is_some_and(|max| self.received >= max) {
            log_closing(self.identity);
            cx.lose_connection();
        } else {
            self.write_byte(cx);
            // The global level filter is a necessary condition for the event (the
            // macro's first check too); the macro then decides as it always has.
            if tracing::Level::TRACE <= tracing::level_filters::LevelFilter::current() {
                trace_wrote_a_byte(self.identity);
            }
        }
    }

    fn connection_lost(&mut self, _cx: &mut Context<'_, NoTimer>, reason: Disconnect) {
        tracing::info!("{} lost the connection: {reason}", self.identity);
    }
}
