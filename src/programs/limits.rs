//! Limits a server puts on its peers: an idle timeout and a maximum number of open
//! connections (Twisted's `policies.TimeoutFactory` and
//! `LimitTotalConnectionsFactory`), as a factory that wraps any other.
//!
//! [`LimitedFactory`] builds [`Limited`] protocols around the inner factory's. Each
//! connection:
//! - past [`ServerLimits::max_connections`] open at once, is accepted and aborted at
//!   once, with a `warn!` event; the inner protocol never hears of it, and the listener
//!   goes on accepting (nothing waits in the backlog behind it);
//! - with [`ServerLimits::idle_timeout`] set, is aborted (and the abort logged) once a
//!   whole timeout passes in which it received nothing and sent nothing: a peer that
//!   never completes its request, or never reads the reply. Input restarts the timer
//!   at once; output is checked when it fires, so a peer that stops reading is closed
//!   between one and two timeouts after its last progress.
//!
//! ```
//! use std::time::Duration;
//! use weft::host::{FactoryProgram, HostPort};
//! use weft::programs::limits::{LimitedFactory, ServerLimits};
//! use weft::programs::poetry::{FastPoetryFactory, Poem};
//!
//! let limits = ServerLimits::default()
//!     .idle_timeout(Some(Duration::from_secs(30)))
//!     .max_connections(Some(100));
//! let factory = LimitedFactory::new(FastPoetryFactory::new(Poem::from("hi\n")), limits);
//! let server = FactoryProgram::new(factory).listen(HostPort::new("127.0.0.1", 10000));
//! # let _ = server;
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::clock::{CallId, MapClock};
use crate::protocol::{Context, Factory, Protocol};
use crate::transport::Disconnect;

/// The default idle timeout of every server: two minutes without progress.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The default most connections a server keeps open at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// A server's limits on its peers. The defaults are [`DEFAULT_IDLE_TIMEOUT`] and
/// [`DEFAULT_MAX_CONNECTIONS`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ServerLimits {
    /// Close a connection that makes no progress (no byte in, no byte out) for this
    /// long; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Close new connections at once while this many are open; `None`: no limit.
    pub max_connections: Option<usize>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_connections: Some(DEFAULT_MAX_CONNECTIONS),
        }
    }
}

impl ServerLimits {
    /// No limits at all (what the originals have).
    pub fn none() -> Self {
        Self {
            idle_timeout: None,
            max_connections: None,
        }
    }

    /// Sets the idle timeout.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets the connection limit.
    pub fn max_connections(mut self, max: Option<usize>) -> Self {
        self.max_connections = max;
        self
    }
}

/// A [`Limited`] protocol's timers: the inner protocol's, and the idle check.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LimitedTimer<T> {
    /// One of the inner protocol's timers.
    Inner(T),
    /// Time to check the connection made progress.
    Idle,
}

/// Wraps a factory so that its connections obey [`ServerLimits`]. See the module docs.
#[derive(Clone, Debug)]
pub struct LimitedFactory<F> {
    inner: F,
    limits: ServerLimits,
    /// Connections admitted and not yet lost (shared with their protocols).
    open: Arc<AtomicUsize>,
}

