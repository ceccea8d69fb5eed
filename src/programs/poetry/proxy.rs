//! The caching poetry proxy (proxies 1.0 to 3.0 of Parts 14 and 19, with the Part 14
//! exercises): it listens, and serves every client the poem of one upstream server.
//!
//! - A cached poem is served at once (`Using cached poem.`) until it expires, after
//!   [`DEFAULT_EXPIRY`] (exercise 2: two hours) unless configured otherwise.
//! - On a miss, one upstream fetch starts (`Fetching poem from server.`) and every client
//!   that arrives while it is in flight joins its list of waiters (exercise 3: one
//!   request in flight, not one per client). When the poem lands it is cached and every
//!   waiter gets it, in arrival order.
//! - A failed fetch (refused, or an upstream that ended in a reset, whose poem is
//!   therefore truncated) is not cached: every waiter gets an empty close, and the next
//!   client starts a new fetch.
//! - A waiter that leaves is dropped from the list; when the last one leaves, the fetch
//!   is cancelled (`Canceling poem download.`): the upstream connection is aborted, or
//!   the pending connect withdrawn (proxy 3.0's canceller, Part 19).
//!
//! The Deferreds of the original become states: the cache, at most one fetch with
//! its waiters, and the set of abandoned upstream connections whose late events are
//! ignored, so a cancelled fetch can never also deliver.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::{CallId, Clock};
use crate::host::{
    ConnId, ConnectError, DEFAULT_CONNECT_TIMEOUT, HostContext, HostPort, ListenerId, Program,
};
use crate::protocol::Protocol;
use crate::time::Instant;
use crate::transport::Disconnect;

use super::client::{PoetryClient, TruncationPolicy, no_timer};
use super::poems::{DEFAULT_MAX_POEM_BYTES, Poem};
use super::sender::PoemSender;
use crate::programs::limits::ServerLimits;

/// How long a cached poem is served (Part 14 exercise 2).
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(2 * 60 * 60);

/// How long an upstream fetch may send nothing before it is given up: 30 s.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// The proxy's timers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum ProxyTimer {
    /// The upstream fetch has sent nothing for the upstream timeout.
    Upstream,
    /// Time to check that a client is taking its poem.
    ClientIdle(ConnId),
}

/// The proxy's options.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Where to listen for clients.
    pub listen: HostPort,
    /// The poetry server to fetch from.
    pub upstream: HostPort,
    /// How long a cached poem stays fresh; `None`: forever (proxies 1.0 to 3.0).
    pub expiry: Option<Duration>,
    /// Connect timeout for the upstream.
    pub connect_timeout: Duration,
    /// Give up on an upstream fetch that sends nothing for this long (every waiter
    /// is closed, nothing is cached); `None`: wait forever.
    /// [`DEFAULT_UPSTREAM_TIMEOUT`] by default.
    pub upstream_timeout: Option<Duration>,
    /// The largest poem fetched; an upstream that sends more fails the fetch.
    /// [`DEFAULT_MAX_POEM_BYTES`] by default.
    pub max_poem_bytes: usize,
    /// Limits on the proxy's clients: an idle timeout (a client that takes nothing of
    /// its poem) and a connection limit.
    pub limits: ServerLimits,
}

impl ProxyOptions {
    /// Proxies `upstream` on `listen`, with a two-hour cache.
    pub fn new(listen: HostPort, upstream: HostPort) -> Self {
        Self {
            listen,
            upstream,
            expiry: Some(DEFAULT_EXPIRY),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            upstream_timeout: Some(DEFAULT_UPSTREAM_TIMEOUT),
            max_poem_bytes: DEFAULT_MAX_POEM_BYTES,
            limits: ServerLimits::default(),
        }
    }

    /// Sets the upstream fetch's idle timeout (`None`: never).
    pub fn upstream_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// Sets the largest poem fetched.
    pub fn max_poem_bytes(mut self, max: usize) -> Self {
        self.max_poem_bytes = max;
        self
    }

    /// Sets the limits on clients.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the cache expiry (`None`: never).
    pub fn expiry(mut self, expiry: Option<Duration>) -> Self {
        self.expiry = expiry;
        self
    }
}

#[derive(Clone, Debug)]
struct Cached {
    poem: Poem,
    stored_at: Instant,
}

