//! The heartbeat ("Expert Twisted", chapter 1): every 30 seconds, write a byte so the
//! peer does not close the connection for inactivity. The first beat is written at once.

use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::{LoopingCall, Tick};
use crate::protocol::{Context, Factory, Protocol};
use crate::transport::Disconnect;

/// The book's heartbeat interval.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// The heartbeat's one timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HeartbeatTimer {
    /// Time for the next beat.
    Beat,
}

/// Builds [`Heartbeat`] protocols.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeartbeatFactory;

impl Factory for HeartbeatFactory {
    type Protocol = Heartbeat;

    fn build_protocol(&mut self, _peer: SocketAddr) -> Heartbeat {
        Heartbeat::default()
    }
}

/// Writes `*` on connect and every [`HEARTBEAT_INTERVAL`] after, until the connection
/// is lost. Ignores what it receives.
#[derive(Debug)]
pub struct Heartbeat {
    heartbeater: LoopingCall<HeartbeatTimer>,
    beats: u64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self {
            heartbeater: LoopingCall::new(HeartbeatTimer::Beat),
            beats: 0,
        }
    }
}

impl Heartbeat {
    /// Whether the heartbeat loop is running (the book's `_heartbeater.running`).
    pub fn is_beating(&self) -> bool {
        self.heartbeater.running()
    }

    /// Beats written so far.
    pub fn beats(&self) -> u64 {
        self.beats
    }

    fn beat(&mut self, cx: &mut Context<'_, HeartbeatTimer>, tick: Tick) {
        cx.write(b"*");
        self.beats += 1;
        self.heartbeater.finish(cx.clock, tick);
    }
}

impl Protocol for Heartbeat {
    type Timer = HeartbeatTimer;

    fn connection_made(&mut self, cx: &mut Context<'_, HeartbeatTimer>) {
        if let Some(tick) = self.heartbeater.start(cx.clock, HEARTBEAT_INTERVAL, true) {
            self.beat(cx, tick);
        }
    }

    fn data_received(&mut self, _cx: &mut Context<'_, HeartbeatTimer>, _data: &[u8]) {}

    fn timer_fired(
        &mut self,
        cx: &mut Context<'_, HeartbeatTimer>,
        HeartbeatTimer::Beat: HeartbeatTimer,
    ) {
        if let Some(tick) = self.heartbeater.fired(cx.clock) {
            self.beat(cx, tick);
        }
    }

    fn connection_lost(&mut self, cx: &mut Context<'_, HeartbeatTimer>, _reason: Disconnect) {
        self.heartbeater.stop(cx.clock);
    }
}
