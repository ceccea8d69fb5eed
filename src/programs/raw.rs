//! A raw client: connects, sends fixed bytes, prints what comes back. The simplest
//! bad peer — scenarios use it to send garbage, malformed frames or an early close to a
//! server and check that the server copes.

use std::time::Duration;

use crate::host::{ConnId, ConnectError, HostContext, HostPort, Program};
use crate::transport::Disconnect;

/// Options of a [`RawClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawOptions {
    /// Where to connect.
    pub to: HostPort,
    /// Bytes to send once connected.
    pub send: Vec<u8>,
    /// Half-close after sending (the peer sees end-of-stream).
    pub half_close: bool,
    /// Close (abort) this long after connecting, whatever came back.
    pub give_up_after: Option<Duration>,
}

/// The raw client's one timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RawTimer {
    /// Time to give up.
    GiveUp,
}

/// Sends its bytes, then prints `received <n> bytes: "<escaped>"` and how the
/// connection ended, and exits: 0 after a clean close, 1 otherwise.
#[derive(Debug)]
pub struct RawClient {
    options: RawOptions,
    conn: Option<ConnId>,
    received: Vec<u8>,
}

impl RawClient {
    /// A client with these options.
    pub fn new(options: RawOptions) -> Self {
        Self {
            options,
            conn: None,
            received: Vec::new(),
        }
    }

    /// What it received so far.
    pub fn received(&self) -> &[u8] {
        &self.received
    }
}

impl Program for RawClient {
    type Timer = RawTimer;

    fn start(&mut self, cx: &mut HostContext<'_, RawTimer>) {
        self.conn = Some(cx.connect(self.options.to.clone(), Duration::from_secs(30)));
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, RawTimer>, conn: ConnId) {
        cx.write(conn, &self.options.send);
        if self.options.half_close {
            cx.lose_write_connection(conn);
        }
        if let Some(after) = self.options.give_up_after {
            crate::clock::Clock::call_later(cx, after, RawTimer::GiveUp);
        }
    }

    fn data_received(&mut self, _cx: &mut HostContext<'_, RawTimer>, _conn: ConnId, data: &[u8]) {
        self.received.extend_from_slice(data);
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, RawTimer>,
        _conn: ConnId,
        reason: Disconnect,
    ) {
        cx.print(format!(
            "received {} bytes: \"{}\"",
            self.received.len(),
            self.received.escape_ascii()
        ));
        cx.print(format!("closed: {reason}"));
        cx.exit(i32::from(!reason.is_clean()));
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, RawTimer>,
        _conn: ConnId,
        error: ConnectError,
    ) {
        cx.eprint(format!("connect failed: {error}"));
        cx.exit(1);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, RawTimer>, _timer: RawTimer) {
        if let Some(conn) = self.conn {
            cx.abort_connection(conn);
        }
    }
}