/// The one upstream fetch in flight.
#[derive(Debug)]
struct Fetch {
    conn: ConnId,
    /// `None` while connecting.
    client: Option<PoetryClient>,
    /// Clients waiting for the poem, in arrival order.
    waiters: Vec<ConnId>,
    /// The upstream timeout, while it runs.
    timer: Option<CallId>,
}

/// Counters for tests and reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ProxyStats {
    /// Upstream fetches started.
    pub fetches: u64,
    /// Clients served from the cache.
    pub cache_hits: u64,
    /// Fetches cancelled because every waiter left.
    pub cancelled: u64,
    /// Fetches that failed (nothing cached).
    pub failed: u64,
    /// Clients sent a poem (from the cache or a fetch).
    pub served: u64,
    /// Clients sent an empty close because the fetch failed.
    pub emptied: u64,
}

/// The caching poetry proxy. See the module docs.
#[derive(Debug)]
pub struct PoetryProxy {
    options: ProxyOptions,
    cache: Option<Cached>,
    fetch: Option<Fetch>,
    /// Upstream connections given up on: their events are ignored.
    abandoned: BTreeSet<ConnId>,
    /// Clients being sent a poem too large to write at once.
    sending: BTreeMap<ConnId, PoemSender>,
    /// Clients connected, with their idle check and the bytes sent at the last one.
    clients: BTreeMap<ConnId, (Option<CallId>, u64)>,
    stats: ProxyStats,
}

impl PoetryProxy {
    /// A proxy with `options`.
    pub fn new(options: ProxyOptions) -> Self {
        Self {
            options,
            cache: None,
            fetch: None,
            abandoned: BTreeSet::new(),
            sending: BTreeMap::new(),
            clients: BTreeMap::new(),
            stats: ProxyStats::default(),
        }
    }

    /// What happened so far.
    pub fn stats(&self) -> ProxyStats {
        self.stats
    }

    /// The cached poem, if any (fresh or not).
    pub fn cached(&self) -> Option<&Poem> {
        self.cache.as_ref().map(|c| &c.poem)
    }

    /// The upstream connection of the fetch in flight.
    pub fn upstream_conn(&self) -> Option<ConnId> {
        self.fetch.as_ref().map(|f| f.conn)
    }

    /// The clients waiting for the fetch in flight.
    pub fn waiters(&self) -> &[ConnId] {
        self.fetch.as_ref().map_or(&[], |f| f.waiters.as_slice())
    }

    fn is_upstream(&self, conn: ConnId) -> bool {
        self.fetch.as_ref().is_some_and(|f| f.conn == conn)
    }

    /// The cached poem if it is still fresh; an expired one is dropped.
    fn fresh_poem(&mut self, now: Instant) -> Option<Poem> {
        let cached = self.cache.as_ref()?;
        let fresh = self
            .options
            .expiry
            .is_none_or(|expiry| now - cached.stored_at < expiry);
        if fresh {
            Some(cached.poem.clone())
        } else {
            tracing::info!("Cached poem expired.");
            self.cache = None;
            None
        }
    }

    fn client_arrived(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        if let Some(poem) = self.fresh_poem(cx.now()) {
            tracing::info!("Using cached poem.");
            self.stats.cache_hits += 1;
            self.stats.served += 1;
            self.send(cx, conn, &poem);
            return;
        }
        if let Some(fetch) = &mut self.fetch {
            fetch.waiters.push(conn);
            return;
        }
        tracing::info!("Fetching poem from server.");
        self.stats.fetches += 1;
        let upstream = cx.connect(self.options.upstream.clone(), self.options.connect_timeout);
        self.fetch = Some(Fetch {
            conn: upstream,
            client: None,
            waiters: vec![conn],
            timer: None,
        });
    }

    fn client_left(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        let Some(fetch) = &mut self.fetch else { return };
        fetch.waiters.retain(|&w| w != conn);
        if fetch.waiters.is_empty() {
            tracing::info!("Canceling poem download.");
            self.stats.cancelled += 1;
            let upstream = fetch.conn;
            if let Some(call) = fetch.timer.take() {
                let _ = cx.cancel(call);
            }
            self.fetch = None;
            // A pending connect is withdrawn with no callback; a connection still owes
            // its `connection_lost`, to be ignored.
            if !cx.is_connecting(upstream) {
                self.abandoned.insert(upstream);
            }
            cx.abort_connection(upstream);
        }
    }

