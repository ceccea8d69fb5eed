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

use crate::clock::Clock;
use crate::host::{
    ConnId, ConnectError, DEFAULT_CONNECT_TIMEOUT, HostContext, HostPort, ListenerId, Program,
};
use crate::protocol::{NoTimer, Protocol};
use crate::time::Instant;
use crate::transport::Disconnect;

use super::client::{PoetryClient, TruncationPolicy, no_timer};
use super::poems::Poem;
use super::sender::PoemSender;

/// How long a cached poem is served (Part 14 exercise 2).
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(2 * 60 * 60);

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
}

impl ProxyOptions {
    /// Proxies `upstream` on `listen`, with a two-hour cache.
    pub fn new(listen: HostPort, upstream: HostPort) -> Self {
        Self {
            listen,
            upstream,
            expiry: Some(DEFAULT_EXPIRY),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
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

    fn client_arrived(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
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
        });
    }

    fn client_left(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
        let Some(fetch) = &mut self.fetch else { return };
        fetch.waiters.retain(|&w| w != conn);
        if fetch.waiters.is_empty() {
            tracing::info!("Canceling poem download.");
            self.stats.cancelled += 1;
            let upstream = fetch.conn;
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
    fn fetch_done(&mut self, cx: &mut HostContext<'_, NoTimer>, poem: Option<Poem>) {
        let Some(fetch) = self.fetch.take() else {
            return;
        };
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
    fn send(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId, poem: &Poem) {
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

    fn upstream_client(&mut self) -> Option<&mut PoetryClient> {
        self.fetch.as_mut()?.client.as_mut()
    }
}

impl Program for PoetryProxy {
    type Timer = NoTimer;

    fn start(&mut self, cx: &mut HostContext<'_, NoTimer>) {
        cx.listen(self.options.listen.clone());
    }

    fn listening(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        _listener: ListenerId,
        addr: SocketAddr,
    ) {
        cx.print(format!("Proxying {} on {addr}.", self.options.upstream));
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
        if self.abandoned.contains(&conn) {
            cx.abort_connection(conn);
            return;
        }
        if let Some(fetch) = self.fetch.as_mut().filter(|f| f.conn == conn) {
            let client = fetch.client.insert(PoetryClient::new());
            cx.with_protocol(conn, no_timer, |pcx| client.connection_made(pcx));
            return;
        }
        self.client_arrived(cx, conn);
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId, data: &[u8]) {
        // Clients send nothing in this protocol; what they do send is ignored.
        if self.is_upstream(conn)
            && let Some(client) = self.upstream_client()
        {
            cx.with_protocol(conn, no_timer, |pcx| client.data_received(pcx, data));
        }
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        if self.abandoned.remove(&conn) {
            return;
        }
        if !self.is_upstream(conn) {
            self.sending.remove(&conn);
            self.client_left(cx, conn);
            return;
        }
        let received = self.upstream_client().and_then(|client| {
            cx.with_protocol(conn, no_timer, |pcx| {
                client.connection_lost(pcx, reason);
                client.take_received()
            })
            .flatten()
        });
        // Only a clean close is a whole poem: a truncated one is not cached.
        let poem = received.and_then(|r| TruncationPolicy::Reject.judge(r).ok());
        if poem.is_none() {
            tracing::warn!(%reason, "upstream poem incomplete; not cached");
        }
        self.fetch_done(cx, poem);
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        if self.abandoned.remove(&conn) || !self.is_upstream(conn) {
            return;
        }
        tracing::warn!(%error, "upstream connect failed");
        self.fetch_done(cx, None);
    }

    fn pause_producing(&mut self, _cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
        if let Some(sender) = self.sending.get_mut(&conn) {
            sender.pause();
        }
    }

    fn resume_producing(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
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

    fn stop_producing(&mut self, _cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
        self.sending.remove(&conn);
    }
}