impl<F: Factory> LimitedFactory<F> {
    /// `inner`, with `limits`.
    pub fn new(inner: F, limits: ServerLimits) -> Self {
        Self {
            inner,
            limits,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The wrapped factory.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// Connections open now (admitted and not yet lost).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

impl<F: Factory> Factory for LimitedFactory<F> {
    type Protocol = Limited<F::Protocol>;

    fn build_protocol(&mut self, peer: SocketAddr) -> Limited<F::Protocol> {
        Limited {
            inner: self.inner.build_protocol(peer),
            limits: self.limits,
            open: Arc::clone(&self.open),
            admitted: false,
            seen_sent: 0,
            idle: None,
        }
    }
}

/// A protocol under [`ServerLimits`]; built by [`LimitedFactory`].
#[derive(Debug)]
pub struct Limited<P> {
    inner: P,
    limits: ServerLimits,
    open: Arc<AtomicUsize>,
    /// Within the connection limit: the inner protocol sees this connection.
    admitted: bool,
    /// Bytes sent at the last idle check.
    seen_sent: u64,
    idle: Option<CallId>,
}

impl<P: Protocol> Limited<P> {
    /// The wrapped protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Whether the connection was admitted (not closed by the connection limit).
    pub fn is_admitted(&self) -> bool {
        self.admitted
    }

    fn forward<R>(
        &mut self,
        cx: &mut Context<'_, LimitedTimer<P::Timer>>,
        f: impl FnOnce(&mut P, &mut Context<'_, P::Timer>) -> R,
    ) -> Option<R> {
        if !self.admitted {
            return None;
        }
        let mut clock = MapClock::new(&mut *cx.clock, LimitedTimer::Inner);
        Some(f(
            &mut self.inner,
            &mut Context::new(&mut *cx.transport, &mut clock),
        ))
    }
}

impl<P: Protocol> Protocol for Limited<P> {
    type Timer = LimitedTimer<P::Timer>;

    fn connection_made(&mut self, cx: &mut Context<'_, Self::Timer>) {
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(max) = self.limits.max_connections
            && open > max
        {
            self.open.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(
                "closing connection from {}: {max} connections already open (max-connections)",
                cx.peer()
            );
            cx.abort_connection();
            return;
        }
        self.admitted = true;
        if let Some(timeout) = self.limits.idle_timeout {
            self.idle = Some(cx.call_later(timeout, LimitedTimer::Idle));
        }
        self.forward(cx, |p, pcx| p.connection_made(pcx));
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self::Timer>, data: &[u8]) {
        if let (Some(call), Some(timeout)) = (self.idle, self.limits.idle_timeout) {
            let _ = cx.clock.reset(call, timeout);
        }
        self.forward(cx, |p, pcx| p.data_received(pcx, data));
    }

    fn read_connection_lost(&mut self, cx: &mut Context<'_, Self::Timer>) {
        self.forward(cx, |p, pcx| p.read_connection_lost(pcx));
    }

    fn connection_lost(&mut self, cx: &mut Context<'_, Self::Timer>, reason: Disconnect) {
        if !self.admitted {
            return;
        }
        self.open.fetch_sub(1, Ordering::Relaxed);
        if let Some(call) = self.idle.take() {
            let _ = cx.cancel(call);
        }
        self.forward(cx, |p, pcx| p.connection_lost(pcx, reason));
        self.admitted = false;
    }

    fn timer_fired(&mut self, cx: &mut Context<'_, Self::Timer>, timer: Self::Timer) {
        match timer {
            LimitedTimer::Inner(timer) => {
                self.forward(cx, |p, pcx| p.timer_fired(pcx, timer));
            }
            LimitedTimer::Idle => {
                self.idle = None;
                let Some(timeout) = self.limits.idle_timeout else {
                    return;
                };
                // Input restarts this timer, so only output can have moved since.
                let sent = cx.transport.bytes_sent();
                if sent != self.seen_sent {
                    self.seen_sent = sent;
                    self.idle = Some(cx.call_later(timeout, LimitedTimer::Idle));
                    return;
                }
                tracing::warn!(
                    "closing idle connection from {}: no progress for {timeout:?} (idle-timeout)",
                    cx.peer()
                );
                cx.abort_connection();
            }
        }
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self::Timer>) {
        self.forward(cx, |p, pcx| p.pause_producing(pcx));
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self::Timer>) {
        self.forward(cx, |p, pcx| p.resume_producing(pcx));
    }

    fn stop_producing(&mut self, cx: &mut Context<'_, Self::Timer>) {
        self.forward(cx, |p, pcx| p.stop_producing(pcx));
    }
}