    /// The fetch ended: serve (and cache) the poem, or close every waiter empty.
    fn fetch_done(&mut self, cx: &mut HostContext<'_, ProxyTimer>, poem: Option<Poem>) {
        let Some(mut fetch) = self.fetch.take() else {
            return;
        };
        if let Some(call) = fetch.timer.take() {
            let _ = cx.cancel(call);
        }
        match poem {
            Some(poem) => {
                self.cache = Some(Cached {
                    poem: poem.clone(),
                    stored_at: cx.now(),
                });
                for waiter in fetch.waiters {
                    self.stats.served += 1;
                    self.send(cx, waiter, &poem);
                }
            }
            None => {
                self.stats.failed += 1;
                for waiter in fetch.waiters {
                    self.stats.emptied += 1;
                    cx.lose_connection(waiter);
                }
            }
        }
    }

    /// Starts sending `poem` to a client: the cached bytes are shared, and written a
    /// piece at a time as the client's connection drains.
    fn send(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId, poem: &Poem) {
        let mut sender = PoemSender::whole(poem);
        let done = cx
            .transport(conn)
            .is_none_or(|transport| sender.start(transport));
        if done {
            cx.lose_connection(conn);
        } else {
            self.sending.insert(conn, sender);
        }
    }

    /// The upstream sent something (or just connected): its timeout starts afresh.
    fn upstream_progress(&mut self, cx: &mut HostContext<'_, ProxyTimer>) {
        let (Some(fetch), Some(timeout)) = (&mut self.fetch, self.options.upstream_timeout) else {
            return;
        };
        match fetch.timer {
            Some(call) => {
                let _ = cx.reset(call, timeout);
            }
            None => fetch.timer = Some(cx.call_later(timeout, ProxyTimer::Upstream)),
        }
    }

    /// The upstream sent nothing for the upstream timeout: give the fetch up.
    fn upstream_timed_out(&mut self, cx: &mut HostContext<'_, ProxyTimer>) {
        let Some(fetch) = &mut self.fetch else { return };
        fetch.timer = None;
        let upstream = fetch.conn;
        let timeout = self.options.upstream_timeout.unwrap_or_default();
        tracing::warn!(
            "upstream sent nothing for {timeout:?} (upstream-timeout); closing {} waiting clients",
            fetch.waiters.len()
        );
        if !cx.is_connecting(upstream) {
            self.abandoned.insert(upstream);
        }
        cx.abort_connection(upstream);
        self.fetch_done(cx, None);
    }

    /// A client arrived: within the connection limit it is admitted, and its idle
    /// check starts. Returns false if it was closed at once.
    fn admit(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) -> bool {
        if let Some(max) = self.options.limits.max_connections
            && self.clients.len() >= max
        {
            let peer = cx.peer(conn).map(|p| p.to_string()).unwrap_or_default();
            tracing::warn!(
                "closing connection from {peer}: {max} connections already open (max-connections)"
            );
            cx.abort_connection(conn);
            return false;
        }
        let check = self
            .options
            .limits
            .idle_timeout
            .map(|timeout| cx.call_later(timeout, ProxyTimer::ClientIdle(conn)));
        self.clients.insert(conn, (check, 0));
        true
    }

    /// A client's idle check: one waiting for the fetch is the fetch's business (it has
    /// its own timeout); one being sent its poem must have taken some of it since.
    fn client_idle_check(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        let Some(timeout) = self.options.limits.idle_timeout else {
            return;
        };
        let waiting = self.waiters().contains(&conn);
        let sent = cx.transport(conn).map_or(0, |t| t.bytes_sent());
        let Some((check, seen)) = self.clients.get_mut(&conn) else {
            return;
        };
        if waiting || sent != *seen {
            *seen = sent;
            *check = Some(cx.call_later(timeout, ProxyTimer::ClientIdle(conn)));
            return;
        }
        *check = None;
        let peer = cx.peer(conn).map(|p| p.to_string()).unwrap_or_default();
        tracing::warn!(
            "closing idle connection from {peer}: no progress for {timeout:?} (idle-timeout)"
        );
        cx.abort_connection(conn);
    }

    fn upstream_client(&mut self) -> Option<&mut PoetryClient> {
        self.fetch.as_mut()?.client.as_mut()
    }
}

impl Program for PoetryProxy {
    type Timer = ProxyTimer;

