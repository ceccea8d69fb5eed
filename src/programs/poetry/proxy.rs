//! The caching poetry proxy (proxies 1.0 to 3.0 of Parts 14 and 19, with the Part 14
//! exercises): it listens, and serves every client the poem of one upstream server.
//!
//! weft's proxy ([`ProxyOptions::new`], the program `proxy`):
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
//!   is cancelled (`Canceling poem download.`): the upstream connection is closed
//!   cleanly, as `connector.disconnect()` closes it, or the pending connect withdrawn
//!   (proxy 3.0's canceller, Part 19). Bytes the upstream sends after that close are
//!   discarded unread.
//!
//! The text's proxy 1.0 ([`ProxyOptions::version_1_0`], the program `proxy-1.0`) makes
//! other choices ([`FetchSharing`], [`CachePolicy`], [`ProxyLines`] and
//! [`ProxyOptions::cancel_abandoned`]): every client that misses starts its own fetch,
//! a fetch runs on when its client leaves, and whatever a fetch got is cached, a poem
//! cut short included (each finished fetch replaces the cache, as `set_poem` does).
//! Proxy 3.0 ([`ProxyOptions::version_3_0`], `proxy-3.0`) is 1.0 with cancellation: a
//! client that leaves before its poem cancels its own fetch. (Proxy 2.0 is 1.0 as seen
//! from outside.)
//!
//! The Deferreds of the original become states: the cache, the fetches in flight with
//! their waiters, and the set of abandoned upstream connections whose late events are
//! ignored, so a cancelled fetch can never also deliver.

mod options;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::clock::{CallId, Clock};
use crate::host::{ConnId, ConnectError, HostContext, HostPort, ListenerId, Program};
use crate::protocol::Protocol;
use crate::time::Instant;
use crate::transport::Disconnect;

use super::client::{PoetryClient, TruncationPolicy, no_timer};
use super::poems::Poem;
use super::sender::PoemSender;

pub use options::{
    CachePolicy, DEFAULT_EXPIRY, DEFAULT_UPSTREAM_TIMEOUT, FetchSharing, ProxyLines, ProxyOptions,
};

const FETCHING: &str = "Fetching poem from server.";
const CACHED: &str = "Using cached poem.";
const CANCELING: &str = "Canceling poem download.";

/// The proxy's timers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum ProxyTimer {
    /// The fetch on this upstream connection has sent nothing for the upstream timeout.
    Upstream(ConnId),
    /// Time to check that a client is taking its poem.
    ClientIdle(ConnId),
}

#[derive(Clone, Debug)]
struct Cached {
    poem: Poem,
    stored_at: Instant,
}

/// An upstream fetch in flight.
#[derive(Debug)]
struct Fetch {
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
    /// The fetches in flight by upstream connection, oldest first (ids only grow).
    fetches: BTreeMap<ConnId, Fetch>,
    /// Each waiting client's fetch.
    waiting_on: BTreeMap<ConnId, ConnId>,
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
            fetches: BTreeMap::new(),
            waiting_on: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            sending: BTreeMap::new(),
            clients: BTreeMap::new(),
            stats: ProxyStats::default(),
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &ProxyOptions {
        &self.options
    }

    /// What happened so far.
    pub fn stats(&self) -> ProxyStats {
        self.stats
    }

    /// The cached poem, if any (fresh or not).
    pub fn cached(&self) -> Option<&Poem> {
        self.cache.as_ref().map(|c| &c.poem)
    }

    /// The upstream connection of the oldest fetch in flight.
    pub fn upstream_conn(&self) -> Option<ConnId> {
        self.fetches.keys().next().copied()
    }