    fn start(&mut self, cx: &mut HostContext<'_, ProxyTimer>) {
        cx.listen(self.options.listen.clone());
    }

    fn listening(
        &mut self,
        cx: &mut HostContext<'_, ProxyTimer>,
        _listener: ListenerId,
        addr: SocketAddr,
    ) {
        if is_own_address(&self.options.upstream, addr) {
            cx.eprint(format!(
                "error: the upstream {} is this proxy's own address {addr}; it would wait on itself",
                self.options.upstream
            ));
            cx.exit(1);
            return;
        }
        cx.print(format!("Proxying {} on {addr}.", self.options.upstream));
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        if self.abandoned.contains(&conn) {
            cx.abort_connection(conn);
            return;
        }
        let max = self.options.max_poem_bytes;
        if let Some(fetch) = self.fetch.as_mut().filter(|f| f.conn == conn) {
            let client = fetch.client.insert(PoetryClient::with_max_bytes(max));
            cx.with_protocol(conn, no_timer, |pcx| client.connection_made(pcx));
            self.upstream_progress(cx);
            return;
        }
        if self.admit(cx, conn) {
            self.client_arrived(cx, conn);
        }
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId, data: &[u8]) {
        // Clients send nothing in this protocol; what they do send is ignored.
        if self.is_upstream(conn)
            && let Some(client) = self.upstream_client()
        {
            cx.with_protocol(conn, no_timer, |pcx| client.data_received(pcx, data));
            self.upstream_progress(cx);
        }
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, ProxyTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        if self.abandoned.remove(&conn) {
            return;
        }
        if !self.is_upstream(conn) {
            self.sending.remove(&conn);
            let Some((check, _)) = self.clients.remove(&conn) else {
                // Closed at once by the connection limit: it never was a client.
                return;
            };
            if let Some(call) = check {
                let _ = cx.cancel(call);
            }
            self.client_left(cx, conn);
            return;
        }
        let outcome = self.upstream_client().and_then(|client| {
            cx.with_protocol(conn, no_timer, |pcx| {
                client.connection_lost(pcx, reason);
                client.take_outcome(TruncationPolicy::Reject)
            })
            .flatten()
        });
        // Only a clean close after some bytes, within the size limit, is a poem worth
        // caching: a truncated, oversized or empty one is not.
        let poem = match outcome {
            Some(Ok(poem)) if poem.is_empty() => {
                tracing::warn!("upstream sent an empty poem; not cached");
                None
            }
            Some(Ok(poem)) => Some(poem),
            Some(Err(failure)) => {
                tracing::warn!(%failure, "upstream poem incomplete; not cached");
                None
            }
            None => {
                tracing::warn!(%reason, "upstream closed before connecting; not cached");
                None
            }
        };
        self.fetch_done(cx, poem);
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, ProxyTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        if self.abandoned.remove(&conn) || !self.is_upstream(conn) {
            return;
        }
        tracing::warn!(%error, "upstream connect failed");
        self.fetch_done(cx, None);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, ProxyTimer>, timer: ProxyTimer) {
        match timer {
            ProxyTimer::Upstream => self.upstream_timed_out(cx),
            ProxyTimer::ClientIdle(conn) => self.client_idle_check(cx, conn),
        }
    }

    fn pause_producing(&mut self, _cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        if let Some(sender) = self.sending.get_mut(&conn) {
            sender.pause();
        }
    }

    fn resume_producing(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        let Some(sender) = self.sending.get_mut(&conn) else {
            return;
        };
        let done = cx
            .transport(conn)
            .is_none_or(|transport| sender.resume(transport));
        if done {
            self.sending.remove(&conn);
            cx.lose_connection(conn);
        }
    }

    fn stop_producing(&mut self, _cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        self.sending.remove(&conn);
    }
}

/// Whether `upstream` names the address the proxy listens on (`listening`; an
/// unspecified address listens on every interface, loopback included).
fn is_own_address(upstream: &HostPort, listening: SocketAddr) -> bool {
    if upstream.port != listening.port() {
        return false;
    }
    let ip = match upstream.host.as_str() {
        "localhost" => return listening.ip().is_loopback() || listening.ip().is_unspecified(),
        host => match host.parse::<std::net::IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return false,
        },
    };
    ip == listening.ip()
        || listening.ip().is_unspecified() && (ip.is_loopback() || ip.is_unspecified())
}