    /// The upstream connections of every fetch in flight, oldest first.
    pub fn upstream_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.fetches.keys().copied()
    }

    /// The clients waiting for the oldest fetch in flight.
    pub fn waiters(&self) -> &[ConnId] {
        self.fetches
            .values()
            .next()
            .map_or(&[], |f| f.waiters.as_slice())
    }

    /// One of the text's lines: logged, or printed as the text prints it.
    fn say(&self, cx: &mut HostContext<'_, ProxyTimer>, line: &'static str) {
        match self.options.lines {
            ProxyLines::Logged => tracing::info!("{line}"),
            ProxyLines::Printed => cx.print(line),
        }
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
            self.say(cx, CACHED);
            self.stats.cache_hits += 1;
            self.stats.served += 1;
            self.send(cx, conn, &poem);
            return;
        }
        if self.options.fetches == FetchSharing::OneInFlight
            && let Some((&upstream, fetch)) = self.fetches.iter_mut().next()
        {
            fetch.waiters.push(conn);
            self.waiting_on.insert(conn, upstream);
            return;
        }
        self.say(cx, FETCHING);
        self.stats.fetches += 1;
        let upstream = cx.connect(self.options.upstream.clone(), self.options.connect_timeout);
        let fetch = Fetch {
            client: None,
            waiters: vec![conn],
            timer: None,
        };
        self.fetches.insert(upstream, fetch);
        self.waiting_on.insert(conn, upstream);
    }

    fn client_left(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        let Some(upstream) = self.waiting_on.remove(&conn) else {
            return;
        };
        let Some(fetch) = self.fetches.get_mut(&upstream) else {
            return;
        };
        fetch.waiters.retain(|&w| w != conn);
        if !fetch.waiters.is_empty() || !self.options.cancel_abandoned {
            return;
        }
        if let Some(call) = fetch.timer.take() {
            let _ = cx.cancel(call);
        }
        self.fetches.remove(&upstream);
        self.say(cx, CANCELING);
        self.stats.cancelled += 1;
        self.disconnect(cx, upstream);
    }

    /// Gives up on an upstream connection as `connector.disconnect()` does: a pending
    /// connect is withdrawn (no callback follows); a connection is closed cleanly and
    /// still owes its `connection_lost`, to be ignored. What the upstream sends after
    /// the close is discarded unread.
    fn disconnect(&mut self, cx: &mut HostContext<'_, ProxyTimer>, upstream: ConnId) {
        if cx.is_connecting(upstream) {
            cx.abort_connection(upstream);
        } else {
            self.abandoned.insert(upstream);
            cx.lose_connection(upstream);
        }
    }

    /// The fetch on `upstream` ended: serve (and cache) the poem, or close every
    /// waiter empty.
    fn fetch_done(
        &mut self,
        cx: &mut HostContext<'_, ProxyTimer>,
        upstream: ConnId,
        poem: Option<Poem>,
    ) {
        let Some(mut fetch) = self.fetches.remove(&upstream) else {
            return;
        };
        if let Some(call) = fetch.timer.take() {
            let _ = cx.cancel(call);
        }
        for waiter in &fetch.waiters {
            self.waiting_on.remove(waiter);
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
    fn upstream_progress(&mut self, cx: &mut HostContext<'_, ProxyTimer>, upstream: ConnId) {
        let (Some(fetch), Some(timeout)) = (
            self.fetches.get_mut(&upstream),
            self.options.upstream_timeout,
        ) else {
            return;
        };
        match fetch.timer {
            Some(call) => {
                let _ = cx.reset(call, timeout);
            }
            None => fetch.timer = Some(cx.call_later(timeout, ProxyTimer::Upstream(upstream))),
        }
    }

    /// The upstream sent nothing for the upstream timeout: give the fetch up.
    fn upstream_timed_out(&mut self, cx: &mut HostContext<'_, ProxyTimer>, upstream: ConnId) {
        let Some(fetch) = self.fetches.get_mut(&upstream) else {
            return;
        };
        fetch.timer = None;
        let timeout = self.options.upstream_timeout.unwrap_or_default();
        tracing::warn!(
            "upstream sent nothing for {timeout:?} (upstream-timeout); closing {} waiting clients",
            fetch.waiters.len()
        );
        self.disconnect(cx, upstream);
        self.fetch_done(cx, upstream, None);
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

    /// A client's idle check: one waiting for a fetch is the fetch's business (it has
    /// its own timeout); one being sent its poem must have taken some of it since.
    fn client_idle_check(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        let Some(timeout) = self.options.limits.idle_timeout else {
            return;
        };
        let waiting = self.waiting_on.contains_key(&conn);
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

    /// What an upstream's ended fetch leaves to cache, by the cache policy; `None` (a
    /// failed fetch) with the reason logged.
    fn fetched_poem(
        &self,
        outcome: Option<Result<Poem, super::client::Failure>>,
        reason: Disconnect,
    ) -> Option<Poem> {
        let whole_only = self.options.caching == CachePolicy::WholePoems;
        match outcome {
            Some(Ok(poem)) if whole_only && poem.is_empty() => {
                tracing::warn!("upstream sent an empty poem; not cached");
                None
            }
            Some(Ok(poem)) => {
                if !reason.is_clean() {
                    tracing::warn!(
                        %reason,
                        "upstream poem cut short after {} bytes; cached as it is (proxy 1.0)",
                        poem.len()
                    );
                }
                Some(poem)
            }
            Some(Err(failure)) => {
                tracing::warn!(%failure, "upstream poem incomplete; not cached");
                None
            }
            None => {
                tracing::warn!(%reason, "upstream closed before connecting; not cached");
                None
            }
        }
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
        let upstream = &self.options.upstream;
        if is_own_address(upstream, addr) {
            cx.eprint(format!(
                "error: the upstream {upstream} is this proxy's own address {addr}; it would wait on itself"
            ));
            cx.exit(1);
            return;
        }
        match self.options.lines {
            ProxyLines::Logged => cx.print(format!("Proxying {upstream} on {addr}.")),
            // The text prints `'Proxying %s on %s.' % (server_addr, port.getHost())`.
            ProxyLines::Printed => {
                let kind = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                cx.print(format!(
                    "Proxying ('{}', {}) on {kind}Address(TCP, '{}', {}).",
                    upstream.host,
                    upstream.port,
                    addr.ip(),
                    addr.port()
                ));
            }
        }
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId) {
        if self.abandoned.contains(&conn) {
            cx.lose_connection(conn);
            return;
        }
        let max = self.options.max_poem_bytes;
        if let Some(fetch) = self.fetches.get_mut(&conn) {
            let client = fetch.client.insert(PoetryClient::with_max_bytes(max));
            cx.with_protocol(conn, no_timer, |pcx| client.connection_made(pcx));
            self.upstream_progress(cx, conn);
            return;
        }
        if self.admit(cx, conn) {
            self.client_arrived(cx, conn);
        }
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, ProxyTimer>, conn: ConnId, data: &[u8]) {
        // Clients send nothing in this protocol; what they do send is ignored.
        let Some(client) = self.fetches.get_mut(&conn).and_then(|f| f.client.as_mut()) else {
            return;
        };
        cx.with_protocol(conn, no_timer, |pcx| client.data_received(pcx, data));
        self.upstream_progress(cx, conn);
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
        let Some(fetch) = self.fetches.get_mut(&conn) else {
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
        };
        let policy = match self.options.caching {
            CachePolicy::WholePoems => TruncationPolicy::Reject,
            CachePolicy::WhateverArrived => TruncationPolicy::Accept,
        };
        let outcome = fetch.client.as_mut().and_then(|client| {
            cx.with_protocol(conn, no_timer, |pcx| {
                client.connection_lost(pcx, reason);
                client.take_outcome(policy)
            })
            .flatten()
        });
        let poem = self.fetched_poem(outcome, reason);
        self.fetch_done(cx, conn, poem);
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, ProxyTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        if self.abandoned.remove(&conn) || !self.fetches.contains_key(&conn) {
            return;
        }
        tracing::warn!(%error, "upstream connect failed");
        self.fetch_done(cx, conn, None);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, ProxyTimer>, timer: ProxyTimer) {
        match timer {
            ProxyTimer::Upstream(upstream) => self.upstream_timed_out(cx, upstream),
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
